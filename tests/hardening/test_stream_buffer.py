"""A stream client that never reads its answers stalls only itself: the server keeps a bounded
number of answers per stream, stops reading that stream's requests, and serves others."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.hardening.conftest import ECHO
from tests.hardening.test_media import _rss

ELEMENTS = 256 * 1024  # 1 MiB of FP32 in, 1 MiB out
REQUESTS = 400
BUFFER_BOUND = 200 << 20
"""The stream's window (64 answers of 1 MiB) plus gRPC's own buffers, well under the 400 MiB
of answers an unbounded server would hold."""


def _echo_request(index: int) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=ECHO, id=str(index))
    request.inputs.add(name="x", datatype="FP32", shape=[ELEMENTS])
    request.raw_input_contents.append(np.full(ELEMENTS, index, np.float32).tobytes())
    return request


def test_a_stream_that_never_reads_stalls_only_itself(server):
    sent = []

    def requests():
        for index in range(REQUESTS):
            sent.append(index)
            yield _echo_request(index)

    before = _rss(server.process.pid)["VmRSS"]
    channel = grpc.insecure_channel(server.grpc_url)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    stream = stub.ModelStreamInfer(requests())  # its answers are never read
    sender = threading.Thread(target=lambda: stream.initial_metadata(), daemon=True)
    sender.start()
    time.sleep(5)  # let the server take whatever it will take
    grown = _rss(server.process.pid)["VmRSS"] - before
    with grpc.insecure_channel(server.grpc_url) as other:
        answer = service_pb2_grpc.GRPCInferenceServiceStub(other).ModelInfer(_echo_request(7))
        assert np.frombuffer(answer.raw_output_contents[0], np.float32)[0] == 7
    stream.cancel()
    channel.close()
    print(f"stream: {len(sent)} requests taken, server RSS +{grown >> 20} MiB")
    assert len(sent) < REQUESTS, "the server read every request of a stream nobody reads"
    assert grown < BUFFER_BOUND
