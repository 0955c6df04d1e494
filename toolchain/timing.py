"""How long one batch-1 run of a graph takes on this CPU: the number model cards state."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

RUNS = 20


@dataclass(frozen=True)
class RunTime:
    """Milliseconds per run: the fastest (what the CPU can do when nothing else runs) and the
    median (what it did while this machine was busy)."""

    fastest_ms: float
    median_ms: float

    def card_text(self) -> str:
        return (f"{self.fastest_ms:.0f} ms per image (graph only, batch 1: fastest of {RUNS} "
                f"runs; median {self.median_ms:.0f} ms with the machine's other jobs running)")


def run_time(
    session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int = RUNS
) -> RunTime:
    """Time `runs` runs of `session` on `feed` after one warm-up run."""
    session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    return RunTime(float(np.min(times)), float(np.median(times)))
