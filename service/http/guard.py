"""Connection limits for the HTTP port, enforced in uvicorn's protocol (below the ASGI app,
which never sees a request that has not arrived):

- a client must send a whole request, headers and body, within `request_timeout_s` of
  connecting (or of the previous response): slow or stalled senders are disconnected;
- idle keep-alive connections close after `idle_timeout_s` (uvicorn's keep-alive timeout);
- beyond `max_connections` open connections, new ones are closed at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    request_timeout_s: float = 30.0
    idle_timeout_s: float = 5.0
    max_connections: int = 1000


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a whole-request deadline and a connection cap."""

    limits = HttpLimits()
    _request_timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_limits(cls, limits: HttpLimits) -> type[GuardedH11Protocol]:
        return type("GuardedH11Protocol", (cls,), {"limits": limits})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            log.warning("HTTP connection refused: %d open, the limit is %d",
                        len(self.connections), self.limits.max_connections)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: Any) -> None:
        """A WebSocket (the page's live camera) lives as long as its page: the deadline is for
        requests, so it stops here; the WebSocket protocol takes the connection over."""
        self._disarm()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(self.limits.request_timeout_s,
                                                   self._request_expired)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_expired(self) -> None:
        cycle = self.cycle
        still_arriving = cycle is None or cycle.response_complete or cycle.more_body
        if still_arriving and not self.transport.is_closing():
            log.info("HTTP connection closed: no whole request within %.0f s",
                     self.limits.request_timeout_s)
            self.transport.close()
