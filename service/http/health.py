"""Prometheus /metrics and the v2 health endpoints (what load balancers and probes ask)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .context import HttpContext

GET = ["GET", "HEAD"]


def _readiness(ready: bool) -> PlainTextResponse:
    return PlainTextResponse("ready\n" if ready else "not ready\n",
                             status_code=200 if ready else 503)


def build_router(context: HttpContext) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.api_route("/metrics", methods=GET, summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.api_route("/v2/health/live", methods=GET, response_class=PlainTextResponse,
                      summary="200 while the process serves")
    def live() -> PlainTextResponse:
        return PlainTextResponse("live\n")

    @router.api_route("/v2/health/ready", methods=GET, response_class=PlainTextResponse,
                      summary="200 once every model is loaded, 503 before and while stopping")
    def ready() -> PlainTextResponse:
        return _readiness(context.is_ready())

    @router.api_route("/v2/models/{name}/ready", methods=GET, response_class=PlainTextResponse,
                      summary="200 when the model's newest version is ready")
    def model_ready(name: str) -> PlainTextResponse:
        return _readiness(context.core.is_ready(name))

    return router
