"""Striate against other servers: PyTriton, MLServer, a bare grpc.aio server, in process.

    python bench/rivals.py --model-repository /tmp/bench --model mobilenet_v3_small \
        --pytriton-python /tmp/rivals-pt/bin/python \
        --mlserver-python /tmp/rivals-mls/bin/python --runs 2

The same ONNX file behind every server, the same closed-loop tritonclient load generator as
bench/load.py (gRPC, raw tensors), throughput in items/s and the single client's p50. PyTriton
(Triton's front end and dynamic batcher, 2 ms window, the Python function calling ONNX
Runtime) and MLServer (adaptive batching, max 2 ms, a custom ONNX Runtime model) run from their
own virtual environments, set up as bench/rivals/*.py say; a rival whose interpreter is not
given is left out. All servers are up at once and take turns, slice by slice, so that load
from other jobs hits them alike; with --runs N each run is printed and the median is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import load  # bench/load.py: the load generator, the bare server, in-process ONNX Runtime
import tritonclient.grpc as triton_grpc
from load import Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from service.launch import running_server  # noqa: E402

log = logging.getLogger("bench.rivals")
RIVALS = Path(__file__).resolve().parent / "rivals"
BATCH_WINDOW_US = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, model: str, process: subprocess.Popen, what: str,
                     timeout: float = 300) -> None:
    client = triton_grpc.InferenceServerClient(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.is_model_ready(model):
                return
        except Exception:  # not listening yet
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not become ready (exit code {process.poll()})")
        time.sleep(0.5)


@contextmanager
def started(command: list[str], url: str, model: str, what: str, **popen) -> Iterator[str]:
    """A rival server process until the block ends; yields its gRPC address once ready."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, **popen)
    try:
        wait_until_ready(url, model, process, what)
        log.info("%s ready on %s", what, url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def pytriton(python: str, onnx_path: Path, model: str, max_batch: int) -> Iterator[str]:
    port = free_port()
    command = [python, str(RIVALS / "pytriton_server.py"), "--onnx", str(onnx_path),
               "--name", model, "--grpc-port", str(port), "--http-port", str(free_port()),
               "--metrics-port", str(free_port()), "--max-batch", str(max_batch),
               "--delay-us", str(BATCH_WINDOW_US)]
    with started(command, f"127.0.0.1:{port}", model, "PyTriton") as url:
        yield url


@contextmanager
def mlserver(python: str, onnx_path: Path, model: str, max_batch: int) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mlserver-") as tmp:
        root = Path(tmp)
        (root / "settings.json").write_text(json.dumps({
            "grpc_port": port, "http_port": free_port(), "metrics_port": free_port(),
            "host": "127.0.0.1"}))
        (root / model).mkdir()
        (root / model / "model-settings.json").write_text(json.dumps({
            "name": model, "implementation": "mlserver_onnx.OnnxModel",
            "max_batch_size": max_batch, "max_batch_time": BATCH_WINDOW_US / 1e6,
            "parameters": {"uri": str(onnx_path)}}))
        mlserver_cli = str(Path(python).with_name("mlserver"))
        env = {**os.environ, "PYTHONPATH": str(RIVALS)}
        with started([mlserver_cli, "start", str(root)], f"127.0.0.1:{port}", model,
                     "MLServer", env=env, stderr=subprocess.DEVNULL) as url:
            yield url


def measure(drivers: dict[str, Callable[[float, float], object]], slices: int,
            duration: float, warmup: float) -> dict[str, Result]:
    """Every system in turn, slice by slice, on one scenario."""
    samples: dict[str, list] = {name: [] for name in drivers}
    for index in range(slices):
        for name, drive in drivers.items():
            samples[name].append(drive(duration / slices,
                                       warmup if index == 0 else load.SLICE_WARMUP_S))
    return {name: load.merged(name, taken) for name, taken in samples.items()}


def run_once(urls: dict[str, str], session, model: str, metadata, args) -> dict:
    """{scenario: {system: Result}} for one run."""
    results = {}
    for scenario in args.scenarios:
        clients, batch = load.parse_scenario(scenario)
        inputs = load.make_inputs(metadata, batch)
        drivers: dict[str, Callable[[float, float], object]] = {
            "in process": lambda length, warm, inputs=inputs: load.drive_in_process(
                session, inputs, 1, length, warm)}
        for name, url in urls.items():
            drivers[name] = (lambda length, warm, url=url, inputs=inputs, clients=clients:
                             asyncio.run(load.drive_server(url, model, inputs, clients, length,
                                                      warm)))
        results[scenario] = measure(drivers, args.slices, args.duration, args.warmup)
        log.info("%s %s", scenario, ", ".join(f"{name} {r.throughput:.0f}/s"
                                               for name, r in results[scenario].items()))
    return results


def table(runs: list[dict], scenarios: list[str]) -> str:
    """Rows: systems; columns: each scenario's items/s (every run, then the median) and the
    single client's p50."""
    systems = list(runs[0][scenarios[0]])
    lines = ["| img/s, each run (median) | " + " | ".join(scenarios) + " | c1b1 p50 ms |",
             "|---" * (len(scenarios) + 2) + "|"]
    for system in systems:
        cells = []
        for scenario in scenarios:
            values = [run[scenario][system].throughput for run in runs]
            cells.append(" / ".join(f"{v:.0f}" for v in values)
                         + f" ({statistics.median(values):.0f})")
        p50 = ([" / ".join(f"{run['c1b1'][system].p50_ms:.2f}" for run in runs)]
               if "c1b1" in scenarios else ["-"])
        lines.append(f"| {system} | " + " | ".join(cells + p50) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, required=True,
                        help="repository holding the model (every server reads its ONNX file)")
    parser.add_argument("--model", required=True, help="one model name in the repository")
    parser.add_argument("--pytriton-python", help="interpreter of a venv with PyTriton")
    parser.add_argument("--mlserver-python", help="interpreter of a venv with MLServer")
    parser.add_argument("--scenarios", default="c1b1,c4b1,c16b1,c4b8",
                        help="comma-separated cCbB: C clients sending batch-B requests")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds before measuring")
    parser.add_argument("--runs", type=int, default=2, help="repeat; the table shows each run "
                        "and the median")
    parser.add_argument("--slices", type=int, default=2,
                        help="measure in this many slices, the systems taking turns")
    parser.add_argument("--max-batch", type=int, default=16,
                        help="the rivals' max batch size (Striate reads the model's config)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra flag for the Striate server (repeatable)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%s, %d cores, load average %s", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             os.cpu_count(), " ".join(f"{v:.2f}" for v in os.getloadavg()))

    onnx_path = load.model_file(args.model_repository, args.model)
    session = load.in_process_session(onnx_path, "cpu")
    with ExitStack() as stack:
        striate = stack.enter_context(running_server(args.model_repository, *args.server_arg))
        urls = {"Striate": striate.grpc_url}
        if args.pytriton_python:
            urls["PyTriton"] = stack.enter_context(
                pytriton(args.pytriton_python, onnx_path, args.model, args.max_batch))
        if args.mlserver_python:
            urls["MLServer"] = stack.enter_context(
                mlserver(args.mlserver_python, onnx_path, args.model, args.max_batch))
        urls["bare grpc.aio"] = stack.enter_context(load.bare_server(onnx_path, "cpu"))
        metadata = triton_grpc.InferenceServerClient(urls["Striate"]).get_model_metadata(
            args.model)
        runs = [run_once(urls, session, args.model, metadata, args) for _ in range(args.runs)]
    print(f"\n{args.model}, {args.runs} run(s) of {args.duration:.0f} s per measurement, load "
          f"average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print(table(runs, args.scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
