"""The HTTP port: one ASGI application (FastAPI) served by uvicorn in the gRPC server's loop.

`build_app` (app.py) assembles the routers listed in `ROUTERS`; `HttpServer` (server.py) runs
it. To add routes, write a module here with `build_router(context: HttpContext) -> APIRouter`
and add it to `ROUTERS`.
"""

from .app import build_app
from .context import HttpContext
from .server import HttpServer

__all__ = ["HttpContext", "HttpServer", "build_app"]
