"""Errors on the HTTP side: every failure answers JSON `{"error": "<sentence>"}` with a status.

Domain errors (`StriateError`) keep their sentence; their HTTP status follows their gRPC code,
so both transports say the same thing. Anything else is a 500 with an incident id, logged.
"""

from __future__ import annotations

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import StriateError
from ..rpc import status_of

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def response_of(exc: BaseException) -> JSONResponse:
    """The JSON error answer for an exception raised by a route (gRPC code -> HTTP status)."""
    code, message = status_of(exc)
    return error_response(HTTP_STATUS.get(code, 500), message)


def install_error_handlers(app: FastAPI) -> None:
    async def on_exception(request: Request, exc: Exception) -> JSONResponse:
        return response_of(exc)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            return response_of(exc)
        return error_response(exc.status_code, str(exc.detail))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for it only
            return response_of(exc)
        problems = "; ".join(_describe(error) for error in exc.errors())
        return error_response(400, f"the request is not valid: {problems}")

    # Domain errors get their own handler: the catch-all for Exception runs in Starlette's
    # outermost middleware, which re-raises after answering (logged as a crash, and the
    # connection dropped).
    app.add_exception_handler(StriateError, on_exception)
    app.add_exception_handler(Exception, on_exception)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", "invalid")
