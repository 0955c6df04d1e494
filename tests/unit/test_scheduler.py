"""The dynamic batcher on its own, with a plain numpy function as the model."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.errors import DeadlineExceeded, QueueFull
from service.scheduler import BatchingPolicy, Scheduler
from service.stats import Metrics, ModelStats


class Recorder:
    """Doubles its input and remembers the batch sizes it saw."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, inputs, outputs):
        time.sleep(self.delay)
        with self.lock:
            self.batches.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2, "z": inputs["x"] + 1}


def run(coro):
    return asyncio.run(coro)


async def _scheduler(model, **policy) -> Scheduler:
    stats = ModelStats("m", "1", Metrics())
    scheduler = Scheduler("m", model, BatchingPolicy(**policy), stats, ThreadPoolExecutor(2))
    scheduler.start()
    return scheduler


def test_concurrent_requests_are_batched_and_split_back():
    model = Recorder()

    async def main():
        scheduler = await _scheduler(model, max_batch_size=16, max_queue_delay_s=0.05)
        arrays = [np.full((1 + i % 3, 2), i, np.float32) for i in range(12)]
        results = await asyncio.gather(*(scheduler.submit({"x": a}) for a in arrays))
        await scheduler.stop()
        return arrays, results

    arrays, results = run(main())
    for array, result in zip(arrays, results):
        np.testing.assert_array_equal(result["y"], array * 2)
        np.testing.assert_array_equal(result["z"], array + 1)
    assert sum(model.batches) == sum(len(a) for a in arrays)
    assert len(model.batches) < len(arrays)
    assert max(model.batches) <= 16


def test_only_equal_shapes_share_a_batch():
    model = Recorder()

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8, max_queue_delay_s=0.05)
        small = [np.ones((1, 2), np.float32) for _ in range(3)]
        large = [np.ones((1, 5), np.float32) for _ in range(3)]
        results = await asyncio.gather(*(scheduler.submit({"x": a}) for a in small + large))
        await scheduler.stop()
        return results

    results = run(main())
    assert [r["y"].shape for r in results] == [(1, 2)] * 3 + [(1, 5)] * 3
    assert sorted(model.batches) == [3, 3]


def test_requested_outputs_only():
    async def main():
        scheduler = await _scheduler(Recorder(), max_batch_size=4)
        result = await scheduler.submit({"x": np.ones((1, 2), np.float32)}, outputs=["z"])
        await scheduler.stop()
        return result

    assert list(run(main())) == ["z"]


def test_full_queue_is_refused():
    model = Recorder(delay=0.2)

    async def main():
        scheduler = await _scheduler(model, max_batch_size=1, max_queue_size=2)
        calls = [scheduler.submit({"x": np.ones((1, 1), np.float32)}) for _ in range(6)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        await scheduler.stop()
        return outcomes

    outcomes = run(main())
    refused = [o for o in outcomes if isinstance(o, QueueFull)]
    assert refused and len(refused) < 6
    assert "retry later" in refused[0].message


def test_expired_and_cancelled_requests_never_run():
    model = Recorder(delay=0.2)

    async def main():
        scheduler = await _scheduler(model, max_batch_size=1)
        first = asyncio.create_task(scheduler.submit({"x": np.ones((1, 1), np.float32)}))
        await asyncio.sleep(0.02)
        expired = scheduler.submit({"x": np.ones((1, 1), np.float32)},
                                   deadline=time.monotonic() + 0.01)
        cancelled = asyncio.create_task(scheduler.submit({"x": np.ones((1, 1), np.float32)}))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(DeadlineExceeded):
            await expired
        await first
        await scheduler.stop()

    run(main())
    assert model.batches == [1]  # only the first request reached the model


def test_priority_one_goes_first():
    model = Recorder(delay=0.05)
    order = []

    async def main():
        scheduler = await _scheduler(model, max_batch_size=1)

        async def call(tag, priority):
            await scheduler.submit({"x": np.ones((1, 1), np.float32)}, priority=priority)
            order.append(tag)

        blocker = asyncio.create_task(call("blocker", 5))
        await asyncio.sleep(0.01)
        await asyncio.gather(call("low", 10), call("high", 1))
        await blocker
        await scheduler.stop()

    run(main())
    assert order == ["blocker", "high", "low"]


def test_urgent_request_queued_behind_another_shape_completes():
    model = Recorder()

    async def main():
        scheduler = await _scheduler(model, max_batch_size=4, max_queue_delay_s=0.05)
        low = scheduler.submit({"x": np.ones((1, 2), np.float32)}, priority=10)
        high = scheduler.submit({"x": np.ones((1, 3), np.float32)}, priority=1)
        results = await asyncio.wait_for(asyncio.gather(low, high), 5)
        await scheduler.stop()
        return results

    low, high = run(main())
    assert low["y"].shape == (1, 2) and high["y"].shape == (1, 3)


def test_priority_applies_without_batching_too():
    model = Recorder(delay=0.05)
    order = []

    async def main():
        scheduler = await _scheduler(model, max_batch_size=0)

        async def call(tag, priority):
            await scheduler.submit({"x": np.ones((1, 1), np.float32)}, priority=priority)
            order.append(tag)

        blocker = asyncio.create_task(call("blocker", 5))
        await asyncio.sleep(0.01)
        await asyncio.gather(call("low", 10), call("high", 1))
        await blocker
        await scheduler.stop()

    run(main())
    assert order == ["blocker", "high", "low"]
