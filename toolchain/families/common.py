"""Pieces the families share: in-graph image normalisation, weights loading, random inputs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from toolchain.architectures import Architecture, BuildOptions, ExportError, register

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class NormalizeImage(nn.Module):
    """uint8 NHWC (0..255) -> float NCHW, (x / 255 - mean) / std; the one place for mean/std."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("scale", 1.0 / (255.0 * torch.tensor(std).view(1, -1, 1, 1)))
        self.register_buffer(
            "shift", torch.tensor(mean).view(1, -1, 1, 1) / torch.tensor(std).view(1, -1, 1, 1)
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image.permute(0, 3, 1, 2).to(torch.float32)
        return pixels * self.scale - self.shift


def random_images(
    rng: np.random.Generator, batch: int, height: int, width: int, channels: int = 3
) -> np.ndarray:
    """Random uint8 NHWC images."""
    return rng.integers(0, 256, size=(batch, height, width, channels), dtype=np.uint8)


def check_weights_option(options: BuildOptions) -> None:
    """Tiny configurations exist for tests and take random weights only."""
    if options.tiny and options.weights != "none":
        raise ExportError("--tiny builds a small test configuration: use it with --weights none")


def load_state_dict(model: nn.Module, path: str, skip_prefixes: tuple[str, ...] = ()) -> None:
    """Load a state dict file (torch.load with weights_only=True), with a clear error on mismatch.

    Keys starting with `skip_prefixes` (auxiliary training heads) are dropped first.
    """
    file = Path(path)
    if not file.is_file():
        raise ExportError(
            f"weights file {file} does not exist; pass a state dict file, 'default' or 'none'"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ExportError(
            f"cannot read {file} as a state dict ({type(error).__name__}); save it with "
            "torch.save(model.state_dict(), path)"
        ) from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ExportError(f"{file} holds a {type(state).__name__}, not a state dict")
    state = {k: v for k, v in state.items() if not k.startswith(skip_prefixes)}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_lines = "\n".join(str(error).splitlines()[:6])
        raise ExportError(
            f"the weights in {file} do not match this architecture (wrong architecture, or a "
            f"different number of classes: try --num-classes N):\n{first_lines}"
        ) from error


def download_default(load: Callable[[], nn.Module], what: str) -> nn.Module:
    """Build with the library's own weights (cache or download), or fail with what to do."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        return load()
    except Exception as error:
        raise ExportError(
            f"could not load the default weights of {what} ({type(error).__name__}: "
            f"{str(error)[:200]}). This machine cannot reach the hub: download them where you "
            "can, then pass the file with --weights PATH (or put it in the torch hub cache)."
        ) from error
    finally:
        socket.setdefaulttimeout(previous)


def register_torchvision(builder, *, task: str, trained_on: str, source: str, license: str,
                         input_note: str = "") -> None:
    """Register a torchvision builder (its `name`, `build` and `weights_enum`) as an
    architecture, described from its published weights' metadata."""
    meta = builder.weights_enum().meta
    register(
        Architecture(
            name=builder.name,
            task=task,
            description=f"torchvision {builder.name} ({trained_on}, "
            f"{meta['num_params'] / 1e6:.1f} M parameters{input_note})",
            source=source,
            license=license,
            build=builder.build,
            default_weights=f"torchvision {builder.weights_enum()}",
            published_parameters=meta["num_params"],
        )
    )
