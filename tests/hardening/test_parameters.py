"""`priority` and `timeout` are honoured as tritonclient sends them (uint64), as int64 and as
strings; a wrongly typed one is INVALID_ARGUMENT."""

from __future__ import annotations

import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.hardening.conftest import SLOW

QUEUED = 20


def _slow_input(items: int) -> list[triton.InferInput]:
    x = triton.InferInput("x", [items, 64, 1024], "FP32")
    x.set_data_from_numpy(np.ones((items, 64, 1024), np.float32))
    return [x]


def _pending(server) -> float:
    text = urllib.request.urlopen(server.http_url + "/metrics").read().decode()
    prefix = f'striate_inference_pending_request_count{{model="{SLOW}",version="1"}} '
    line = next((line for line in text.splitlines() if line.startswith(prefix)), None)
    return float(line.split()[-1]) if line else 0.0


def _wait_until_pending(server, count: int) -> None:
    deadline = time.monotonic() + 60
    while _pending(server) < count:
        assert time.monotonic() < deadline, f"the server never had {count} requests pending"
        time.sleep(0.005)


def test_tritonclient_priority_overtakes_the_queue(server):
    finished: list[str] = []
    lock = threading.Lock()

    def done(tag):
        def callback(result, error):
            with lock:
                finished.append(tag if error is None else f"{tag} failed: {error}")
        return callback

    with triton.InferenceServerClient(server.grpc_url) as client:
        client.async_infer(SLOW, _slow_input(32), done("blocker"))
        _wait_until_pending(server, 1)
        for index in range(QUEUED):
            client.async_infer(SLOW, _slow_input(1), done(f"plain {index}"))
        _wait_until_pending(server, 1 + QUEUED)
        client.async_infer(SLOW, _slow_input(1), done("urgent"), priority=1)
        deadline = time.monotonic() + 120
        while len(finished) < QUEUED + 2:
            assert time.monotonic() < deadline, f"requests never finished: {finished}"
            time.sleep(0.01)
    assert not [tag for tag in finished if "failed" in tag]
    # at most the blocker and one plain request (already running) finish before it
    assert finished.index("urgent") <= 2, finished


def _request_with(key: str, **param) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="easyvqa")
    request.inputs.add(name="image", datatype="UINT8", shape=[1, 64, 64, 3])
    request.inputs.add(name="question", datatype="INT64", shape=[1, 12])
    request.raw_input_contents.extend([bytes(64 * 64 * 3), np.ones(12, np.int64).tobytes()])
    for name, value in param.items():
        setattr(request.parameters[key], name, value)
    return request


@pytest.mark.parametrize("key", ["priority", "timeout"])
@pytest.mark.parametrize("param", [{"bool_param": True}, {"double_param": 1.5},
                                   {"string_param": "soon"}])
def test_wrongly_typed_parameter_is_invalid_argument(server, key, param):
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.ModelInfer(_request_with(key, **param))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"'{key}' parameter must be a whole number" in error.value.details()
        stub.ModelInfer(_request_with(key, string_param="5000000"))
        stub.ModelInfer(_request_with(key, int64_param=5000000))
