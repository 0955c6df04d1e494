"""A budget for media decoding: how many decodes run at once and how much memory they may
hold together, each decode's memory estimated from its header before it starts.

A burst of worst-case uploads then queues for the budget instead of multiplying the
server's memory: what one request may cost is bounded by the codecs' limits, what all of
them cost together by the budget.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..errors import InvalidInput

T = TypeVar("T")

DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_DECODES = 4


class DecodeBudget:
    """At most `max_decodes` decodes at once, holding at most `max_bytes` (estimated) together."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_decodes: int = DEFAULT_MAX_DECODES) -> None:
        self.max_bytes = max_bytes
        self.max_decodes = max_decodes
        self._in_use = 0
        self._running = 0
        self._changed: asyncio.Condition | None = None
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, estimate: int, work: Callable[..., T], *args) -> T:
        """`work(*args)` in the decoding pool (one thread per core: decoders release the GIL)
        once `estimate` bytes of the budget are free."""
        if estimate > self.max_bytes:
            raise InvalidInput(
                f"decoding this upload would take about {estimate >> 20} MiB; the limit is "
                f"{self.max_bytes >> 20} MiB: send a smaller or shorter one")
        changed = self._changed = self._changed or asyncio.Condition()
        async with changed:
            await changed.wait_for(lambda: self._running < self.max_decodes
                                   and self._in_use + estimate <= self.max_bytes)
            self._running += 1
            self._in_use += estimate
        try:
            self._pool = self._pool or ThreadPoolExecutor(os.cpu_count() or 1, "decode")
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            async with changed:
                self._running -= 1
                self._in_use -= estimate
                changed.notify_all()
