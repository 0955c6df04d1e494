"""A tiny text progress bar (the client does not depend on tqdm)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`[#####.....] 12/40  8.1/s` redrawn on one line of stderr; silent for a single item.

    On a terminal the bar moves as items finish; elsewhere (a log, a pipe) only the final
    state is written, once.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.perf_counter()
        self.live = total > 1 and self.stream.isatty()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.live:
            self._draw()

    def clear(self) -> None:
        """Blank the bar's line so that other output can be printed (terminals only)."""
        if self.live:
            self.stream.write("\r\033[K")

    def _draw(self) -> None:
        filled = round(self.width * self.done / max(1, self.total))
        rate = self.done / max(self.elapsed_s, 1e-9)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label}[{bar}] {self.done}/{self.total} {rate:6.1f}/s")
        self.stream.flush()

    def close(self) -> None:
        if self.total > 1:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
