"""Server settings: one typed object, read from command-line flags and STRIATE_* variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MESSAGE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start. Per-model settings live in each config.pbtxt."""

    model_repository: Path
    """Folder of model folders in Triton's layout (see docs/model-folders.md)."""
    grpc_port: int = 8001
    """gRPC port for the v2 protocol and the task API; 0 lets the OS pick one."""
    http_port: int = 8000
    """HTTP port: the demo page, the HTTP task API, /metrics and /v2/health/*; 0 picks one."""
    host: str = "0.0.0.0"
    """Address both ports bind to."""
    device: str = "cpu"
    """`cpu` or `cuda`. With `cuda`, a model that would not run on the GPU fails to load."""
    model_control_mode: str = "none"
    """`none`: load every model at start, no load/unload RPCs. `explicit`: load on request."""
    load_models: tuple[str, ...] = ()
    """In explicit mode, models to load at start."""
    max_message_bytes: int = DEFAULT_MESSAGE_BYTES
    """Largest gRPC message accepted or sent, both ways."""
    intra_op_threads: int = 0
    """ONNX Runtime threads per execution (0: its default, one per core)."""
    default_max_queue_size: int = 1024
    """Queue bound for models whose config sets none."""
    shutdown_grace_s: float = 30.0
    """On SIGTERM, how long in-flight requests get to finish."""
    ready_file: Path | None = None
    """Written (JSON with the bound ports) once the server is ready; for scripts and tests."""
    log_level: str = "INFO"
    max_image_pixels: int = 40_000_000
    """Task API: largest image (width x height), checked from the header before decoding."""
    max_audio_seconds: float = 300.0
    """Task API: longest recording."""
    max_question_chars: int = 1000
    """Task API: longest VQA question."""


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STRIATE_{name.upper()}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Striate: serve the ONNX models of a model repository over gRPC "
        "(KServe v2 / Triton protocol and the task API) with dynamic batching. "
        "Every flag can also be set as an environment variable STRIATE_<FLAG> "
        "(for example STRIATE_GRPC_PORT=9001).",
    )
    parser.add_argument("--model-repository", type=Path,
                        default=Path(_env("model_repository", "exported_models")),
                        help="folder of model folders: <model>/config.pbtxt, <model>/<version>/"
                        "model.onnx (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=int(_env("grpc_port", "8001")),
                        help="gRPC port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--http-port", type=int, default=int(_env("http_port", "8000")),
                        help="HTTP port: the demo page at /, the HTTP task API, /metrics, "
                        "/v2/health (default: %(default)s)")
    parser.add_argument("--host", default=_env("host", "0.0.0.0"),
                        help="address to bind (default: %(default)s)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=_env("device", "cpu"),
                        help="where models run; cuda needs onnxruntime-gpu and fails loudly "
                        "without it (default: %(default)s)")
    parser.add_argument("--model-control-mode", choices=["none", "explicit"],
                        default=_env("model_control_mode", "none"),
                        help="none: load everything at start; explicit: load and unload with "
                        "the RepositoryModelLoad/Unload RPCs (default: %(default)s)")
    parser.add_argument("--load-model", action="append", default=[], metavar="NAME",
                        help="in explicit mode, a model to load at start (repeatable)")
    parser.add_argument("--max-message-mb", type=int,
                        default=int(_env("max_message_mb", str(DEFAULT_MESSAGE_BYTES >> 20))),
                        help="largest gRPC message, MiB, both ways (default: %(default)s)")
    parser.add_argument("--intra-op-threads", type=int,
                        default=int(_env("intra_op_threads", "0")),
                        help="ONNX Runtime threads per execution; 0 = one per core "
                        "(default: %(default)s)")
    parser.add_argument("--max-queue-size", type=int,
                        default=int(_env("max_queue_size", "1024")),
                        help="queue bound for models whose config sets none "
                        "(default: %(default)s)")
    parser.add_argument("--shutdown-grace", type=float,
                        default=float(_env("shutdown_grace", "30")),
                        help="seconds in-flight requests get on SIGTERM (default: %(default)s)")
    parser.add_argument("--ready-file", type=Path, default=None,
                        help="write the bound ports as JSON to this file once ready")
    parser.add_argument("--max-image-pixels", type=int,
                        default=int(_env("max_image_pixels", "40000000")),
                        help="task API: largest image, width x height, refused before decoding "
                        "(default: %(default)s)")
    parser.add_argument("--max-audio-seconds", type=float,
                        default=float(_env("max_audio_seconds", "300")),
                        help="task API: longest recording (default: %(default)s)")
    parser.add_argument("--max-question-chars", type=int,
                        default=int(_env("max_question_chars", "1000")),
                        help="task API: longest question (default: %(default)s)")
    parser.add_argument("--log-level", default=_env("log_level", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="(default: %(default)s)")
    return parser


def settings_from_args(argv: list[str] | None = None) -> Settings:
    """Parse flags (falling back to STRIATE_* variables) into Settings."""
    args = build_parser().parse_args(argv)
    return Settings(
        model_repository=args.model_repository,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        host=args.host,
        device=args.device,
        model_control_mode=args.model_control_mode,
        load_models=tuple(args.load_model),
        max_message_bytes=args.max_message_mb << 20,
        intra_op_threads=args.intra_op_threads,
        default_max_queue_size=args.max_queue_size,
        shutdown_grace_s=args.shutdown_grace,
        ready_file=args.ready_file,
        log_level=args.log_level,
        max_image_pixels=args.max_image_pixels,
        max_audio_seconds=args.max_audio_seconds,
        max_question_chars=args.max_question_chars,
    )
