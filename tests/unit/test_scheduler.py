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


def test_lone_request_on_an_idle_model_pays_no_window():
    async def main():
        scheduler = await _scheduler(Recorder(), max_batch_size=8, max_queue_delay_s=60)
        result = await asyncio.wait_for(scheduler.submit({"x": np.ones((1, 2), np.float32)}), 5)
        await scheduler.stop()
        return result

    np.testing.assert_array_equal(run(main())["y"], np.full((1, 2), 2, np.float32))


def test_requests_gather_while_an_execution_is_in_flight():
    model = Recorder(delay=0.2)

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8)
        first = asyncio.create_task(scheduler.submit({"x": np.zeros((1, 1), np.float32)}))
        await asyncio.sleep(0.05)  # the first is running now; these queue behind it
        rest = [np.full((1, 1), i, np.float32) for i in range(1, 7)]
        results = await asyncio.gather(*(scheduler.submit({"x": a}) for a in rest))
        await first
        await scheduler.stop()
        return rest, results

    rest, results = run(main())
    assert model.batches == [1, 6]
    for array, result in zip(rest, results):
        np.testing.assert_array_equal(result["y"], array * 2)


def test_batches_form_under_closed_loop_load():
    model = Recorder(delay=0.01)
    clients, rounds = 16, 5

    async def main():
        scheduler = await _scheduler(model, max_batch_size=16)

        async def client(index: int) -> None:
            for _ in range(rounds):
                x = np.full((1, 3), index, np.float32)
                np.testing.assert_array_equal((await scheduler.submit({"x": x}))["y"], x * 2)

        await asyncio.gather(*(client(i) for i in range(clients)))
        await scheduler.stop()
        return scheduler.stats

    stats = run(main())
    assert sum(model.batches) == clients * rounds
    assert stats.inference_count / stats.execution_count > 2


def test_a_preferred_size_is_waited_for_no_longer_than_the_window():
    model = Recorder()
    window = 0.3

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8, preferred_sizes=(4,),
                                     max_queue_delay_s=window)
        calls = [scheduler.submit({"x": np.ones((1, 2), np.float32)}) for _ in range(3)]
        await asyncio.wait_for(asyncio.gather(*calls), 10)
        await scheduler.stop()
        return scheduler.stats.queue

    queue = run(main())
    assert model.batches == [3]  # the three waited together for a fourth that never came
    assert queue.count == 3
    assert queue.ns / queue.count / 1e9 < window + 0.5  # and gave up when the window closed


def test_a_preferred_size_forms_before_the_window_closes():
    model = Recorder()

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8, preferred_sizes=(2,),
                                     max_queue_delay_s=60)
        first = asyncio.create_task(scheduler.submit({"x": np.ones((1, 2), np.float32)}))
        await asyncio.sleep(0.05)
        second = scheduler.submit({"x": np.ones((1, 2), np.float32)})
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        await scheduler.stop()

    run(main())
    assert model.batches == [2]


class Keeper(Recorder):
    """A Recorder that keeps the arrays it was given and the ones it returned."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.given: list[np.ndarray] = []
        self.returned: list[np.ndarray] = []

    def __call__(self, inputs, outputs):
        result = super().__call__(inputs, outputs)
        self.given.append(inputs["x"])
        self.returned.append(result["y"])
        return result


def test_a_batch_of_one_reaches_the_model_and_comes_back_without_a_copy():
    model = Keeper()
    x = np.ones((1, 4), np.float32)

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8)
        result = await scheduler.submit({"x": x}, outputs=["y"])
        await scheduler.stop()
        return result

    result = run(main())
    assert model.given == [x] and model.given[0] is x
    assert result["y"] is model.returned[0]


def test_a_batch_costs_one_concatenation_and_each_caller_gets_a_view():
    model = Keeper(delay=0.1)
    arrays = [np.full((1, 4), i, np.float32) for i in range(4)]

    async def main():
        scheduler = await _scheduler(model, max_batch_size=8)
        first = asyncio.create_task(scheduler.submit({"x": arrays[0]}))
        await asyncio.sleep(0.03)  # running: the next three gather behind it
        results = await asyncio.gather(*(scheduler.submit({"x": a}) for a in arrays[1:]))
        await first
        await scheduler.stop()
        return results

    results = run(main())
    assert model.batches == [1, 3]
    batch_input, batch_output = model.given[1], model.returned[1]
    assert not any(np.shares_memory(batch_input, a) for a in arrays)  # the one copy
    for array, result in zip(arrays[1:], results):
        assert np.shares_memory(result["y"], batch_output)  # a slice, not a copy
        np.testing.assert_array_equal(result["y"], array * 2)
