"""Every kind of bad request gets its status code and a sentence, and the server serves on."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.integration.helpers import assert_serving, infer, infer_input, wait_for_pending


def _error(call) -> triton.InferenceServerException:
    with pytest.raises(triton.InferenceServerException) as error:
        call()
    return error.value


@pytest.fixture()
def stub(server):
    with grpc.insecure_channel(server.grpc_url) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _raw_request(model, name, datatype, shape, raw: bytes):
    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name=name, datatype=datatype, shape=shape)
    request.raw_input_contents.append(raw)
    return request


def _status(stub, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(request)
    return error.value


def test_wrong_tensor_name(client):
    error = _error(lambda: infer(client, "scale_fp32", z=np.zeros((1, 4), np.float32)))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert "'z'" in error.message() and "'x'" in error.message()
    assert_serving(client)


def test_wrong_datatype(client):
    error = _error(lambda: infer(client, "scale_fp32", x=np.zeros((1, 4), np.int32)))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert "must be FP32, got INT32" in error.message()
    assert_serving(client)


def test_wrong_shape(client):
    error = _error(lambda: infer(client, "scale_fp32", x=np.zeros((1, 5), np.float32)))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert "[1, 5]" in error.message() and "[-1, 4]" in error.message()
    assert_serving(client)


def test_batch_too_large(client):
    error = _error(lambda: infer(client, "slow", x=np.zeros((5, 64, 1024), np.float32)))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert "batch size 5" in error.message()
    assert_serving(client)


def test_raw_byte_count_mismatch(stub, client):
    error = _status(stub, _raw_request("scale_fp32", "x", "FP32", [1, 4], b"\0" * 15))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "15 bytes" in error.details() and "needs 16" in error.details()
    assert_serving(client)


def test_bytes_framing_broken(stub, client):
    raw = (5).to_bytes(4, "little") + b"ab"  # claims 5 bytes, carries 2
    error = _status(stub, _raw_request("echo_bytes", "text", "BYTES", [1, 2], raw))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "4-byte little-endian length" in error.details()
    assert_serving(client)


def test_unknown_model_and_version(client):
    x = np.zeros((1, 4), np.float32)
    error = _error(lambda: infer(client, "no_such_model", x=x))
    assert error.status() == "StatusCode.NOT_FOUND"
    assert "no_such_model" in error.message()
    error = _error(lambda: client.infer("scale_fp32", [infer_input("x", x)], model_version="9"))
    assert error.status() == "StatusCode.NOT_FOUND"
    assert_serving(client)


def test_model_that_failed_to_load_is_unavailable(client):
    error = _error(lambda: infer(client, "broken", x=np.zeros((1, 4), np.float32)))
    assert error.status() == "StatusCode.UNAVAILABLE"
    assert "could not load" in error.message()
    assert_serving(client)


def test_unexpected_failure_is_internal_with_generic_message(server, client):
    x = np.arange(6, dtype=np.float32)
    error = _error(lambda: infer(client, "reshape", x=x, shape=np.array([4, 4], np.int64)))
    assert error.status() == "StatusCode.INTERNAL"
    assert "incident" in error.message() and "Reshape" not in error.message()
    incident = error.message().split("incident ")[1].split(")")[0]
    assert f"internal error (incident {incident})" in server.log()  # the traceback, by its id
    assert "Traceback" in server.log()
    ok = infer(client, "reshape", x=x, shape=np.array([2, 3], np.int64))
    np.testing.assert_array_equal(ok.as_numpy("y"), x.reshape(2, 3))


def test_full_queue_answers_resource_exhausted(server, client):
    # `slow` runs one batch of up to 4 at a time and queues at most 2 requests
    import concurrent.futures

    x = np.ones((4, 64, 1024), np.float32)

    def call():
        with triton.InferenceServerClient(server.grpc_url) as own:
            try:
                own.infer("slow", [infer_input("x", x)])
                return "ok"
            except triton.InferenceServerException as exc:
                return exc.status(), exc.message()

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda _: call(), range(12)))
    rejected = [o for o in outcomes if o != "ok"]
    assert outcomes.count("ok") >= 1
    assert rejected and all(o[0] == "StatusCode.RESOURCE_EXHAUSTED" for o in rejected)
    assert "queued" in rejected[0][1]
    assert_serving(client)


def test_expired_request_is_dropped_before_it_runs(server, client):
    import threading

    x = np.ones((4, 64, 1024), np.float32)
    wait_for_pending(server, "slow", lambda n: n == 0)  # earlier tests' requests are done
    before = client.get_inference_statistics("slow").model_stats[0]

    def block():
        with triton.InferenceServerClient(server.grpc_url) as own:
            infer(own, "slow", x=x)

    blocker = threading.Thread(target=block)
    blocker.start()
    wait_for_pending(server, "slow", lambda n: n >= 1)  # the blocker is in the server
    error = _error(lambda: client.infer("slow", [infer_input("x", x[:1])], client_timeout=0.05))
    assert error.status() == "StatusCode.DEADLINE_EXCEEDED"
    blocker.join()
    after = client.get_inference_statistics("slow").model_stats[0]
    # only the blocker ran: the expired request never reached the model
    assert after.inference_count - before.inference_count == 4
    assert after.execution_count - before.execution_count == 1
