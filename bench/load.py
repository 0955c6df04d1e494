"""Load generator: the served model against the same ONNX model run in process.

    python bench/load.py --model-repository DIR --model resnet18 --batch 8 --concurrency 16

Starts the server on DIR (or uses --url), drives it with N concurrent tritonclient clients
for a fixed duration, then runs the model's ONNX file in this process with bare ONNX
Runtime for the same duration, and prints throughput, p50/p99 latency and their ratio,
all measured in this one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc.aio as triton_aio
from tritonclient.utils import np_to_triton_dtype, triton_to_np_dtype

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.server import running_server  # noqa: E402

log = logging.getLogger("bench")


@dataclass
class Result:
    name: str
    requests: int
    items: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.items / self.seconds


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    values = np.array(latencies) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def make_inputs(metadata, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs shaped as the model's metadata says, with a batch of `batch`."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for tensor in metadata.inputs:
        shape = [batch if i == 0 else (d if d > 0 else 32) for i, d in enumerate(tensor.shape)]
        dtype = triton_to_np_dtype(tensor.datatype)
        if np.issubdtype(dtype, np.integer):
            arrays[tensor.name] = rng.integers(0, 255, shape).astype(dtype)
        else:
            arrays[tensor.name] = rng.random(shape).astype(dtype)
    return arrays


async def drive_server(url: str, model: str, inputs: dict[str, np.ndarray], concurrency: int,
                       duration: float, warmup: float) -> Result:
    latencies: list[float] = []
    items = 0
    batch = next(iter(inputs.values())).shape[0]
    async with triton_aio.InferenceServerClient(url) as client:
        tensors = []
        for name, array in inputs.items():
            tensor = triton_aio.InferInput(name, list(array.shape),
                                           np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)

        async def worker(until: float, record: bool):
            nonlocal items
            while time.perf_counter() < until:
                start = time.perf_counter()
                await client.infer(model, tensors)
                if record:
                    latencies.append(time.perf_counter() - start)
                    items += batch

        await asyncio.gather(*(worker(time.perf_counter() + warmup, False)
                               for _ in range(concurrency)))
        start = time.perf_counter()
        await asyncio.gather(*(worker(start + duration, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Result("server", len(latencies), items, elapsed, *_percentiles(latencies))


def drive_in_process(onnx_path: Path, inputs: dict[str, np.ndarray], threads: int,
                     duration: float, warmup: float, providers: list[str]) -> Result:
    if "CUDAExecutionProvider" in providers and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA libraries installed as pip packages
    session = ort.InferenceSession(str(onnx_path), providers=providers)
    if session.get_providers()[0] != providers[0]:
        raise SystemExit(f"the in-process baseline asked for {providers[0]} but runs on "
                         f"{session.get_providers()[0]}; it would not be a fair comparison")
    latencies: list[float] = []
    lock = threading.Lock()
    batch = next(iter(inputs.values())).shape[0]

    def worker(until: float, record: bool):
        while time.perf_counter() < until:
            start = time.perf_counter()
            session.run(None, inputs)
            if record:
                with lock:
                    latencies.append(time.perf_counter() - start)

    for until, record in ((time.perf_counter() + warmup, False), (None, True)):
        begin = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(until or begin + duration, record))
                for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    elapsed = time.perf_counter() - begin
    return Result(f"onnxruntime in process ({threads} thread{'s' * (threads > 1)})",
                  len(latencies), len(latencies) * batch, elapsed, *_percentiles(latencies))


def report(server: Result, bare: Result, args) -> None:
    print(f"model {args.model}, batch {args.batch}, concurrency {args.concurrency}, "
          f"{args.duration:.0f} s each")
    print(f"{'':38} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}")
    for result in (server, bare):
        print(f"{result.name:38} {result.throughput:9.1f} {result.p50_ms:8.1f} "
              f"{result.p99_ms:8.1f} {result.requests:9d}")
    print(f"served / in-process throughput: {server.throughput / bare.throughput:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, required=True,
                        help="repository holding the model (the in-process run reads it too)")
    parser.add_argument("--model", required=True, help="model name in the repository")
    parser.add_argument("--url", help="a running server's gRPC address; default: start one")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=8, help="items per request")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--in-process-threads", type=int, default=1,
                        help="threads calling the bare session (default 1: ONNX Runtime "
                        "already uses every core inside one run)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra flag for the started server (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def served(url: str):
        async with triton_aio.InferenceServerClient(url) as client:
            metadata = await client.get_model_metadata(args.model)
        inputs = make_inputs(metadata, args.batch)
        result = await drive_server(url, args.model, inputs, args.concurrency, args.duration,
                                    args.warmup)
        return inputs, result

    if args.url:
        inputs, server = asyncio.run(served(args.url))
    else:
        with running_server(args.model_repository, "--device", args.device,
                            *args.server_arg) as running:
            log.info("server started on %s", running.grpc_url)
            inputs, server = asyncio.run(served(running.grpc_url))
    versions = sorted((args.model_repository / args.model).glob("[0-9]*/model.onnx"),
                      key=lambda p: int(p.parent.name))
    providers = (["CUDAExecutionProvider"] if args.device == "cuda" else []) + [
        "CPUExecutionProvider"]
    bare = drive_in_process(versions[-1], inputs, args.in_process_threads, args.duration,
                            args.warmup, providers)
    report(server, bare, args)
    if args.json:
        args.json.write_text(json.dumps({
            "server": asdict(server) | {"throughput": server.throughput},
            "in_process": asdict(bare) | {"throughput": bare.throughput},
            "ratio": server.throughput / bare.throughput, "batch": args.batch,
            "concurrency": args.concurrency}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
