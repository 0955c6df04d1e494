"""A model runtime in its own process, so that a native crash in ONNX Runtime (an abort, a
segfault) ends one worker instead of the server.

`WorkerRuntime` has OnnxRuntime's interface (load, infer, unload, ready, inputs, outputs,
warm_up), so the repository and the scheduler use either. The worker process holds the
session; numeric input tensors reach it through a shared-memory segment (grown when a request
needs more), BYTES tensors and the outputs through its pipe. When the worker dies during a
request, that request is answered UNAVAILABLE, the worker is started again, and every other
model (each has its own worker) serves on.

One request runs in a worker at a time; ONNX Runtime's own threads still use every core.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import NoReturn

import numpy as np

from .errors import StriateError, WorkerCrashed
from .runtime import OnnxRuntime, RuntimeOptions

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads
_MIN_SEGMENT = 1 << 20


class WorkerError(RuntimeError):
    """An unexpected error inside the worker; its text is logged, never sent to a client."""


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class WorkerRuntime(OnnxRuntime):
    """OnnxRuntime's interface, the session in a supervised child process."""

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(path, options)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._segment: SharedMemory | None = None
        self._lock = threading.Lock()
        self._restart_failed = False

    @property
    def ready(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def load(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(target=_serve, args=(self.path, self.options, child),
                                 name=f"striate-worker-{self.shown_path}", daemon=True)
        process.start()
        child.close()
        try:
            kind, payload = parent.recv()
        except EOFError:
            process.join(5)
            raise WorkerError(f"the worker for {self.shown_path} ended while loading "
                              f"({_describe_exit(process.exitcode)})") from None
        if kind == "error":
            process.join(5)
            raise payload
        self.inputs, self.outputs = payload
        self._process, self._conn = process, parent
        log.info("model %s runs in worker process %d", self.shown_path, process.pid)

    def infer(self, inputs: dict[str, np.ndarray],
              output_names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Run the model in the worker; ModelNotReady (UNAVAILABLE) if the worker dies."""
        with self._lock:
            if self._restart_failed:
                self._start_again()
            process, conn = self._process, self._conn
            if process is None or conn is None:
                raise RuntimeError(f"{self.path} is not loaded")
            message = self._pack(inputs, output_names)
            try:
                conn.send(message)
                kind, payload = conn.recv()
            except (EOFError, OSError):
                self._restart_after_crash(process)
            if kind == "error":
                raise payload
            return payload

    def _pack(self, inputs: dict[str, np.ndarray], output_names: list[str] | None) -> tuple:
        """Numeric arrays go into the shared segment (as (dtype, shape, offset)); others as-is."""
        numeric = {n: a for n, a in inputs.items() if a.dtype != object}
        needed = sum(a.nbytes for a in numeric.values())
        if needed and (self._segment is None or self._segment.size < needed):
            self._segment = self._new_segment(max(_MIN_SEGMENT, needed * 2))
        segment = self._segment
        placed: dict[str, object] = {}
        offset = 0
        for name, array in inputs.items():
            if array.dtype == object or segment is None:
                placed[name] = array
                continue
            view = np.ndarray(array.shape, array.dtype, segment.buf, offset)
            view[...] = array
            placed[name] = (array.dtype.str, array.shape, offset)
            offset += array.nbytes
        return ("infer", segment.name if segment else None, placed, output_names)

    def _new_segment(self, size: int) -> SharedMemory:
        if self._segment is not None:
            self._segment.close()
            self._segment.unlink()
        return SharedMemory(create=True, size=size)

    def _restart_after_crash(self, process: BaseProcess) -> NoReturn:
        process.join(5)
        how = _describe_exit(process.exitcode)
        log.error("the worker of %s (pid %d) died during a request (%s); restarting it",
                  self.shown_path, process.pid, how)
        self._process = None
        try:
            self._start()
        except Exception:  # noqa: BLE001 - the next request tries again; the log says why
            log.exception("the worker of %s could not be restarted", self.shown_path)
            self._restart_failed = True
        raise WorkerCrashed(f"the model crashed while running this request ({how}) and has "
                            "been restarted; other requests were not affected")

    def _start_again(self) -> None:
        """After a failed restart, each request tries once more; UNAVAILABLE until one works."""
        try:
            self._start()
        except Exception as exc:
            log.exception("the worker of %s could not be started", self.shown_path)
            raise WorkerCrashed("the model's worker process could not be started again after "
                                "a crash; the server log says why") from exc
        self._restart_failed = False

    def unload(self) -> None:
        with self._lock:
            self._restart_failed = False
            if self._process is not None:
                try:
                    if self._conn is not None:
                        self._conn.send(("stop",))
                except OSError:
                    pass
                self._process.join(10)
                if self._process.is_alive():
                    self._process.kill()
                self._process = None
            if self._segment is not None:
                self._segment.close()
                self._segment.unlink()
                self._segment = None


def _serve(path: Path, options: RuntimeOptions, conn: Connection) -> None:
    """The worker process: load the model, then answer requests until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    runtime = OnnxRuntime(path, options)
    try:
        runtime.load()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ready", (runtime.inputs, runtime.outputs)))
    segment: SharedMemory | None = None
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the server is gone
            return
        if message[0] == "stop":
            return
        _, segment_name, placed, output_names = message
        if segment_name and (segment is None or segment.name != segment_name):
            if segment is not None:
                segment.close()
            segment = SharedMemory(name=segment_name)  # the server's resource tracker owns it
        inputs = {name: value if isinstance(value, np.ndarray) else _shared(segment, *value)
                  for name, value in placed.items()}
        reply: tuple[str, object]
        try:
            reply = ("ok", runtime.infer(inputs, output_names))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            reply = ("error", _portable(exc))
        del inputs
        conn.send(reply)


def _shared(segment: SharedMemory | None, dtype: str, shape: tuple[int, ...],
            offset: int) -> np.ndarray:
    """An input array the server placed in the shared segment."""
    if segment is None:
        raise WorkerError("a numeric input arrived without its shared memory segment")
    return np.ndarray(shape, np.dtype(dtype), segment.buf, offset)


def _portable(exc: Exception) -> Exception:
    """The exception as the parent should raise it: domain errors as they are, anything else
    as a WorkerError carrying the text (native exception types may not unpickle)."""
    if isinstance(exc, StriateError):
        return type(exc)(exc.message)
    return WorkerError(f"{type(exc).__name__}: {exc}")
