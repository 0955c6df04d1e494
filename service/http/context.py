"""What every router gets: the shared core, metrics, settings and the server's readiness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core import InferenceCore
from ..settings import Settings
from ..stats import Metrics


@dataclass(frozen=True)
class HttpContext:
    """Built once by the server; routers read it, never change it."""

    core: InferenceCore
    metrics: Metrics
    settings: Settings
    is_ready: Callable[[], bool]
    """True once every model is loaded and until shutdown starts."""
