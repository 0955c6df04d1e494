"""How a long task (dream, play) says how far it has got: `report(done, total)`.

The Stream RPC turns reports into `TaskResponse.progress` messages for requests that ask for
them; unary calls and the HTTP API pass `no_progress`.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    """A report nobody reads."""
