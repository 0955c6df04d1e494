"""What every router gets: the shared core, metrics, settings and the server's readiness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core import InferenceCore
from ..settings import Settings
from ..stats import Metrics
from ..v2.dataplane import DataPlane


@dataclass(frozen=True)
class HttpContext:
    """Built once by the server; routers read it, never change it."""

    core: InferenceCore
    metrics: Metrics
    settings: Settings
    is_ready: Callable[[], bool]
    """True once every model is loaded and until shutdown starts."""
    dataplane: DataPlane | None = None
    """The v2 protocol's operations (service/v2/dataplane.py), shared with gRPC."""
