"""What system shared memory saves a same-host client, against plain gRPC and HTTP requests.

    python bench/shm.py --batch 8 --requests 30 --rounds 5

One server process (a real `python -m service`) serves a model with ResNet-50's tensors
(input FP32 [batch, 3, 224, 224], output FP32 [batch, 1000]) and almost no compute (global
average pooling and a 3x1000 matrix), so the numbers are the transport's. One client sends
the same batches four ways: gRPC with the tensors in the message, gRPC with input and output
in registered system shared memory (the client copies each batch in and reads the output out,
both timed), and the same two over HTTP (binary tensors). The modes alternate in rounds in
this one run; each prints the median milliseconds per request, and the ratio to its plain
transport.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from service.launch import running_server  # noqa: E402
from toolchain import graphs  # noqa: E402

CLASSES = 1000


def resnet_shaped_model():
    """x FP32 [batch, 3, 224, 224] -> y FP32 [batch, 1000], nearly free to compute."""
    weight = np.random.default_rng(0).normal(size=(3, CLASSES)).astype(np.float32)
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["y"])]
    init = helper.make_tensor("w", TensorProto.FLOAT, [3, CLASSES], weight.ravel().tolist())
    return graphs.graph(nodes, [graphs.tensor("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                        [graphs.tensor("y", TensorProto.FLOAT, ["batch", CLASSES])], [init])


class Modes:
    """The four ways of sending one batch, each returning the output array."""

    def __init__(self, server, batch: np.ndarray) -> None:
        self.batch = batch
        self.grpc = grpcclient.InferenceServerClient(server.grpc_url)
        self.http = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        self.in_bytes = batch.nbytes
        self.out_bytes = batch.shape[0] * CLASSES * 4
        self.grpc.unregister_system_shared_memory()
        self.regions = []
        for name in ("in", "out"):
            size = self.in_bytes if name == "in" else self.out_bytes
            handle = shm.create_shared_memory_region(f"bench_{name}", f"/bench_{name}", size)
            self.regions.append(handle)
            self.grpc.register_system_shared_memory(f"bench_{name}", f"/bench_{name}", size)

    def close(self) -> None:
        self.grpc.unregister_system_shared_memory()
        for handle in self.regions:
            shm.destroy_shared_memory_region(handle)
        self.grpc.close()
        self.http.close()

    def plain(self, lib, client) -> np.ndarray:
        tensor = lib.InferInput("x", list(self.batch.shape), "FP32")
        if lib is httpclient:
            tensor.set_data_from_numpy(self.batch, binary_data=True)
            output = lib.InferRequestedOutput("y", binary_data=True)
        else:
            tensor.set_data_from_numpy(self.batch)
            output = lib.InferRequestedOutput("y")
        return client.infer("resnet_shaped", [tensor], outputs=[output]).as_numpy("y")

    def shared(self, lib, client) -> np.ndarray:
        shm.set_shared_memory_region(self.regions[0], [self.batch])
        tensor = lib.InferInput("x", list(self.batch.shape), "FP32")
        tensor.set_shared_memory("bench_in", self.in_bytes)
        output = lib.InferRequestedOutput("y")
        output.set_shared_memory("bench_out", self.out_bytes)
        client.infer("resnet_shaped", [tensor], outputs=[output])
        return shm.get_contents_as_numpy(self.regions[1], np.float32,
                                         [self.batch.shape[0], CLASSES]).copy()

    def all(self) -> dict:
        return {"gRPC": lambda: self.plain(grpcclient, self.grpc),
                "gRPC + shm": lambda: self.shared(grpcclient, self.grpc),
                "HTTP binary": lambda: self.plain(httpclient, self.http),
                "HTTP + shm": lambda: self.shared(httpclient, self.http)}


def measure(batch_size: int, requests: int, rounds: int) -> dict[str, float]:
    batch = np.random.default_rng(1).random((batch_size, 3, 224, 224), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        graphs.save(resnet_shaped_model(), Path(tmp), "resnet_shaped",
                    config=f"max_batch_size: {batch_size}\n")
        with running_server(Path(tmp), "--max-message-mb", "64") as server:
            modes = Modes(server, batch)
            try:
                calls = modes.all()
                expected = calls["gRPC"]()
                for name, call in calls.items():  # warm up, and check every mode agrees
                    np.testing.assert_allclose(call(), expected, rtol=1e-5, err_msg=name)
                times: dict[str, list[float]] = {name: [] for name in calls}
                for _ in range(rounds):
                    for name, call in calls.items():
                        for _ in range(requests):
                            start = time.perf_counter()
                            call()
                            times[name].append(time.perf_counter() - start)
            finally:
                modes.close()
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--requests", type=int, default=30, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ms = measure(args.batch, args.requests, args.rounds)
    megabytes = args.batch * 3 * 224 * 224 * 4 / 1e6
    print(f"batch {args.batch} ({megabytes:.1f} MB in, {args.batch * CLASSES * 4 / 1e3:.0f} kB "
          f"out), median ms per request over {args.rounds} x {args.requests}:")
    for name, value in ms.items():
        plain = ms["gRPC"] if name.startswith("gRPC") else ms["HTTP binary"]
        print(f"  {name:12s} {value:8.2f} ms   {plain / value:5.2f}x the plain transport")


if __name__ == "__main__":
    main()
