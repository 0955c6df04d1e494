"""Prometheus /metrics and the v2 health endpoints (what load balancers and probes ask).

Health answers carry the status (200, or 503 when not ready) and, as the KServe v2 REST
spec has it, a JSON body: `{"live": true}`, `{"ready": ...}`, `{"name": ..., "ready": ...}`
(Triton's clients read the status, KServe's read the body).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..names import MAX_NAME_LENGTH
from .context import HttpContext

GET = ["GET", "HEAD"]


def _readiness(ready: bool, **extra: str) -> JSONResponse:
    return JSONResponse({**extra, "ready": ready}, status_code=200 if ready else 503)


def build_router(context: HttpContext) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.api_route("/metrics", methods=GET, summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.api_route("/v2/health/live", methods=GET, summary="200 while the process serves")
    def live() -> JSONResponse:
        return JSONResponse({"live": True})

    @router.api_route("/v2/health/ready", methods=GET,
                      summary="200 once every model is loaded, 503 before and while stopping")
    def ready() -> JSONResponse:
        return _readiness(context.is_ready())

    @router.api_route("/v2/models/{name}/ready", methods=GET,
                      summary="200 when the model's newest version is ready")
    def model_ready(name: str) -> JSONResponse:
        return _readiness(context.core.is_ready(name), name=name[:MAX_NAME_LENGTH])

    return router
