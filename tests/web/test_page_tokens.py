"""The demo page on a server locked with tokens: the page's shell loads, asks for a token, and
then every request (and the live camera's WebSocket) carries it."""

from __future__ import annotations

import pytest

from tests.support.server import running_server
from tests.web.conftest import ZOO
from tests.web.media import write_y4m
from tests.web.test_page import CHROMIUM, FLAGS, Session, bar_names

TOKEN = "page-token-0123456789abcdef"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    token_file.write_text(f"{TOKEN} infer\n")
    with running_server(ZOO, "--model-control-mode", "explicit", "--load-model",
                        "lenet5_mnist", "--token-file", str(token_file)) as server:
        yield server


@pytest.fixture(scope="module")
def browser(locked_server, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; 'make system-packages' installs it "
                    "(as root)")
    from playwright.sync_api import sync_playwright

    digits = [ZOO / "samples" / "lenet5_mnist" / f"digit_{n}.png" for n in (7, 1)]
    video = write_y4m(digits, tmp_path_factory.mktemp("camera") / "digits.y4m")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=FLAGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                          f"--use-file-for-fake-video-capture={video}"])
        yield browser
        browser.close()


def test_the_page_asks_for_a_token_and_then_sends_it(browser, locked_server):
    context = browser.new_context(permissions=["camera"])
    session = Session(context.new_page(), locked_server.http_url)
    page = session.page
    page.goto(f"{locked_server.http_url}/#classify")
    page.wait_for_selector("#token-form:not([hidden])")
    assert "needs a token" in page.inner_text("#error")
    session.expected_failures += 2  # /tasks and /samples answered 401

    page.fill("#token", TOKEN)
    page.click("#token-form button")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    session.click_sample({"model": "lenet5_mnist", "name": "digit_7.png"})
    assert bar_names(session)[0] == "7"

    page.click("#camera")  # the WebSocket carries the token as its subprotocol
    page.wait_for_function(
        "Number(document.getElementById('output').dataset.frames || 0) >= 3", timeout=60_000)
    assert page.is_hidden("#error")
    page.click("#camera")
    context.close()
    assert session.unexpected_console_errors() == []
