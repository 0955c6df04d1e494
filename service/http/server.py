"""Runs the ASGI app with uvicorn inside the running event loop (the one grpc.aio uses).

The process's signals stay with `service.server.Server`: uvicorn's own handlers are not
installed; `stop()` is called from the server's graceful shutdown instead.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from fastapi import FastAPI

from .guard import GuardedH11Protocol, HttpLimits

log = logging.getLogger(__name__)


class HttpServer:
    """start() binds and serves in the background; stop() finishes open requests, then closes."""

    def __init__(self, app: FastAPI, *, grace_s: float = 30.0, tls: dict | None = None,
                 limits: HttpLimits | None = None) -> None:
        self.app = app
        self.limits = limits or HttpLimits()
        self.grace_s = grace_s
        self.tls = tls or {}
        """uvicorn's ssl_* options (service/security.py TlsFiles.uvicorn_options)."""
        self._server: uvicorn.Server | None = None
        self._main_loop: asyncio.Task | None = None

    async def start(self, host: str, port: int) -> int:
        """Bind `host:port` (0: any free port) and serve; returns the bound port."""
        config = uvicorn.Config(self.app, host=host, port=port, log_config=None,
                                access_log=False, lifespan="off",
                                timeout_graceful_shutdown=int(self.grace_s) or 1,
                                http=GuardedH11Protocol.with_limits(self.limits),
                                timeout_keep_alive=int(self.limits.idle_timeout_s) or 1,
                                **self.tls)
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()  # binds; exits the process with the reason when it cannot
        self._server = server
        self._main_loop = asyncio.create_task(server.main_loop(), name="http-main-loop")
        return server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._main_loop is not None:
            await self._main_loop
        await self._server.shutdown()
        self._server = None
