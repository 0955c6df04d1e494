"""Transport limits: messages that do not parse are INVALID_ARGUMENT with a sentence, on
every kind of RPC, and the server serves on."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.hardening.test_batch_isolation import _vqa_inputs

NOT_PROTOBUF = b"\xff\xff\xff\xff"
NOT_UTF8_NAME = b"\x0a\x02\xff\xfe"  # field 1 (a string) holding bytes that are not UTF-8

UNARY_METHODS = ["/inference.GRPCInferenceService/ModelInfer",
                 "/inference.GRPCInferenceService/ModelMetadata",
                 "/striate.tasks.v1.TaskService/Classify"]


@pytest.fixture(autouse=True)
def _serving_after(server):
    yield
    assert server.process.poll() is None
    with triton.InferenceServerClient(server.grpc_url) as client:
        assert client.infer("easyvqa", _vqa_inputs(np.ones(12, np.int64))) is not None


def _raw(channel: grpc.Channel, method: str, kind: str = "unary_unary"):
    return getattr(channel, kind)(method, request_serializer=lambda raw: raw,
                                  response_deserializer=lambda raw: raw)


def _assert_clear_refusal(error: grpc.RpcError) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid" in error.details()
    assert "<class" not in error.details() and "Error" not in error.details()


@pytest.mark.parametrize("payload", [NOT_PROTOBUF, NOT_UTF8_NAME], ids=["bytes", "utf8"])
@pytest.mark.parametrize("method", UNARY_METHODS)
def test_malformed_request_is_invalid_argument(server, method, payload):
    with grpc.insecure_channel(server.grpc_url) as channel:
        with pytest.raises(grpc.RpcError) as error:
            _raw(channel, method)(payload, timeout=30)
    _assert_clear_refusal(error.value)


def test_malformed_stream_message_is_invalid_argument(server):
    with grpc.insecure_channel(server.grpc_url) as channel:
        stream = _raw(channel, "/inference.GRPCInferenceService/ModelStreamInfer",
                      "stream_stream")
        with pytest.raises(grpc.RpcError) as error:
            list(stream(iter([NOT_PROTOBUF]), timeout=30))
    _assert_clear_refusal(error.value)
