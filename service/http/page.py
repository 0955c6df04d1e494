"""Pages for people: the demo page at `/` (static files in this package, no build step, no
CDN) and the API docs at `/docs` (Swagger UI from the swagger-ui-bundle package)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

from .context import HttpContext

STATIC = Path(__file__).parent / "static"
SWAGGER = Path(swagger_ui_bundle.swagger_ui_path)


def static_file(root: Path, relative: str) -> FileResponse:
    """A file under `root` (never outside it), or 404."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise HTTPException(404, f"there is no file '{relative[:100]}' here")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


def build_router(context: HttpContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> FileResponse:
        return static_file(STATIC, "index.html")

    @router.get("/static/{relative:path}")
    def static(relative: str) -> FileResponse:
        return static_file(STATIC, relative)

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Striate: HTTP API",
                                   swagger_js_url="/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/swagger/swagger-ui.css",
                                   swagger_favicon_url="/swagger/favicon-32x32.png")

    @router.get("/swagger/{relative:path}")
    def swagger(relative: str) -> FileResponse:
        return static_file(SWAGGER, relative)

    return router
