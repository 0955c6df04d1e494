"""The demo page in Firefox too (Debian's firefox-esr, headless, driven over WebDriver BiDi):
a sample of every task renders what the HTTP task API answers, with nothing in the console."""

from __future__ import annotations

import shutil

import pytest

from contract.protocol import striate_tasks_pb2 as pb
from tests.web.bidi import Firefox
from tests.web.test_page import api_answer, first_served_sample

KINDS = [f.name for f in pb.TaskRequest.DESCRIPTOR.oneofs_by_name["request"].fields]
# what each task's answer must put in the page's output, as text
SHOWN = {"classify": lambda a: a["classes"][0]["label"],
         "detect": lambda a: a["detections"][0]["label"] if a["detections"] else "nothing found",
         "segment": lambda a: a["shares"][0]["label"], "caption": lambda a: a["caption"],
         "answer_question": lambda a: a["answers"][0]["text"],
         "transcribe": lambda a: a["text"]}


@pytest.fixture(scope="module")
def firefox(zoo_server):
    if shutil.which("firefox-esr") is None:
        pytest.skip("Debian's firefox-esr is not installed; 'make system-packages' installs it "
                    "(as root)")
    with Firefox() as browser:
        yield browser


@pytest.mark.parametrize("kind", KINDS)
def test_a_sample_of_every_task_renders_in_firefox(firefox, zoo_server, kind):
    sample = first_served_sample(zoo_server, kind)
    firefox.open(f"{zoo_server.http_url}/#{kind}")
    firefox.wait_for("document.body.dataset.ready === 'true' && document.getElementById("
                     f"'tab-{kind}').getAttribute('aria-selected') === 'true'")
    firefox.evaluate("document.body.removeAttribute('data-result')")
    firefox.evaluate(f"""document.querySelector(
        '#gallery button[data-sample="{sample["model"]}/{sample["name"]}"]').click()""")
    state = firefox.wait_for("document.body.dataset.result !== 'busy' "
                             "&& document.body.dataset.result")
    assert state == "done", firefox.evaluate("document.getElementById('error').innerText")
    output = firefox.evaluate("document.getElementById('output').innerText")
    answer = api_answer(zoo_server, kind, sample)
    expected = SHOWN.get(kind, lambda a: "")(answer)
    assert output.strip() and expected in output
    assert firefox.evaluate("document.getElementById('canvas').width") > 0
    assert [entry for entry in firefox.log if entry.get("level") == "error"] == []
