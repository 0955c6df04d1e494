"""What --model-isolation process costs per execution: the same model run in process and in a
worker process (service/worker.py), interleaved in one run, median of many calls.

    python bench/isolation.py --model exported_models/fashion_cnn/1/model.onnx --batch 1 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages
from contract.datatypes import NUMPY_BY_DATATYPE  # noqa: E402
from service.runtime import OnnxRuntime, RuntimeOptions  # noqa: E402
from service.worker import WorkerRuntime  # noqa: E402


def _feed(runtime: OnnxRuntime, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feed = {}
    for tensor in runtime.inputs:
        shape = [batch if i == 0 and d == -1 else (d if d > 0 else 32)
                 for i, d in enumerate(tensor.dims)]
        feed[tensor.name] = (rng.random(shape) * 5).astype(NUMPY_BY_DATATYPE[tensor.datatype])
    return feed


def _median_ms(runtime: OnnxRuntime, feed: dict[str, np.ndarray], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        runtime.infer(feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an ONNX file")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--calls", type=int, default=200, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    in_process = OnnxRuntime(args.model, RuntimeOptions())
    in_process.load()
    worker = WorkerRuntime(args.model, RuntimeOptions())
    worker.load()
    try:
        print(f"{'batch':>5} {'in-process ms':>14} {'worker ms':>10} {'added ms':>9}")
        for batch in args.batch:
            feed = _feed(in_process, batch)
            rounds = [(_median_ms(in_process, feed, args.calls),
                       _median_ms(worker, feed, args.calls)) for _ in range(args.rounds)]
            local = statistics.median(r[0] for r in rounds)
            isolated = statistics.median(r[1] for r in rounds)
            print(f"{batch:>5} {local:>14.3f} {isolated:>10.3f} {isolated - local:>9.3f}")
    finally:
        worker.unload()


if __name__ == "__main__":
    main()
