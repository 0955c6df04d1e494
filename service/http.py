"""The HTTP side: Prometheus /metrics and the v2 health endpoints, on a small asyncio server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .stats import Metrics

log = logging.getLogger(__name__)


class HttpServer:
    """GET /metrics, /v2/health/live, /v2/health/ready and /v2/models/<name>/ready."""

    def __init__(self, metrics: Metrics, is_ready: Callable[[], bool],
                 model_ready: Callable[[str], bool]) -> None:
        self.metrics = metrics
        self.is_ready = is_ready
        self.model_ready = model_ready
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET is served here\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.metrics.registry)
        if path == "/v2/health/live":
            return 200, "text/plain", b"live\n"
        if path == "/v2/health/ready":
            ready = self.is_ready()
            return (200 if ready else 503), "text/plain", b"ready\n" if ready else b"not ready\n"
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v2", "models"] and parts[3] == "ready":
            ready = self.model_ready(parts[2])
            return (200 if ready else 503), "text/plain", b"ready\n" if ready else b"not ready\n"
        return 404, "text/plain", b"not found\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            method, path, *_ = request_line.decode("latin-1").split() or ["", ""]
            status, content_type, body = self._route(method, path.split("?")[0])
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n")
            writer.write(head.encode() + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
