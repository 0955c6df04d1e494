"""A small WebDriver BiDi client: drives Firefox (Debian's firefox-esr) headless without
geckodriver, over the WebSocket Firefox itself serves with --remote-debugging-port."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
from typing import Any

from websockets.sync.client import ClientConnection, connect


def _free_port() -> int:
    with socket.socket() as probe:  # Firefox takes no port 0 for its remote agent
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Firefox:
    """`with Firefox() as browser: browser.open(url); browser.evaluate("1 + 1")`."""

    def __init__(self, executable: str = "firefox-esr") -> None:
        self.executable = executable
        self.log: list[dict] = []  # console messages and uncaught errors (log.entryAdded)
        self._next_id = 0

    def __enter__(self) -> Firefox:
        self._profile = tempfile.TemporaryDirectory(prefix="striate-firefox-")
        port = _free_port()
        self._process = subprocess.Popen(
            [self.executable, "--headless", "--no-remote", "--profile", self._profile.name,
             "--remote-debugging-port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._stack = contextlib.ExitStack()
        self._socket = self._stack.enter_context(self._connect(f"ws://127.0.0.1:{port}/session"))
        self.call("session.new", {"capabilities": {}})
        self.call("session.subscribe", {"events": ["log.entryAdded"]})
        self.context = self.call("browsingContext.getTree", {})["contexts"][0]["context"]
        return self

    def _connect(self, url: str, timeout_s: float = 60) -> ClientConnection:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return connect(url, open_timeout=5, max_size=None)
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._process.terminate()
        self._process.wait(30)
        self._profile.cleanup()

    def call(self, method: str, params: dict) -> dict:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=120))
            if message.get("type") == "event":
                if message["method"] == "log.entryAdded":
                    self.log.append(message["params"])
            elif message.get("id") == self._next_id:
                if message.get("type") == "error":
                    raise RuntimeError(f"{method}: {message.get('message')}")
                return message["result"]

    def open(self, url: str) -> None:
        self.call("browsingContext.navigate",
                  {"context": self.context, "url": url, "wait": "complete"})

    def evaluate(self, expression: str) -> Any:
        result = self.call("script.evaluate", {"expression": expression, "awaitPromise": True,
                                               "target": {"context": self.context}})
        if result["type"] == "exception":
            raise RuntimeError(result["exceptionDetails"]["text"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 120) -> Any:
        """Polls until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s} s: {expression}")
            time.sleep(0.1)
        return value
