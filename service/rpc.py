"""What every RPC shares: one error mapping and one bounded stream loop.

Errors: `status_of` is the one mapping from an exception to a status code and a message a client
may see (the HTTP side uses it too). A `StriateError` becomes its code and its sentence; anything
unexpected becomes INTERNAL with a generic message naming an incident id, and the traceback goes
to the log under that id (the exception's own text never reaches the client). `ErrorMapping`, a
grpc.aio server interceptor, applies it to every method of every service on the server, so
servicers raise and never abort.

Streams: `bounded_stream` serves a bidirectional stream (v2 ModelStreamInfer, the task API's
Stream): requests run as they arrive, a bounded number at once; answers go back as they finish;
a failed request is answered in the stream, which goes on. When the client leaves, the work it
left in flight is cancelled (queued requests never reach the model).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from .errors import StriateError

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and client-safe message for an exception (logs unexpected ones)."""
    if isinstance(exc, StriateError):
        return exc.code, exc.message
    incident = uuid.uuid4().hex[:12]
    log.error("internal error (incident %s)", incident, exc_info=exc)
    return grpc.StatusCode.INTERNAL, (
        f"internal server error (incident {incident}); the server log has the details"
    )


class ErrorMapping(grpc.aio.ServerInterceptor):
    """Maps what a servicer method raises to its status through `status_of`."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        """The method's handler, its behaviour wrapped (one wrapper per method, cached)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        cached = self._wrapped.get(handler_call_details.method)
        if cached is None or cached[0] is not handler:
            cached = (handler, _with_error_mapping(handler))
            self._wrapped[handler_call_details.method] = cached
        return cached[1]


def _with_error_mapping(handler: Any) -> Any:
    """The same method handler, its behaviour wrapped (handlers are namedtuples)."""
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            return handler._replace(**{kind: _mapped(behaviour)})
    return handler


def _mapped(behaviour: Callable) -> Callable:
    if inspect.isasyncgenfunction(behaviour):
        @functools.wraps(behaviour)
        async def stream(request, context):
            try:
                async for item in behaviour(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 - mapped to a status here, and only here
                await context.abort(*status_of(exc))
        return stream

    @functools.wraps(behaviour)
    async def call(request, context):
        try:
            return await behaviour(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a status here, and only here
            await context.abort(*status_of(exc))
    return call


class MalformedMessages(grpc.aio.ServerInterceptor):
    """Requests that do not parse (bad protobuf bytes, strings that are not UTF-8) are
    INVALID_ARGUMENT with a sentence, not UNKNOWN with a Python class name."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        """The method's handler with a deserializer that never raises, and a behaviour that
        refuses what did not parse (one wrapper per method, cached)."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        cached = self._wrapped.get(handler_call_details.method)
        if cached is None or cached[0] is not handler:
            cached = (handler, _checking(handler))
            self._wrapped[handler_call_details.method] = cached
        return cached[1]


def _checking(handler: Any) -> Any:
    deserializer = _safe_deserializer(handler.request_deserializer)
    if handler.unary_unary or handler.unary_stream:
        return _checking_one_request(handler, deserializer)
    return _checking_request_stream(handler, deserializer)


class _Malformed:
    """Stands for a request that did not parse; the behaviour refuses it."""

    def __init__(self, message: str) -> None:
        self.message = message


def _safe_deserializer(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    owner = getattr(deserialize, "__self__", None)
    kind = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request")

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and others
            return _Malformed(f"the request is not a valid {kind} message (malformed protobuf "
                              "bytes, or a string field that is not UTF-8)")
    return parse


def _checking_one_request(handler: Any, deserializer: Callable) -> Any:
    kind = "unary_unary" if handler.unary_unary else "unary_stream"
    behaviour = getattr(handler, kind)
    if inspect.isasyncgenfunction(behaviour):
        async def unary_to_stream(request, context):
            if isinstance(request, _Malformed):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            async for item in behaviour(request, context):
                yield item
        checked = unary_to_stream
    else:
        async def unary(request, context):
            if isinstance(request, _Malformed):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            return await behaviour(request, context)
        checked = unary
    return handler._replace(request_deserializer=deserializer, **{kind: checked})


def _checking_request_stream(handler: Any, deserializer: Callable) -> Any:
    kind = "stream_unary" if handler.stream_unary else "stream_stream"
    behaviour = getattr(handler, kind)

    async def parsed(requests, context):
        async for request in requests:
            if isinstance(request, _Malformed):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            yield request

    if inspect.isasyncgenfunction(behaviour):
        async def stream(requests, context):
            async for item in behaviour(parsed(requests, context), context):
                yield item
        checked = stream
    else:
        async def stream_in(requests, context):
            return await behaviour(parsed(requests, context), context)
        checked = stream_in
    return handler._replace(request_deserializer=deserializer, **{kind: checked})


_END = object()
STREAM_WINDOW = 64
"""Requests of one stream in flight at once; the stream reads no further until one finishes."""


Note = Callable[[Any], None]
"""Sends a message on the stream before the request's answer (progress); takes no slot."""


@dataclass(frozen=True)
class _Outgoing:
    message: Any
    is_answer: bool  # a request's answer frees its slot once sent; a note does not


async def _serve_one(request: Request, serve: Callable[[Request, Note], Awaitable[Response]],
                     answer_error: Callable[[Request, Exception], Response],
                     outgoing: asyncio.Queue[Any]) -> None:
    def note(message: Any) -> None:
        outgoing.put_nowait(_Outgoing(message, is_answer=False))

    try:
        answer = await serve(request, note)
    except Exception as exc:  # noqa: BLE001 - one failed item must not end the stream
        answer = answer_error(request, exc)
    await outgoing.put(_Outgoing(answer, is_answer=True))


async def bounded_stream(
    requests: AsyncIterator[Request],
    serve: Callable[[Request, Note], Awaitable[Response]],
    answer_error: Callable[[Request, Exception], Response],
    window: int = STREAM_WINDOW,
) -> AsyncIterator[Response]:
    """Serve each request as it arrives, at most `window` at once; yield answers as they finish.

    `serve(request, note)` may call `note(message)` to send messages ahead of its answer.

    A request whose `serve` raises is answered with `answer_error(request, exc)` (build it
    with `status_of`) and the stream goes on. A slot is freed only when its answer has been
    sent: a client that stops reading holds at most `window` answers in the server, and its
    further requests wait unread (flow control then stalls that client alone). When the
    stream ends early (the client left or the RPC was cancelled), every request still running
    or queued is cancelled.
    """
    done: asyncio.Queue[Any] = asyncio.Queue()
    slots = asyncio.Semaphore(window)
    running: set[asyncio.Task] = set()

    async def read() -> None:
        try:
            async for request in requests:
                await slots.acquire()
                task = asyncio.create_task(_serve_one(request, serve, answer_error, done))
                running.add(task)
                task.add_done_callback(running.discard)
            if running:
                await asyncio.gather(*running)
        except Exception as exc:  # noqa: BLE001 - ends the stream with this error's status
            await done.put(exc)
        await done.put(_END)

    reader = asyncio.create_task(read())
    try:
        while (item := await done.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item.message
            if item.is_answer:
                slots.release()
    finally:
        reader.cancel()
        for task in list(running):
            task.cancel()
