"""Per-model scheduling: a bounded queue feeding a dynamic batcher, inference off the event loop.

Requests with the same non-batch shapes and dtypes are concatenated along the batch axis
up to max_batch_size; each caller gets back exactly its own slice. Requests whose caller went
away or whose deadline passed are dropped before they run.

When a batch forms:
- Without preferred sizes, a batch never waits on purpose. An idle instance takes what the
  queue holds at once (a lone request on a quiet model pays no window); while every instance
  is busy, requests gather, and the next free instance takes them together, up to
  max_batch_size. Load makes the batches: the busier the model, the larger they get.
- With preferred sizes, an idle instance waits for a preferred size (or max_batch_size), but
  never past max_queue_delay after the oldest request was queued: the delay is an upper bound.

A batch of one reaches the model with the caller's own arrays (no copy); a larger batch costs
one concatenation per input, done in the executor thread rather than on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from contract.batching import DEFAULT_MAX_QUEUE_SIZE

from .errors import DeadlineExceeded, ModelNotReady, QueueFull, StriateError, WorkerCrashed
from .stats import ModelStats

log = logging.getLogger(__name__)

InferFn = Callable[[dict[str, np.ndarray], list[str] | None], dict[str, np.ndarray]]


@dataclass(frozen=True)
class BatchingPolicy:
    max_batch_size: int = 0
    """0: no batch dimension; every request runs alone."""
    max_queue_delay_s: float = 0.0
    preferred_sizes: tuple[int, ...] = ()
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    instances: int = 1
    """Executions that may run at once."""


@dataclass(eq=False)  # identity: two requests are never "equal" (their arrays can't say)
class _Request:
    inputs: dict[str, np.ndarray]
    outputs: list[str] | None
    size: int
    key: tuple
    deadline: float | None
    priority: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)


def _batch_key(inputs: dict[str, np.ndarray], batched: bool) -> tuple:
    return tuple(sorted((name, a.dtype.str, a.shape[1:] if batched else a.shape)
                        for name, a in inputs.items()))


class Scheduler:
    """Queue and dynamic batcher of one model version."""

    def __init__(self, name: str, infer: InferFn, policy: BatchingPolicy, stats: ModelStats,
                 executor: Executor) -> None:
        self.name = name
        self._infer = infer
        self.policy = policy
        self.stats = stats
        self._executor = executor
        self._queue: list[_Request] = []
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task] = []
        self._running = 0
        self._accepting = False

    @property
    def batched(self) -> bool:
        return self.policy.max_batch_size > 0

    def start(self) -> None:
        self._accepting = True
        self._workers = [asyncio.create_task(self._work(), name=f"{self.name}-worker-{i}")
                         for i in range(max(1, self.policy.instances))]

    async def stop(self) -> None:
        """Stop taking requests, let queued and running ones finish, then end the workers."""
        self._accepting = False
        while self._queue or self._running:
            self._wakeup.set()
            await asyncio.sleep(0.01)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def submit(self, inputs: dict[str, np.ndarray], outputs: list[str] | None = None,
                     deadline: float | None = None, priority: int = 0) -> dict[str, np.ndarray]:
        """Queue one request and wait for its outputs. `deadline` is a time.monotonic() value."""
        if not self._accepting:
            raise ModelNotReady(f"model '{self.name}' is being unloaded; retry shortly")
        if len(self._queue) >= self.policy.max_queue_size:
            raise QueueFull(
                f"model '{self.name}' has {len(self._queue)} requests queued, its limit; "
                "retry later or raise dynamic_batching.default_queue_policy.max_queue_size"
            )
        size = next(iter(inputs.values())).shape[0] if self.batched and inputs else 1
        request = _Request(inputs, outputs, size, _batch_key(inputs, self.batched), deadline,
                           priority, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        self.stats.pending(1)
        self._wakeup.set()
        try:
            return await request.future
        finally:
            self.stats.pending(-1)

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch:
                self._running += 1
                try:
                    await self._run(batch)
                finally:
                    self._running -= 1

    async def _next_batch(self) -> list[_Request]:
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        first = min(self._queue, key=_queue_order)
        if not self.batched:
            return self._take([first])
        if not self.policy.preferred_sizes:
            return self._take(self._fill(first))
        return await self._wait_for_preferred(first)

    async def _wait_for_preferred(self, first: _Request) -> list[_Request]:
        """Gather until a preferred size or max_batch_size, at most max_queue_delay after
        `first` was queued."""
        delay_end = first.enqueued + self.policy.max_queue_delay_s
        while True:
            batch = self._fill(first)
            size = sum(r.size for r in batch)
            full = size >= self.policy.max_batch_size or size in self.policy.preferred_sizes
            remaining = delay_end - time.monotonic()
            if full or remaining <= 0 or not self._accepting:
                return self._take(batch)
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass
            if first not in self._queue:  # taken by another instance meanwhile
                return []

    def _fill(self, first: _Request) -> list[_Request]:
        """The first request and compatible ones, in priority order, up to max_batch_size."""
        batch, size = [first], first.size
        for request in sorted(self._queue, key=_queue_order):
            if request is first or request.key != first.key:
                continue
            if size + request.size > self.policy.max_batch_size:
                continue
            batch.append(request)
            size += request.size
        return batch

    def _take(self, batch: list[_Request]) -> list[_Request]:
        taken = set(map(id, batch))
        self._queue = [r for r in self._queue if id(r) not in taken]
        now = time.monotonic()
        live = []
        for request in batch:
            self.stats.queued(int((now - request.enqueued) * 1e9))
            if request.future.done():  # the caller cancelled
                continue
            if request.deadline is not None and now > request.deadline:
                request.future.set_exception(DeadlineExceeded(
                    f"the request waited {now - request.enqueued:.3f}s in model "
                    f"'{self.name}''s queue and passed its deadline before it could run"))
                continue
            live.append(request)
        return live

    async def _run(self, batch: list[_Request]) -> None:
        start = time.perf_counter_ns()
        wanted = _union_outputs(batch)
        loop = asyncio.get_running_loop()
        try:
            prepared, outputs = await loop.run_in_executor(
                self._executor, self._join_and_infer, [r.inputs for r in batch], wanted)
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, WorkerCrashed):
                await self._run_one_by_one(batch, exc)
            else:  # a crash is not re-run: the culprit would crash the new worker too
                for request in batch:
                    _fail(request, exc, self.name)
            return
        computed = time.perf_counter_ns()
        self._deliver(batch, outputs)
        done = time.perf_counter_ns()
        size = sum(r.size for r in batch)
        self.stats.executed(size, len(batch), prepared - start, computed - prepared,
                            done - computed)

    def _join_and_infer(self, parts: list[dict[str, np.ndarray]], wanted: list[str] | None,
                        ) -> tuple[int, dict[str, np.ndarray]]:
        """In the executor: one concatenation per input (none for a batch of one), then the
        model. Copying a large batch here keeps it off the event loop. Returns when the inputs
        were ready, and the outputs."""
        if len(parts) > 1:
            inputs = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        else:
            inputs = parts[0]
        prepared = time.perf_counter_ns()
        return prepared, self._infer(inputs, wanted)

    async def _run_one_by_one(self, batch: list[_Request], batch_error: Exception) -> None:
        """A batch failed: run its members alone, so only the request at fault fails."""
        log.info("model '%s': a batch of %d failed (%s); running its requests one by one",
                 self.name, len(batch), type(batch_error).__name__)
        loop = asyncio.get_running_loop()
        for request in batch:
            if request.future.done():
                continue
            start = time.perf_counter_ns()
            try:
                outputs = await loop.run_in_executor(self._executor, self._infer,
                                                     request.inputs, request.outputs)
            except Exception as exc:
                _fail(request, exc, self.name)
                continue
            computed = time.perf_counter_ns()
            self._deliver([request], outputs)
            self.stats.executed(request.size, 1, 0, computed - start,
                                time.perf_counter_ns() - computed)

    def _deliver(self, batch: list[_Request], outputs: dict[str, np.ndarray]) -> None:
        offset = 0
        for request in batch:
            names = request.outputs or list(outputs)
            if self.batched and len(batch) > 1:
                part = {n: outputs[n][offset:offset + request.size] for n in names}
            else:
                part = {n: outputs[n] for n in names}
            offset += request.size
            if not request.future.done():
                request.future.set_result(part)


def _queue_order(request: _Request) -> tuple[int, float]:
    return request.priority, request.enqueued


def _union_outputs(batch: list[_Request]) -> list[str] | None:
    wanted = [r.outputs for r in batch]
    if any(outputs is None for outputs in wanted):
        return None
    return sorted({name for outputs in wanted if outputs for name in outputs})


def _fail(request: _Request, exc: Exception, model_name: str) -> None:
    if not isinstance(exc, StriateError):
        log.error("model '%s' failed on a request", model_name, exc_info=exc)
    if not request.future.done():
        request.future.set_exception(exc)

