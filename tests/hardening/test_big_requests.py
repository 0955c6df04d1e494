"""Big requests are checked against the model before they are decoded, and decoded off the
event loop: health keeps answering while they are handled."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.hardening.conftest import TOTAL

TYPED_VALUES = 31_000_000  # the case: 1.35 s of frozen health before the fix
BYTES_ELEMENTS = 10_000_000  # 40 MB of BYTES framing: 3.4 s frozen before the fix
FROZEN_SHARE = 0.5
"""The longest health answer may take at most this share of the big request's own time: when
decoding blocked the event loop, health waited for (nearly) all of it; now only for gRPC's
parsing of the message. A share, not seconds, so that a loaded machine slows both alike."""
REFUSAL_FREEZE_S = 1.5
"""A request refused from its header freezes health only while gRPC parses it (0.3 s here);
decoding its 10 M elements first froze health for 3.4 s (3.6 s on a loaded 2-core machine)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, for building messages too big to build as objects."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _typed_ones_request(count: int) -> bytes:
    """ModelInferRequest to `total` with `count` INT64 ones in int64_contents (packed)."""
    header = service_pb2.ModelInferRequest.InferInputTensor(name="x", datatype="INT64",
                                                           shape=[count]).SerializeToString()
    tensor = header + _field(5, _field(3, b"\x01" * count))  # contents.int64_contents
    return service_pb2.ModelInferRequest(model_name=TOTAL).SerializeToString() + _field(5, tensor)


def _bytes_request(count: int) -> bytes:
    request = service_pb2.ModelInferRequest(model_name=TOTAL)
    request.inputs.add(name="x", datatype="BYTES", shape=[count])
    request.raw_input_contents.append(b"\x00\x00\x00\x00" * count)
    return request.SerializeToString()


class _HealthProbe(threading.Thread):
    """Calls ServerLive back to back and keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.slowest, self.calls = url, 0.0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        with grpc.insecure_channel(self.url) as channel:
            live = service_pb2_grpc.GRPCInferenceServiceStub(channel).ServerLive
            live(service_pb2.ServerLiveRequest())
            while not self.stop.is_set():
                start = time.monotonic()
                live(service_pb2.ServerLiveRequest(), timeout=30)
                self.slowest = max(self.slowest, time.monotonic() - start)
                self.calls += 1
                time.sleep(0.005)


def _infer(server, payload: bytes) -> service_pb2.ModelInferResponse | grpc.RpcError:
    """Send a serialized ModelInferRequest; the response, or the error."""
    with grpc.insecure_channel(server.grpc_url, options=[
            ("grpc.max_send_message_length", 512 << 20)]) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                    request_serializer=lambda raw: raw,
                                    response_deserializer=service_pb2.ModelInferResponse.FromString)
        try:
            return infer(payload, timeout=120)
        except grpc.RpcError as error:
            return error


def _send_while_probing(server, payload: bytes):
    probe = _HealthProbe(server.grpc_url)
    probe.start()
    time.sleep(0.1)
    start = time.monotonic()
    outcome = _infer(server, payload)
    took = time.monotonic() - start
    probe.stop.set()
    probe.join()
    assert probe.calls > 1
    print(f"request {took:.2f} s, slowest health answer {probe.slowest:.2f} s")
    return outcome, probe.slowest, took


def test_typed_contents_are_decoded_off_the_event_loop(server):
    outcome, slowest, took = _send_while_probing(server, _typed_ones_request(TYPED_VALUES))
    assert not isinstance(outcome, grpc.RpcError), outcome
    total = np.frombuffer(outcome.raw_output_contents[0], np.int64)
    assert total.tolist() == [TYPED_VALUES]
    assert slowest < FROZEN_SHARE * took


def test_wrong_datatype_is_refused_before_decoding(server):
    outcome, slowest, _ = _send_while_probing(server, _bytes_request(BYTES_ELEMENTS))
    assert isinstance(outcome, grpc.RpcError)
    assert outcome.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be INT64, got BYTES" in outcome.details()
    assert slowest < REFUSAL_FREEZE_S


@pytest.fixture(autouse=True)
def _serving_after(server):
    yield
    assert server.process.poll() is None
    outcome = _infer(server, _typed_ones_request(3))
    assert np.frombuffer(outcome.raw_output_contents[0], np.int64).tolist() == [3]
