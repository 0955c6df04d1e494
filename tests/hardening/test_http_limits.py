"""HTTP transport limits: slow or stalled senders are disconnected after the whole-request
timeout, idle keep-alive connections close, and connections beyond the cap are refused; the
server serves on."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from tests.support.server import running_server

SLOW_CLIENTS = 20
REQUEST_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def guarded_server(hardening_repository):
    with running_server(hardening_repository, "--model-control-mode", "explicit",
                        "--http-request-timeout", str(REQUEST_TIMEOUT_S),
                        "--http-max-connections", str(SLOW_CLIENTS + 5)) as server:
        yield server


def _slowloris(server, count: int) -> list[socket.socket]:
    """Connections that send part of a request's headers and then nothing."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _live(server) -> int:
    with urllib.request.urlopen(f"{server.http_url}/v2/health/live", timeout=10) as response:
        return response.status


def test_stalled_requests_are_disconnected(guarded_server):
    sockets = _slowloris(guarded_server, SLOW_CLIENTS)
    try:
        assert _live(guarded_server) == 200  # the stalled ones don't block others
        start = time.monotonic()
        assert all(_closed_by_server(s, REQUEST_TIMEOUT_S * 10) for s in sockets)
        assert time.monotonic() - start < REQUEST_TIMEOUT_S * 10
    finally:
        for sock in sockets:
            sock.close()
    assert _live(guarded_server) == 200


def test_connections_beyond_the_cap_are_closed(guarded_server):
    sockets = _slowloris(guarded_server, SLOW_CLIENTS + 10)
    try:
        refused = [s for s in sockets[-5:] if _closed_by_server(s, 1.0)]
        assert refused, "no connection beyond the cap was closed"
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(0.2)
    assert _live(guarded_server) == 200


def test_a_websocket_outlives_the_request_timeout(guarded_server):
    """The page's live camera keeps its WebSocket open: the deadline is for requests."""
    import json

    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{guarded_server.http_port}/tasks/classify/live"
    with connect(url, open_timeout=10) as websocket:
        time.sleep(REQUEST_TIMEOUT_S * 2)
        websocket.send(b"not an image")
        answer = json.loads(websocket.recv(timeout=30))
    assert answer["error"]  # answered: the connection was still open
