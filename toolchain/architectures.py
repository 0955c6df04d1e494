"""Architecture declarations and their registry.

An architecture is a small declaration: its task, where it comes from, and a `build` function
that returns the components to export. A component is one ONNX graph served as one model: a
PyTorch module that takes exactly the tensors the server sends (uint8 NHWC images, token ids,
audio) and returns exactly the tensors the task needs, with the config.pbtxt entries and the
inputs used to export and to verify it. Families (classification, detection, ...) register
their architectures in `toolchain/families/`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from contract.batching import DEFAULT_MAX_BATCH_SIZE
from toolchain.model_folder import TensorSpec

FAMILIES = ["classification", "detection", "segmentation", "captioning", "vqa", "speech"]


class ExportError(Exception):
    """An export cannot go on; the message says what to do."""


@dataclass
class BuildOptions:
    """What the user asked for: weights ("none", "default" or a path) and overrides."""

    weights: str = "none"
    tiny: bool = False  # the small configuration tests use (random weights only)
    num_classes: int | None = None
    labels: list[str] | None = None
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    image_size: int | None = None
    decoder_kind: str = "kv_cache"  # text decoders: "kv_cache" or "full_sequence"


# make_inputs(purpose, rng) -> named arrays; purpose is "dummy" (export) or "verify" (a batch
# and, where the graph allows it, an image size other than the dummy's).
InputMaker = Callable[[str, np.random.Generator], dict[str, np.ndarray]]


@dataclass
class Component:
    """One ONNX graph of an export, served as its own model."""

    suffix: str  # appended to the model name: "" for the task model, "_decoder", ...
    module: torch.nn.Module  # takes the inputs in order, returns the outputs in order
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    max_batch_size: int
    make_inputs: InputMaker
    parameters: dict[str, str]  # "{name}" in a value becomes the exported model's name
    tolerance: float = 1e-4  # max abs difference allowed on float outputs
    mismatch_tolerance: float = 0.0  # fraction of integer elements allowed to differ
    dynamo: bool = False
    labels: list[str] | None = None
    files: dict[str, bytes | str | Path] = field(default_factory=dict)
    # exported instead of `module` when the stock module cannot be exported as is (it must
    # compute the same function; verification compares the graph with `module`)
    export_module: torch.nn.Module | None = None
    # purposes passed to make_inputs when verifying (each a separate check)
    verify_purposes: tuple[str, ...] = ("verify",)


@dataclass
class Architecture:
    """A registered architecture: `build(options)` returns its components."""

    name: str
    task: str
    description: str
    source: str
    license: str
    build: Callable[[BuildOptions], list[Component]]
    default_weights: str = ""  # what --weights default loads, in words
    published_parameters: int | None = None


_REGISTRY: dict[str, Architecture] = {}


def register(architecture: Architecture) -> Architecture:
    """Add an architecture to the registry (families call this at import)."""
    if architecture.name in _REGISTRY:
        raise ValueError(f"architecture {architecture.name!r} registered twice")
    _REGISTRY[architecture.name] = architecture
    return architecture


def unregister(name: str) -> None:
    """Remove an architecture (tests that register throwaway ones clean up with it)."""
    _REGISTRY.pop(name, None)


def architectures() -> dict[str, Architecture]:
    """Every registered architecture by name (imports the families on first use)."""
    for family in FAMILIES:
        importlib.import_module(f"toolchain.families.{family}")
    return dict(_REGISTRY)


def get(name: str) -> Architecture:
    """The architecture called `name`, or an ExportError naming close matches."""
    known = architectures()
    if name in known:
        return known[name]
    close = [n for n in known if name.lower() in n or n in name.lower()][:8]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ExportError(
        f"unknown architecture {name!r}.{hint} `python -m toolchain list` shows them all."
    )
