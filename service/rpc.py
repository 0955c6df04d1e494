"""Error handling for every RPC, in one place: domain errors become their status code and
message; anything unexpected becomes INTERNAL with a generic message and a logged traceback."""

from __future__ import annotations

import functools
import inspect
import logging
import uuid

import grpc

from .errors import StriateError

log = logging.getLogger(__name__)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and client-safe message for an exception."""
    if isinstance(exc, StriateError):
        return exc.code, exc.message
    incident = uuid.uuid4().hex[:12]
    log.error("internal error (incident %s)", incident, exc_info=exc)
    return grpc.StatusCode.INTERNAL, (
        f"internal server error (incident {incident}); the server log has the details"
    )


def handle_errors(method):
    """Decorate a unary or server-streaming grpc.aio servicer method."""
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001 - mapped to a status, never re-raised
                await context.abort(*status_of(exc))
        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except Exception as exc:  # noqa: BLE001
            await context.abort(*status_of(exc))
    return unary_wrapper
