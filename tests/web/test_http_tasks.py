"""The HTTP task API answers as the gRPC task API does: the same JSON (protobuf's mapping of
the same response message) on every shipped sample, and the same sentences for bad input."""

from __future__ import annotations

import http.client
import json
import re
import urllib.request

import grpc
import pytest
from google.protobuf import json_format

from clients.samples import SampleCase, load_cases
from contract.protocol import striate_tasks_pb2 as pb
from contract.protocol import striate_tasks_pb2_grpc as pb_grpc
from service.tasks.handlers import TASK_OF_KIND
from tests.web.conftest import (
    MAX_MESSAGE_MB,
    SAMPLES,
    post_file,
    post_options,
    sample_path,
    send,
    served_models,
)

KIND_OF_TASK = {task: kind for kind, task in TASK_OF_KIND.items()}
SPEECH_CASES = 2  # Whisper takes seconds a recording: two are enough to compare transports


def _cases() -> list[SampleCase]:
    cases = []
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        found = load_cases(folder)
        cases += found[:SPEECH_CASES] if found and found[0].task == "speech" else found
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def stub(zoo_server):
    with grpc.insecure_channel(zoo_server.grpc_url) as channel:
        yield pb_grpc.TaskServiceStub(channel)


def grpc_call(stub, kind: str, request):
    method = pb.TaskRequest.DESCRIPTOR.fields_by_name[kind].message_type.name
    rpc = next(m.name for m in pb.DESCRIPTOR.services_by_name["TaskService"].methods
               if m.input_type.name == method)
    return getattr(stub, rpc)(request, timeout=120)


def grpc_request(kind: str, data: bytes, **fields):
    message_type = type(getattr(pb.TaskRequest(), kind))
    media = "audio" if kind == "transcribe" else "image"
    return message_type(**{media: data}, **fields)


def as_json(message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def test_every_task_of_the_grpc_api_has_an_http_route(zoo_server):
    with urllib.request.urlopen(f"{zoo_server.http_url}/openapi.json", timeout=30) as response:
        paths = json.loads(response.read())["paths"]
    grpc_kinds = [f.name for f in pb.TaskRequest.DESCRIPTOR.oneofs_by_name["request"].fields]
    assert {f"/tasks/{kind}" for kind in grpc_kinds} <= set(paths)
    for kind in grpc_kinds:
        post = paths[f"/tasks/{kind}"]["post"]
        assert "multipart/form-data" in post["requestBody"]["content"]
        assert post["responses"]["200"]["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.model}/{case.name}")
def test_http_answers_what_grpc_answers_on_the_samples(zoo_server, stub, case):
    if case.model not in served_models(zoo_server):
        pytest.skip(f"{case.model} is not in the repository: it is built, not shipped (make "
                    "test builds it; see the Makefile's model targets)")
    kind = KIND_OF_TASK[case.task]
    fields = {"model": case.model, **{k: str(v) for k, v in case.options.items()}}
    url = f"{zoo_server.http_url}/tasks/{kind}"
    if case.has_file:
        data = case.path.read_bytes()
        request = grpc_request(kind, data, model=case.model, **case.options)
        status, body, headers = post_file(url, data, case.path.name, fields)
    else:  # a game or a text: the options are the input
        request = type(getattr(pb.TaskRequest(), kind))(model=case.model, **case.options)
        status, body, headers = post_options(url, fields)
    expected = as_json(grpc_call(stub, kind, request))
    assert status == 200, body
    assert body == expected
    assert headers["server-timing"].startswith("task;dur=")


def test_the_body_alone_with_query_options_works_too(zoo_server, stub):
    data = sample_path("lenet5_mnist", "digit_3.png").read_bytes()
    request = urllib.request.Request(f"{zoo_server.http_url}/tasks/classify"
                                     "?model=lenet5_mnist&top_k=2",
                                     data=data, method="POST",
                                     headers={"Content-Type": "image/png"})
    status, body, _ = send(request)
    assert status == 200
    assert body == as_json(grpc_call(stub, "classify", grpc_request(
        "classify", data, model="lenet5_mnist", top_k=2)))
    assert [c["label"] for c in body["classes"]][0] == "3" and len(body["classes"]) == 2


BAD_INPUT = [
    ("detect", b"this is not a photo", {}),
    ("classify", b"\x89PNG\r\n\x1a\ntruncated", {}),
    ("classify", None, {"model": "no_such_model"}),
    ("classify", None, {"model": "blazeface_faces"}),
    ("answer_question", None, {"question": "why " * 400}),
    ("segment", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", {}),
    ("transcribe", b"RIFF\x24\x00\x00\x00WAVEfmt broken", {}),
]


@pytest.mark.parametrize("kind,data,fields", BAD_INPUT,
                         ids=["not-an-image", "truncated-png", "unknown-model",
                              "model-of-another-task", "question-too-long", "gif", "corrupt-wav"])
def test_bad_input_gets_the_same_sentence_and_the_matching_status(zoo_server, stub, kind, data,
                                                                   fields):
    if kind == "transcribe" and "whisper_tiny_en" not in served_models(zoo_server):
        pytest.skip("no speech model served (whisper_tiny_en is built by 'make speech-model')")
    data = data if data is not None else sample_path("lenet5_mnist", "digit_3.png").read_bytes()
    typed = {k: int(v) if v.isdigit() else v for k, v in fields.items()}
    with pytest.raises(grpc.RpcError) as refused:
        grpc_call(stub, kind, grpc_request(kind, data, **typed))
    status, body, _ = post_file(f"{zoo_server.http_url}/tasks/{kind}", data, "upload", fields)
    assert body == {"error": refused.value.details()}
    assert status == {grpc.StatusCode.INVALID_ARGUMENT: 400,
                      grpc.StatusCode.NOT_FOUND: 404}[refused.value.code()]


def test_http_only_mistakes_are_named(zoo_server):
    url = f"{zoo_server.http_url}/tasks/classify"
    data = sample_path("lenet5_mnist", "digit_3.png").read_bytes()
    status, body, _ = post_file(url, data, fields={"colour": "red"})
    assert status == 400
    assert body["error"] == "classify takes no option 'colour'; its options are model, " \
        "version, top_k"
    status, body, _ = post_file(url, data, fields={"top_k": "many"})
    assert (status, body["error"]) == (400, "option 'top_k' must be a whole number, not 'many'")
    status, body, _ = send(urllib.request.Request(url, data=b"", method="POST"))
    assert status == 400 and "multipart field named 'file'" in body["error"]


def test_a_body_over_the_limit_is_413_and_the_server_serves_on(zoo_server):
    """Refused from the declared length, before the body is sent (as curl sends big bodies:
    `Expect: 100-continue`)."""
    connection = http.client.HTTPConnection("127.0.0.1", zoo_server.http_port, timeout=30)
    connection.putrequest("POST", "/tasks/classify")
    connection.putheader("Content-Length", str(MAX_MESSAGE_MB * 1024 * 1024 + 1))
    connection.putheader("Expect", "100-continue")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "larger than the server accepts" in json.loads(response.read())["error"]
    connection.close()
    data = sample_path("lenet5_mnist", "digit_3.png").read_bytes()
    assert post_file(f"{zoo_server.http_url}/tasks/classify", data)[0] == 200


def test_samples_and_model_cards_for_the_page(zoo_server):
    status, listing, _ = send(urllib.request.Request(f"{zoo_server.http_url}/samples"))
    assert status == 200
    detect = [s for s in listing["samples"] if s["kind"] == "detect"]
    assert {s["file"] for s in detect} >= {"astronaut.jpg", "grace_hopper.jpg"}
    with urllib.request.urlopen(zoo_server.http_url + detect[0]["url"], timeout=30) as response:
        assert response.read() == sample_path(detect[0]["model"], detect[0]["file"]).read_bytes()
    status, card, _ = send(urllib.request.Request(
        f"{zoo_server.http_url}/models/shapes_segmenter/card"))
    assert status == 200
    assert card["title"].startswith("shapes_segmenter")
    assert card["license"].startswith("Apache-2.0")
    assert card["metrics"][0][0].startswith("mean IoU")
    for path in ("/samples/lenet5_mnist/..%2f..%2fREADME.md", "/samples/lenet5_mnist/nope.png",
                 "/static/..%2f..%2fserver.py"):
        status, body, _ = send(urllib.request.Request(zoo_server.http_url + path))
        assert status == 404 and body["error"]


def test_the_docs_page_needs_no_cdn(zoo_server):
    with urllib.request.urlopen(f"{zoo_server.http_url}/docs", timeout=30) as response:
        html = response.read().decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert assets and all(asset.startswith("/") for asset in assets), assets
    for asset in assets:
        with urllib.request.urlopen(zoo_server.http_url + asset, timeout=30) as response:
            assert response.status == 200 and response.read()


def test_live_frames_answer_the_newest_and_drop_the_stale(zoo_server):
    """Frames sent faster than the model answers do not queue: the frames that wait are
    replaced by newer ones, and the newest is always answered."""
    from websockets.sync.client import connect

    model = "shapes_captioner"
    old, new = (sample_path(model, name).read_bytes() for name in ("scene_0.png", "scene_1.png"))
    url = f"{zoo_server.http_url}/tasks/caption"
    _, expected_new, _ = post_file(url, new, fields={"model": model})
    _, expected_old, _ = post_file(url, old, fields={"model": model})
    assert expected_new["caption"] != expected_old["caption"]
    frames = [old] * 7 + [new]
    with connect(f"ws://127.0.0.1:{zoo_server.http_port}/tasks/caption/live?model={model}",
                 open_timeout=10) as websocket:
        for frame in frames:
            websocket.send(frame)
        answers = []
        while not answers or answers[-1] != expected_new["caption"]:
            answers.append(json.loads(websocket.recv(timeout=60))["result"]["caption"])
    assert len(answers) < len(frames), "every stale frame was answered"
    assert set(answers[:-1]) <= {expected_old["caption"]}
