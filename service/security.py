"""Locks on the doors: bearer tokens with scopes, and TLS credentials, for both ports.

A token file has one token a line, then its scopes: `infer` (inference, tasks, metadata) or
`admin` (model load/unload, log and trace settings; admin tokens may infer too):

    # token            scopes
    3f9c0a...d1        infer
    77b2e4...0a        admin

Clients send `authorization: Bearer <token>` (gRPC metadata or HTTP header). Health checks
(and /metrics) answer without a token unless the server is told to lock them too.
"""

from __future__ import annotations

import hmac
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
from starlette.responses import JSONResponse

INFER, ADMIN = "infer", "admin"
SCOPES = (INFER, ADMIN)

_ADMIN_METHODS = {"RepositoryModelLoad", "RepositoryModelUnload", "LogSettings",
                  "TraceSetting"}
_HEALTH_METHODS = {"ServerLive", "ServerReady", "ModelReady"}
_HEALTH_SERVICE = "/grpc.health.v1.Health/"
_HTTP_HEALTH_PREFIXES = ("/v2/health/", "/metrics")
# The demo page's shell, the API docs and the shipped sample files hold no model and run
# nothing: open, so a browser can load the page and then send a token with each request.
_HTTP_PAGE_PATHS = ("/", "/docs", "/openapi.json")
_HTTP_PAGE_PREFIXES = ("/static/", "/swagger/", "/samples/")
_WEBSOCKET_TOKEN_PREFIX = "bearer."  # browsers cannot set headers on a WebSocket


class TokenFileError(ValueError):
    """The token file can't be used; the message says which line and why."""


@dataclass(frozen=True)
class Tokens:
    """The tokens the server accepts, each with its scopes."""

    scopes_by_token: dict[str, frozenset[str]]
    open_health: bool = True

    @classmethod
    def read(cls, path: Path, open_health: bool = True) -> Tokens:
        scopes_by_token: dict[str, frozenset[str]] = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            token, scopes = fields[0], frozenset(",".join(fields[1:]).split(",")) - {""}
            unknown = scopes - set(SCOPES)
            if not scopes or unknown:
                raise TokenFileError(f"{path}, line {number}: give each token the scopes "
                                     f"infer and/or admin (found {sorted(scopes)})")
            if len(token) < 16:
                raise TokenFileError(f"{path}, line {number}: tokens need at least 16 "
                                     "characters")
            scopes_by_token[token] = scopes | ({INFER} if ADMIN in scopes else set())
        if not scopes_by_token:
            raise TokenFileError(f"{path} holds no token")
        return cls(scopes_by_token, open_health)

    def check(self, authorization: str | None, scope: str | None) -> tuple[int, str] | None:
        """None when allowed; else (401 or 403, a sentence saying what to send)."""
        if scope is None:
            return None
        token = _bearer(authorization)
        granted = next((scopes for known, scopes in self.scopes_by_token.items()
                        if token is not None and hmac.compare_digest(known, token)), None)
        if granted is None:
            return 401, ("this server needs a token: send the header "
                         "'authorization: Bearer <token>' with a token from its token file")
        if scope not in granted:
            return 403, f"the token may not do this: it needs the '{scope}' scope"
        return None

    def grpc_scope(self, method: str) -> str | None:
        """The scope a gRPC method (`/package.Service/Method`) needs; None: open."""
        name = method.rsplit("/", 1)[-1]
        if name in _ADMIN_METHODS:
            return ADMIN
        if self.open_health and (method.startswith(_HEALTH_SERVICE) or name in _HEALTH_METHODS):
            return None
        return INFER

    def http_scope(self, path: str) -> str | None:
        if path in _HTTP_PAGE_PATHS or path.startswith(_HTTP_PAGE_PREFIXES):
            return None
        if "/repository/" in path or path.startswith(("/v2/logging", "/v2/trace")):
            return ADMIN
        if self.open_health and (path.startswith(_HTTP_HEALTH_PREFIXES)
                                 or (path.startswith("/v2/models/") and path.endswith("/ready"))):
            return None
        return INFER


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    kind, _, token = authorization.partition(" ")
    return token.strip() if kind.lower() == "bearer" else None


class TokenCheck(grpc.aio.ServerInterceptor):
    """Refuses gRPC calls without a token of the method's scope, before any servicer runs."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    async def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata or ())
        refused = self.tokens.check(metadata.get("authorization"),
                                    self.tokens.grpc_scope(handler_call_details.method))
        handler = await continuation(handler_call_details)
        if refused is None or handler is None:
            return handler
        code = grpc.StatusCode.UNAUTHENTICATED if refused[0] == 401 \
            else grpc.StatusCode.PERMISSION_DENIED
        return _refusing(handler, code, refused[1])


def _refusing(handler, code: grpc.StatusCode, message: str):
    """A handler of the same kind as `handler` that only aborts with `code`."""
    async def refuse(request_or_iterator, context):
        await context.abort(code, message)

    async def refuse_stream(request_or_iterator, context):
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator

    for kind in ("unary_unary", "stream_unary"):
        if getattr(handler, kind) is not None:
            return handler._replace(**{kind: refuse})
    for kind in ("unary_stream", "stream_stream"):
        if getattr(handler, kind) is not None:
            return handler._replace(**{kind: refuse_stream})
    return handler


class TokenMiddleware:
    """The same check on every HTTP request and WebSocket of the ASGI app (pure ASGI, so that
    WebSockets, which never reach an http middleware, are covered too)."""

    def __init__(self, app, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        if authorization is None and scope["type"] == "websocket":
            authorization = _websocket_bearer(scope)
        refused = self.tokens.check(authorization, self.tokens.http_scope(scope["path"]))
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": refused[1][:120]})
        else:
            response = JSONResponse({"error": refused[1]}, status_code=refused[0],
                                    headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)


def _websocket_bearer(scope) -> str | None:
    """A browser's WebSocket sends its token as a subprotocol `bearer.<token>`."""
    for protocol in scope.get("subprotocols") or ():
        if protocol.startswith(_WEBSOCKET_TOKEN_PREFIX):
            return f"Bearer {protocol.removeprefix(_WEBSOCKET_TOKEN_PREFIX)}"
    return None


def install_token_check(app, tokens: Tokens) -> None:
    """Check tokens on every HTTP request and WebSocket of `app`, before any route runs."""
    app.add_middleware(TokenMiddleware, tokens=tokens)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server's certificate chain and key; with a client CA, mutual TLS."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        ca = self.client_ca.read_bytes() if self.client_ca else None
        return grpc.ssl_server_credentials([(self.key.read_bytes(), self.cert.read_bytes())],
                                           root_certificates=ca,
                                           require_client_auth=ca is not None)

    def uvicorn_options(self) -> dict:
        options: dict[str, object] = {"ssl_certfile": str(self.cert),
                                      "ssl_keyfile": str(self.key)}
        if self.client_ca:
            options |= {"ssl_ca_certs": str(self.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        return options
