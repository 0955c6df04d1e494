"""A second SIGTERM keeps the graceful path: the in-flight request finishes, the exit code is 0."""

from __future__ import annotations

import signal
import threading
import time

import tritonclient.grpc as triton

from tests.hardening.conftest import SLOW
from tests.hardening.test_parameters import _slow_input, _wait_until_pending
from tests.support.server import running_server


def _wait_for_log(server, text: str) -> None:
    deadline = time.monotonic() + 60
    while text not in server.log():
        assert time.monotonic() < deadline, f"the server never logged {text!r}"
        time.sleep(0.001)


def test_second_sigterm_during_shutdown_still_exits_cleanly(hardening_repository):
    with running_server(hardening_repository, "--model-control-mode", "explicit",
                        "--load-model", SLOW) as server:
        outcome: dict = {}

        def in_flight():
            with triton.InferenceServerClient(server.grpc_url) as client:
                outcome["shape"] = client.infer(SLOW, _slow_input(16)).as_numpy("y").shape

        request = threading.Thread(target=in_flight)
        request.start()
        _wait_until_pending(server, 1)
        server.process.send_signal(signal.SIGTERM)
        _wait_for_log(server, "service.server: stopped")
        server.process.send_signal(signal.SIGTERM)  # as the process winds down (was -15)
        assert server.process.wait(60) == 0, server.log()
        request.join(60)
    assert outcome.get("shape") == (16, 64, 1024)
