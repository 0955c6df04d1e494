"""Load generator: Striate against a bare grpc.aio server and in-process ONNX Runtime.

    python bench/load.py --model-repository DIR --model mobilenet_v3_small resnet18 \
        --scenarios c1b1,c4b1,c16b1,c4b8 --duration 10 --runs 3

A scenario `cCbB` is C closed-loop tritonclient clients, each sending batch-B requests. For
every model and scenario, one after the other in this one run: Striate (a real server process
on DIR), the bare server of bench/bare_server.py (grpc.aio + ONNX Runtime, no batching: the
floor any Python gRPC server pays), and the model's ONNX file run in this process by bare
ONNX Runtime (one thread calling it). It prints items/s, p50/p99 latency, served/in-process
and served/bare ratios, and the batch sizes Striate's scheduler formed (from its statistics).
With --runs N every cell is the median of N runs; with --slices K each measurement is taken in
K slices, the three taking turns, so that load from other jobs hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc.aio as triton_aio
from tritonclient.utils import np_to_triton_dtype, triton_to_np_dtype

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from service.launch import running_server  # noqa: E402

log = logging.getLogger("bench")
BENCH = Path(__file__).resolve().parent
SLICE_WARMUP_S = 0.3  # clients reconnect for every slice; let the closed loop settle


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


@dataclass
class Sample:
    """One stretch of measurement: each request's latency, items served, seconds taken."""

    latencies: list[float]
    items: int
    seconds: float


def merged(name: str, samples: list[Sample]) -> Result:
    """The samples of one measurement, taken in slices, as one result."""
    latencies = [v for sample in samples for v in sample.latencies]
    return Result(name, len(latencies), sum(s.items for s in samples),
                  sum(s.seconds for s in samples), *_percentiles(latencies))


@dataclass
class Cell:
    """One model and scenario: the three measurements and the batches Striate formed."""

    model: str
    scenario: str
    striate: Result
    bare: Result
    in_process: Result
    batches: dict[int, int] = field(default_factory=dict)  # batch size -> executions
    queue_ms: float = 0.0  # mean time a request waited in Striate's queue

    @property
    def mean_batch(self) -> float:
        executions = sum(self.batches.values())
        return sum(s * n for s, n in self.batches.items()) / executions if executions else 0.0


def parse_scenario(text: str) -> tuple[int, int]:
    """'c16b1' -> (16 clients, batch 1)."""
    clients, _, batch = text.lower().removeprefix("c").partition("b")
    return int(clients), int(batch)


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


def infer_inputs(inputs: dict[str, np.ndarray]) -> list[triton_aio.InferInput]:
    """The arrays as tritonclient's request tensors, raw (no shared memory)."""
    tensors = []
    for input_name, array in inputs.items():
        tensor = triton_aio.InferInput(input_name, list(array.shape),
                                       np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


async def drive_server(url: str, model: str, inputs: dict[str, np.ndarray],
                       concurrency: int, duration: float, warmup: float) -> Sample:
    latencies: list[float] = []
    items = 0
    batch = next(iter(inputs.values())).shape[0]
    tensors = infer_inputs(inputs)
    async with triton_aio.InferenceServerClient(url) as client:
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
    return Sample(latencies, items, elapsed)


def drive_in_process(session: ort.InferenceSession, inputs: dict[str, np.ndarray],
                     threads: int, duration: float, warmup: float) -> Sample:
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
    return Sample(latencies, len(latencies) * batch, time.perf_counter() - begin)


async def server_counts(url: str, model: str) -> Counter:
    """Executions per batch size so far, and the queue's request count and nanoseconds (keys
    'queue_count', 'queue_ns'), from the server's statistics."""
    async with triton_aio.InferenceServerClient(url) as client:
        stats = (await client.get_inference_statistics(model)).model_stats[0]
    counts = Counter({b.batch_size: b.compute_infer.count for b in stats.batch_stats})
    counts["queue_count"] = stats.inference_stats.queue.count
    counts["queue_ns"] = stats.inference_stats.queue.ns
    return counts


@contextmanager
def bare_server(onnx_path: Path, device: str, timeout: float = 120) -> Iterator[str]:
    """bench/bare_server.py on `onnx_path` until the block ends; yields its gRPC address."""
    with tempfile.TemporaryDirectory(prefix="bare-server-") as tmp:
        ready = Path(tmp) / "ready.json"
        process = subprocess.Popen([sys.executable, str(BENCH / "bare_server.py"), "--model",
                                    str(onnx_path), "--device", device, "--ready-file",
                                    str(ready)])
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the bare server on {onnx_path} did not start")
                time.sleep(0.05)
            yield f"127.0.0.1:{json.loads(ready.read_text())['grpc_port']}"
        finally:
            process.terminate()
            process.wait(30)


def model_file(repository: Path, model: str) -> Path:
    versions = sorted((repository / model).glob("[0-9]*/model.onnx"),
                      key=lambda p: int(p.parent.name))
    if not versions:
        raise SystemExit(f"{repository / model} has no <version>/model.onnx")
    return versions[-1]


def providers(device: str) -> list[str]:
    return (["CUDAExecutionProvider"] if device == "cuda" else []) + ["CPUExecutionProvider"]


def in_process_session(onnx_path: Path, device: str) -> ort.InferenceSession:
    if device == "cuda" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA libraries installed as pip packages
    session = ort.InferenceSession(str(onnx_path), providers=providers(device))
    if session.get_providers()[0] != providers(device)[0]:
        raise SystemExit(f"the in-process baseline asked for {providers(device)[0]} but runs "
                         f"on {session.get_providers()[0]}; it would not be a fair comparison")
    return session


def measure_model(striate_url: str, repository: Path, model: str, args) -> list[Cell]:
    onnx_path = model_file(repository, model)
    session = in_process_session(onnx_path, args.device)

    async def metadata():
        async with triton_aio.InferenceServerClient(striate_url) as client:
            return await client.get_model_metadata(model)

    meta = asyncio.run(metadata())
    cells = []
    with bare_server(onnx_path, args.device) as bare_url:
        for scenario in args.scenarios:
            clients, batch = parse_scenario(scenario)
            inputs = make_inputs(meta, batch)
            striate, bare, local = [], [], []
            formed: Counter = Counter()
            for index in range(args.slices):
                warmup = args.warmup if index == 0 else min(args.warmup, SLICE_WARMUP_S)
                length = args.duration / args.slices
                before = asyncio.run(server_counts(striate_url, model))
                striate.append(asyncio.run(drive_server(striate_url, model, inputs, clients,
                                                        length, warmup)))
                formed.update(asyncio.run(server_counts(striate_url, model)) - before)
                bare.append(asyncio.run(drive_server(bare_url, model, inputs, clients, length,
                                                     warmup)))
                local.append(drive_in_process(session, inputs, args.in_process_threads, length,
                                              warmup))
            queued, queue_ns = formed.pop("queue_count", 0), formed.pop("queue_ns", 0)
            cell = Cell(model, scenario, merged("striate", striate),
                        merged("bare grpc.aio", bare), merged("in process", local),
                        dict(sorted(formed.items())), queue_ns / max(1, queued) / 1e6)
            log.info("%s", format_row(cell))
            cells.append(cell)
    return cells


def median_cell(runs: list[Cell]) -> Cell:
    """Each measurement's median over runs (throughput and latencies taken independently)."""
    def median(results: list[Result]) -> Result:
        return Result(results[0].name,
                      int(statistics.median(r.requests for r in results)),
                      int(statistics.median(r.throughput for r in results) * 1000), 1000.0,
                      statistics.median(r.p50_ms for r in results),
                      statistics.median(r.p99_ms for r in results))

    batches: Counter = Counter()
    for cell in runs:
        batches.update(cell.batches)
    return Cell(runs[0].model, runs[0].scenario, median([c.striate for c in runs]),
                median([c.bare for c in runs]), median([c.in_process for c in runs]),
                dict(sorted(batches.items())), statistics.median(c.queue_ms for c in runs))


HEADER = (f"{'model':<20} {'scenario':<7} {'striate/s':>9} {'bare/s':>8} {'in-proc/s':>9} "
          f"{'/in-proc':>8} {'/bare':>6} {'p50 ms':>7} {'bare p50':>8} {'p99 ms':>7} "
          f"{'bare p99':>8} {'mean batch':>10} {'queue ms':>8}")


def format_row(cell: Cell) -> str:
    s, b, i = cell.striate, cell.bare, cell.in_process
    return (f"{cell.model:<20} {cell.scenario:<7} {s.throughput:9.1f} {b.throughput:8.1f} "
            f"{i.throughput:9.1f} {s.throughput / i.throughput:8.2f} "
            f"{s.throughput / b.throughput:6.2f} {s.p50_ms:7.2f} {b.p50_ms:8.2f} "
            f"{s.p99_ms:7.2f} {b.p99_ms:8.2f} {cell.mean_batch:10.2f} {cell.queue_ms:8.2f}")


def report(cells: list[Cell]) -> None:
    print(HEADER)
    for cell in cells:
        print(format_row(cell))
    print("\nbatch sizes Striate formed (size: executions)")
    for cell in cells:
        shown = ", ".join(f"{size}: {count}" for size, count in cell.batches.items())
        print(f"{cell.model:<20} {cell.scenario:<7} {shown}")


def measure_all(url: str, args) -> list[list[Cell]]:
    return [[cell for model in args.model
             for cell in measure_model(url, args.model_repository, model, args)]
            for _ in range(args.runs)]


def as_json(cell: Cell) -> dict:
    clients, batch = parse_scenario(cell.scenario)
    measured = {name: asdict(result) | {"throughput": result.throughput}
                for name, result in (("striate", cell.striate), ("bare", cell.bare),
                                     ("in_process", cell.in_process))}
    return {"model": cell.model, "scenario": cell.scenario, "clients": clients, "batch": batch,
            **measured, "batches": cell.batches, "mean_batch": cell.mean_batch}


def markdown(cells: list[Cell]) -> str:
    """The README's table: one row per model and scenario."""
    lines = ["| model | scenario | Striate img/s | bare gRPC img/s | in process img/s | "
             "Striate / in process | Striate / bare | p50 ms Striate / bare | "
             "p99 ms Striate / bare | mean batch | mean queue ms |", "|" + "---|" * 11]
    for c in cells:
        s, b, i = c.striate, c.bare, c.in_process
        lines.append(f"| {c.model} | {c.scenario} | {s.throughput:.0f} | {b.throughput:.0f} | "
                     f"{i.throughput:.0f} | {s.throughput / i.throughput:.2f} | "
                     f"{s.throughput / b.throughput:.2f} | {s.p50_ms:.2f} / {b.p50_ms:.2f} | "
                     f"{s.p99_ms:.1f} / {b.p99_ms:.1f} | {c.mean_batch:.1f} | "
                     f"{c.queue_ms:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, required=True,
                        help="repository holding the models (the other two runs read it too)")
    parser.add_argument("--model", nargs="+", required=True, help="model names to measure")
    parser.add_argument("--url", help="a running Striate server's gRPC address; default: start "
                        "one on --model-repository")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--scenarios", default="c1b1,c4b1,c16b1,c4b8",
                        help="comma-separated cCbB: C clients sending batch-B requests")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--runs", type=int, default=1, help="repeat; report each cell's median")
    parser.add_argument("--slices", type=int, default=1,
                        help="measure in this many slices, taking turns (Striate, bare, in "
                        "process), so that background load drifting during a run hits all "
                        "three alike")
    parser.add_argument("--in-process-threads", type=int, default=1,
                        help="threads calling the bare session (default 1: ONNX Runtime "
                        "already uses every core inside one run)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra flag for the started Striate server (repeatable)")
    parser.add_argument("--json", type=Path, help="also write every run's results here")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for scenario in args.scenarios:
        parse_scenario(scenario)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%s, %d cores, load average %s", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             os.cpu_count(), " ".join(f"{v:.2f}" for v in os.getloadavg()))
    log.info("%s", HEADER)

    if args.url:
        runs = measure_all(args.url, args)
    else:
        with running_server(args.model_repository, "--device", args.device,
                            *args.server_arg) as running:
            runs = measure_all(running.grpc_url, args)
    cells = [median_cell(list(same)) for same in zip(*runs)]
    print(f"\nmedian of {args.runs} run(s), {args.duration:.0f} s per measurement, load average "
          f"after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    report(cells)
    print()
    print(markdown(cells))
    if args.json:
        args.json.write_text(json.dumps({"median": [as_json(c) for c in cells],
                                         "runs": [[as_json(c) for c in run] for run in runs]},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
