"""Server wiring: one grpc.aio server with both APIs, health, reflection; the HTTP side;
model loading; graceful shutdown."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contract.protocol import POOL
from contract.protocol import grpc_service_pb2 as pb
from contract.protocol import grpc_service_pb2_grpc as pb_grpc

from .core import InferenceCore
from .errors import StriateError
from .http import HttpContext, HttpServer, build_app
from .http.guard import HttpLimits
from .repository import ModelRepository
from .rpc import ErrorMapping, MalformedMessages
from .security import TlsFiles, TokenCheck, TokenFileError, Tokens, install_token_check
from .settings import Settings
from .stats import Metrics
from .v2.dataplane import ControlSettings, DataPlane
from .v2.servicer import InferenceServicer

log = logging.getLogger(__name__)


class ServerState:
    """What the health endpoints report."""

    def __init__(self, explicit: bool) -> None:
        self.explicit = explicit
        self.started = False
        self.stopping = False

    @property
    def ready(self) -> bool:
        return self.started and not self.stopping


class Server:
    """The whole server process: build, start, serve until a signal, stop gracefully."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        workers = max(4, (os.cpu_count() or 2) * 2)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer")
        self.repository = ModelRepository(settings, self.executor, self.metrics)
        self.core = InferenceCore(self.repository)
        self.state = ServerState(settings.model_control_mode == "explicit")
        self.dataplane = DataPlane(self.core, self.state, ControlSettings(
            explicit=self.state.explicit, allow_file_overrides=settings.allow_file_overrides,
            max_override_bytes=settings.max_override_mb << 20))
        self.tokens = _tokens(settings)
        self.tls = _tls_files(settings)
        self.health = health.aio.HealthServicer()
        self.service_names: list[str] = []
        self.grpc_server = self._build_grpc()
        app = build_app(HttpContext(self.core, self.metrics, settings, lambda: self.state.ready,
                                    self.dataplane))
        if self.tokens:
            install_token_check(app, self.tokens)
        self.http = HttpServer(app, grace_s=settings.shutdown_grace,
                               tls=self.tls.uvicorn_options() if self.tls else {},
                               limits=HttpLimits(settings.http_request_timeout,
                                                 settings.http_idle_timeout,
                                                 settings.http_max_connections))
        self.grpc_port = 0
        self.http_port = 0

    def _build_grpc(self) -> grpc.aio.Server:
        limit = self.settings.max_message_bytes
        interceptors = [TokenCheck(self.tokens)] if self.tokens else []
        server = grpc.aio.server(interceptors=[*interceptors, MalformedMessages(),
                                               ErrorMapping()],
                                 options=[("grpc.max_send_message_length", limit),
                                          ("grpc.max_receive_message_length", limit)])
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(
            InferenceServicer(self.dataplane), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name]
        names += _add_task_service(server, self.core, self.settings)
        self.service_names = names
        if self.settings.reflection:
            names = names + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                             reflection.SERVICE_NAME]
            reflection.enable_server_reflection(names, server, pool=_reflection_pool(names))
        return server

    async def start(self) -> None:
        check_thread_pool(self.settings)
        if self.settings.device == "cuda":
            check_cuda_provider()
        address = f"{self.settings.host}:{self.settings.grpc_port}"
        if self.tls:
            self.grpc_port = self.grpc_server.add_secure_port(address,
                                                              self.tls.grpc_credentials())
        else:
            self.grpc_port = self.grpc_server.add_insecure_port(address)
        if not self.grpc_port:
            raise SystemExit(f"cannot bind the gRPC port {address}")
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.grpc_server.start()
        self.http_port = await self.http.start(self.settings.host, self.settings.http_port)
        log.info("gRPC on %s, HTTP on %s:%d", self.grpc_port, self.settings.host,
                 self.http_port)
        await self._load_models()
        self.state.started = True
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self._write_ready_file()
        log.info("ready: %d model(s) serving", len(self.repository.ready_models()))

    async def _load_models(self) -> None:
        if self.state.explicit:
            names = list(self.settings.load_model)
        else:
            names = self.repository.folder_names()
        for name in names:
            try:
                await self.repository.load(name)
            except StriateError:
                pass  # logged, and kept as the model's reason in RepositoryIndex

    def _write_ready_file(self) -> None:
        path = self.settings.ready_file
        if path is None:
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"grpc_port": self.grpc_port, "http_port": self.http_port,
                                   "pid": os.getpid()}))
        tmp.replace(path)

    async def _set_health(self, status) -> None:
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Refuse new work, let in-flight requests finish, then unload everything."""
        log.info("shutting down: finishing in-flight requests")
        self.state.stopping = True
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await asyncio.gather(self.grpc_server.stop(self.settings.shutdown_grace),
                             self.http.stop())
        await self.repository.unload_all()
        self.dataplane.close()
        self.executor.shutdown(wait=True)
        log.info("stopped")

    async def serve_forever(self) -> None:
        stop = asyncio.Event()
        _handle_stop_signals(asyncio.get_running_loop(), stop)
        await self.start()
        await stop.wait()
        await self.stop()


def _handle_stop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT: the first starts the graceful shutdown, a second is logged and changes
    nothing (exit 0 still), a third forces the exit. Process-level handlers, not the loop's,
    so that they also cover the moments after the loop has closed."""
    received = []

    def on_signal(signum: int, frame) -> None:
        received.append(signum)
        if len(received) == 1:
            loop.call_soon_threadsafe(stop.set)
        elif len(received) == 2:
            log.warning("shutdown already under way, finishing in-flight requests; "
                        "signal once more to force the exit")
        else:
            log.error("forced exit before in-flight requests finished")
            os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def _tokens(settings: Settings) -> Tokens | None:
    if settings.token_file is None:
        return None
    try:
        return Tokens.read(settings.token_file, settings.open_health)
    except (OSError, TokenFileError) as exc:
        raise SystemExit(f"--token-file: {exc}") from exc


def _tls_files(settings: Settings) -> TlsFiles | None:
    if not (settings.tls_cert or settings.tls_key or settings.tls_client_ca):
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise SystemExit("TLS needs both --tls-cert and --tls-key (and optionally "
                         "--tls-client-ca for mutual TLS)")
    for path in (settings.tls_cert, settings.tls_key, settings.tls_client_ca):
        if path is not None and not path.is_file():
            raise SystemExit(f"TLS file {path} does not exist")
    return TlsFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca)


def check_thread_pool(settings: Settings) -> None:
    """Exit at startup when --thread-pool shared could not do what it says."""
    if settings.thread_pool == "shared" and (settings.device != "cpu"
                                             or settings.model_isolation != "none"):
        raise SystemExit("--thread-pool shared is for models run on the CPU in the server "
                         "process: use it with --device cpu and --model-isolation none, or "
                         "drop it")


def check_cuda_provider() -> None:
    """Exit at startup, with the reason, when --device cuda cannot be honoured."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
        except Exception as exc:  # noqa: BLE001 - reported below if CUDA is then missing
            log.warning("onnxruntime.preload_dlls failed: %s", exc)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise SystemExit(
            f"--device cuda: the installed onnxruntime {ort.__version__} has no CUDA provider "
            f"(it offers {ort.get_available_providers()}); install onnxruntime-gpu "
            "(pip install '.[gpu]') with CUDA 13 and cuDNN 9, or run with --device cpu"
        )


def _reflection_pool(service_names: list[str]) -> descriptor_pool.DescriptorPool:
    """One pool with the .proto files of every service served, for server reflection.

    Our stubs live in `contract.protocol.POOL` (apart from tritonclient's copy of the v2
    protos), health and reflection in protobuf's default pool; reflection answers from a
    single pool, so it gets a copy of each service's file, dependencies first.
    """
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        pool.AddSerializedFile(file.serialized_pb)
        added.add(file.name)

    for name in service_names:
        try:
            service = POOL.FindServiceByName(name)
        except KeyError:
            service = descriptor_pool.Default().FindServiceByName(name)
        add(service.file)
    return pool


def _add_task_service(server: grpc.aio.Server, core: InferenceCore,
                      settings: Settings) -> list[str]:
    """Register the task API when it is present (service/tasks/servicer.py)."""
    if importlib.util.find_spec(f"{__package__}.tasks.servicer") is None:
        return []
    from .tasks.limits import task_limits
    from .tasks.servicer import add_task_service

    return add_task_service(server, core, task_limits(settings))
