"""The ASGI application: one FastAPI app, its routers, and the error mapping every route shares."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from . import gallery, health, page, tasks, v2
from .context import HttpContext
from .errors import install_error_handlers

RouterFactory = Callable[[HttpContext], APIRouter]

ROUTERS: list[RouterFactory] = [health.build_router, v2.build_router, tasks.build_router,
                                 gallery.build_router, page.build_router]
"""Each module's `build_router`, in the order their routes are matched."""


def build_app(context: HttpContext) -> FastAPI:
    """The whole HTTP side: every router in ROUTERS over one context."""
    app = FastAPI(title="Striate", version="0.1.0", docs_url=None, redoc_url=None,
                  summary="ONNX models served over HTTP and gRPC: the task API, "
                  "KServe v2, health and metrics.")
    app.openapi_version = "3.0.3"  # what the bundled Swagger UI (4.x) renders
    install_error_handlers(app)
    for build_router in ROUTERS:
        app.include_router(build_router(context))
    return app
