"""Server settings: one typed object, read from command-line flags and STRIATE_* variables.

Each setting is declared once, as a field of `Settings` made with `setting(default, help)`;
its flag and its environment variable follow from the field's name and type:

    model_isolation: str = setting(
        "none", "process: every model version runs in its own worker process, so a native "
        "crash fails only that model's in-flight requests (UNAVAILABLE) and the worker "
        "restarts; none: models run in the server process (see README, Security, for the "
        "cost)", choices=("none", "process"))
    max_queue_size: int = setting(DEFAULT_MAX_QUEUE_SIZE,
                                  "queue bound for models whose config sets none")
    ->  --max-queue-size N,  STRIATE_MAX_QUEUE_SIZE=N,  settings.max_queue_size

A flag beats the variable, which beats the default. Types: int, float, str (with `choices`),
Path, bool (`--x` / `--no-x`; the variable takes 1/0, true/false, yes/no, on/off), an optional
one of those (`Path | None`), and tuple[str, ...] (a repeatable flag; the variable takes a
comma-separated list). Adding a setting is adding a field: nothing else to write.
"""

from __future__ import annotations

import argparse
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from contract.batching import DEFAULT_MAX_QUEUE_SIZE

ENV_PREFIX = "STRIATE_"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def setting(default: Any, help: str, *, choices: tuple[str, ...] = (),
            metavar: str | None = None) -> Any:
    """Declare one setting: its default and the sentence `--help` shows for it."""
    return field(default=default,
                 metadata={"help": help, "choices": choices, "metavar": metavar})


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. Per-model settings live in each config.pbtxt."""

    model_repository: Path = setting(
        Path("exported_models"),
        "folder of model folders: <model>/config.pbtxt, <model>/<version>/model.onnx")
    grpc_port: int = setting(8001, "gRPC port for the v2 protocol and the task API; 0 lets the "
                             "OS pick one")
    http_port: int = setting(8000, "HTTP port: the demo page at /, the HTTP task API, KServe v2 "
                             "REST (/v2/...), /metrics; 0 lets the OS pick one")
    host: str = setting("0.0.0.0", "address both ports bind to")
    device: str = setting("cpu", "where models run; cuda needs onnxruntime-gpu, and a model "
                          "that would not run on the GPU fails to load", choices=("cpu", "cuda"))
    model_control_mode: str = setting(
        "none", "none: load every model at start; explicit: load and unload with the "
        "RepositoryModelLoad/Unload RPCs", choices=("none", "explicit"))
    load_model: tuple[str, ...] = setting(
        (), "in explicit mode, a model to load at start (repeatable)", metavar="NAME")
    max_message_mb: int = setting(256, "largest gRPC message, MiB, both ways")
    intra_op_threads: int = setting(0, "ONNX Runtime threads per execution; 0 = one per core")
    intra_op_spinning: str = setting(
        "within-runs", "when ONNX Runtime's idle threads spin for work instead of sleeping: "
        "within-runs (during an execution, which keeps small models fast; they stop when it "
        "returns, leaving the cores to the event loop and gRPC between requests), never "
        "(for oversubscribed hosts), always (ONNX Runtime's own default: they also spin "
        "between requests, which burns CPU); see README, Performance",
        choices=("never", "within-runs", "always"))
    thread_pool: str = setting(
        "per-model", "ONNX Runtime's intra-op threads: per-model (each model's own pool, "
        "spinning as --intra-op-spinning says) or shared (one pool of --intra-op-threads for "
        "every model, so models busy at once do not oversubscribe the cores; it spins between "
        "requests like always; needs --device cpu and --model-isolation none, and refuses "
        "models whose config sets thread counts); see README, Performance",
        choices=("per-model", "shared"))
    model_isolation: str = setting(
        "none", "process: every model version runs in its own worker process, so a native "
        "crash fails only that model's in-flight requests (UNAVAILABLE) and the worker "
        "restarts; none: models run in the server process (see README, Security, for the "
        "cost)", choices=("none", "process"))
    max_queue_size: int = setting(DEFAULT_MAX_QUEUE_SIZE,
                                  "queue bound for models whose config sets none")
    shutdown_grace: float = setting(30.0, "seconds in-flight requests get to finish on SIGTERM")
    ready_file: Path | None = setting(
        None, "write the bound ports as JSON to this file once ready (for scripts and tests)")
    log_level: str = setting("INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    max_image_pixels: int = setting(
        40_000_000, "task API: largest image, width x height, refused before decoding")
    max_audio_seconds: float = setting(300.0, "task API: longest recording")
    max_question_chars: int = setting(1000, "task API: longest VQA question")
    max_decodes: int = setting(4, "task API: image and audio decodes at once; more wait")
    decode_memory_mb: int = setting(
        1024, "task API: MiB the decodes running at once may hold together, estimated from "
        "each upload's header; an upload that alone needs more is refused")
    allow_file_overrides: bool = setting(
        False, "model control: accept file: contents in load requests, written to a private "
        "folder outside the repository (off by default: a client could then run any model file)")
    max_override_mb: int = setting(256, "model control: the most MiB of file: contents one "
                                   "load request may carry")
    http_request_timeout: float = setting(
        30.0, "HTTP: seconds a client has to send a whole request, headers and body; slower "
        "connections are closed")
    http_idle_timeout: float = setting(5.0, "HTTP: seconds an idle keep-alive connection "
                                       "stays open")
    http_max_connections: int = setting(1000, "HTTP: open connections at most; more are "
                                        "closed at once")
    tls_cert: Path | None = setting(
        None, "PEM certificate chain: serve both ports over TLS (with --tls-key)")
    tls_key: Path | None = setting(None, "PEM private key of --tls-cert")
    tls_client_ca: Path | None = setting(
        None, "PEM CA bundle: mutual TLS, clients must present a certificate it signed")
    token_file: Path | None = setting(
        None, "bearer tokens with scopes, one 'TOKEN infer|admin' a line: every call then "
        "needs 'authorization: Bearer TOKEN' (admin: model load/unload, log/trace settings)")
    open_health: bool = setting(
        True, "with --token-file, health checks and /metrics still answer without a token")
    reflection: bool = setting(True, "gRPC server reflection (lists the services and their "
                               "messages to tools such as grpcurl)")

    @property
    def max_message_bytes(self) -> int:
        """`max_message_mb` in bytes."""
        return self.max_message_mb << 20


def setting_spec(name: str) -> Field:
    """One setting's declaration (default, help, choices in `.metadata`), by field name."""
    return next(spec for spec in fields(Settings) if spec.name == name)


def flag_of(name: str) -> str:
    """The command-line flag of a setting: `max_queue_size` -> `--max-queue-size`."""
    return "--" + name.replace("_", "-")


def env_of(name: str) -> str:
    """The environment variable of a setting: `max_queue_size` -> `STRIATE_MAX_QUEUE_SIZE`."""
    return ENV_PREFIX + name.upper()


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE - {''})}")


def _base_type(annotation: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (base,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return base
    return annotation


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is tuple


def _converter(annotation: Any) -> Callable[[str], Any]:
    base = _base_type(annotation)
    if _is_list(base):
        return lambda text: tuple(part.strip() for part in text.split(",") if part.strip())
    if base is bool:
        return _parse_bool
    return base


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def _help(spec: Field) -> str:
    text = spec.metadata["help"]
    if spec.default not in (None, (), MISSING):
        text += f" (default: {spec.default})"
    return f"{text} [{env_of(spec.name)}]".replace("%", "%%")


def _add_flag(parser: argparse.ArgumentParser, spec: Field, annotation: Any) -> None:
    base = _base_type(annotation)
    options: dict[str, Any] = {"default": None, "help": _help(spec), "dest": spec.name}
    if spec.metadata["metavar"]:
        options["metavar"] = spec.metadata["metavar"]
    if base is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif _is_list(base):
        options["action"] = "append"
    else:
        options["type"] = base
        if spec.metadata["choices"]:
            options["choices"] = spec.metadata["choices"]
    parser.add_argument(flag_of(spec.name), **options)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m service` command line, one flag per field of `Settings`."""
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Striate: serve the ONNX models of a model repository over gRPC "
        "(KServe v2 / Triton protocol and the task API) with dynamic batching. "
        f"Every flag can also be set as an environment variable {ENV_PREFIX}<FLAG> "
        f"(for example {ENV_PREFIX}GRPC_PORT=9001), shown in brackets; a flag beats "
        "its variable.",
    )
    hints = _hints()
    for spec in fields(Settings):
        _add_flag(parser, spec, hints[spec.name])
    return parser


def _from_environment(parser: argparse.ArgumentParser, spec: Field, annotation: Any,
                      raw: str) -> Any:
    name = env_of(spec.name)
    try:
        value = _converter(annotation)(raw)
    except ValueError as exc:
        parser.error(f"{name}={raw!r} is not a valid {spec.name}: {exc}")
    choices = spec.metadata["choices"]
    if choices and value not in choices:
        parser.error(f"{name}={raw!r}: choose from {', '.join(choices)}")
    return value


def settings_from_args(argv: list[str] | None = None,
                       environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags, then STRIATE_* variables (`environ`, default os.environ), then
    the declared defaults."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    hints = _hints()
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        given = getattr(args, spec.name)
        if given is not None:
            values[spec.name] = tuple(given) if _is_list(hints[spec.name]) else given
        elif env_of(spec.name) in environ:
            values[spec.name] = _from_environment(parser, spec, hints[spec.name],
                                                  environ[env_of(spec.name)])
    return Settings(**values)
