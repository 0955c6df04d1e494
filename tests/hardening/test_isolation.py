"""With --model-isolation process, a model whose worker process dies (as ONNX Runtime's
native aborts kill it) fails only its in-flight request, UNAVAILABLE; the worker restarts and
the other models serve on."""

from __future__ import annotations

import os
import re
import signal
import threading

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.hardening.conftest import SLOW, ZOO
from tests.hardening.test_batch_isolation import _vqa_inputs
from tests.hardening.test_parameters import _slow_input, _wait_until_pending
from tests.support.server import running_server


@pytest.fixture(scope="module")
def isolated_server(hardening_repository):
    with running_server(hardening_repository, "--model-isolation", "process") as server:
        yield server


def _worker_pid(server, model: str) -> int:
    found = re.findall(rf"model {model}/1/model\.onnx runs in worker process (\d+)", server.log())
    assert found, f"no worker process for {model} in the log"
    return int(found[-1])


def test_a_crashing_model_fails_only_its_own_request(isolated_server):
    server = isolated_server
    outcome: dict = {}

    def slow_request():
        with triton.InferenceServerClient(server.grpc_url) as own:
            try:
                outcome["result"] = own.infer(SLOW, _slow_input(32))
            except triton.InferenceServerException as error:
                outcome["error"] = error

    crashed = threading.Thread(target=slow_request)
    crashed.start()
    _wait_until_pending(server, 1)
    worker = _worker_pid(server, SLOW)
    os.kill(worker, signal.SIGABRT)  # what ONNX Runtime's abort() does to its process
    crashed.join(60)

    assert "error" in outcome, "the request on the crashed worker did not fail"
    assert outcome["error"].status() == "StatusCode.UNAVAILABLE"
    assert "crashed" in outcome["error"].message()
    assert server.process.poll() is None, "the server died with its worker"
    with triton.InferenceServerClient(server.grpc_url) as client:
        vqa = client.infer("easyvqa", _vqa_inputs(np.ones(12, np.int64)))
        assert vqa.as_numpy("probabilities").shape == (1, 13)
        again = client.infer(SLOW, _slow_input(1))  # the restarted worker
        assert again.as_numpy("y").shape == (1, 64, 1024)
    assert _worker_pid(server, SLOW) != worker


def test_isolated_models_answer_like_in_process_ones(isolated_server, server):
    question = np.arange(12, dtype=np.int64) % 5
    with triton.InferenceServerClient(isolated_server.grpc_url) as isolated, \
            triton.InferenceServerClient(server.grpc_url) as in_process:
        expected = in_process.infer("easyvqa", _vqa_inputs(question)).as_numpy("probabilities")
        got = isolated.infer("easyvqa", _vqa_inputs(question)).as_numpy("probabilities")
    np.testing.assert_array_equal(got, expected)


def test_a_real_onnx_runtime_abort_ends_only_the_worker():
    """The issue's reproducer, run past the server's own refusal: an empty token sequence makes
    ONNX Runtime abort() inside the captioner's decoder. In a worker, that is one failed call."""
    from service.errors import WorkerCrashed
    from service.runtime import RuntimeOptions
    from service.worker import WorkerRuntime

    runtime = WorkerRuntime(ZOO / "shapes_captioner_decoder" / "1" / "model.onnx",
                            RuntimeOptions())
    runtime.load()
    try:
        features = np.zeros((1, 128), np.float32)
        with pytest.raises(WorkerCrashed, match="SIGABRT"):
            runtime.infer({"features": features, "tokens": np.zeros((1, 0), np.int64)})
        logits = runtime.infer({"features": features, "tokens": np.ones((1, 3), np.int64)})
        assert logits["logits"].shape == (1, 3, 15)
    finally:
        runtime.unload()
