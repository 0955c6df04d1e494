"""Run `python -m service` as a child process: `with running_server(repo) as server: ...`.

For tests and benchmarks, which drive a real server process. The server binds ports the OS
picks (port 0) and reports them in a ready file, so callers never guess free ports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the server runs from here: this checkout's code


@dataclass
class RunningServer:
    """A started server: its process, bound ports and log."""

    process: subprocess.Popen
    grpc_port: int
    http_port: int
    log_path: Path

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait for a graceful exit, and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def running_server(repository: Path, *args: str, timeout: float = 120) -> Iterator[RunningServer]:
    """Run `python -m service` on `repository` until the block ends."""
    with tempfile.TemporaryDirectory(prefix="striate-server-") as tmp:
        ready_file = Path(tmp) / "ready.json"
        log_path = Path(tmp) / "server.log"
        command = [sys.executable, "-m", "service", "--model-repository", str(repository),
                   "--grpc-port", "0", "--http-port", "0", "--host", "127.0.0.1",
                   "--ready-file", str(ready_file), *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                       env=env)
        server = None
        try:
            deadline = time.monotonic() + timeout
            while not ready_file.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}:\n"
                                       f"{log_path.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready after {timeout}s:\n"
                                       f"{log_path.read_text(errors='replace')}")
                time.sleep(0.05)
            ports = json.loads(ready_file.read_text())
            server = RunningServer(process, ports["grpc_port"], ports["http_port"], log_path)
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
