"""Dream: DeepDream. The photo climbs the gradient of how strongly a layer of an ImageNet
network responds to it, so it shows more of what that layer sees.

The model is a gradient graph (Dreaming metadata): float pixels and per-layer weights in, the
gradient of the dream score with respect to the pixels out. Around it this does what the
original DeepDream notebook did: octaves (the photo at several scales, 1.4 apart, smallest
first, the detail dreamt at one scale carried to the next), a few normalised gradient steps
per octave, each on the image shifted by a random jitter (seeded, so the same request dreams
the same). Sides are rounded to the graph's `size_multiple`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from PIL import Image

from contract.metadata import Dreaming

from ..codecs import encode_png
from ..core import InferenceCore
from ..errors import InvalidInput
from ..names import shown
from ..repository import LoadedModel
from .imaging import decode_photo
from .limits import TaskLimits
from .models import infer_one, model_file, read_lines, resolve_model
from .progress import Progress, no_progress

TASK = "dream"
OCTAVE_SCALE = 1.4
MAX_OCTAVES, MAX_ITERATIONS, MAX_STEP = 8, 100, 20.0
JITTER = 16  # pixels
SEED = 0


@dataclass(frozen=True)
class Dreamed:
    png: bytes
    width: int
    height: int
    layer: str
    layers: tuple[str, ...]
    score: float  # the dream score after the last step


@dataclass(frozen=True)
class DreamOptions:
    layer: str = ""
    octaves: int = 0  # 0: the model's default
    iterations: int = 0
    step: float = 0.0


def dream_model(core: InferenceCore, name: str, version: str) -> LoadedModel:
    return resolve_model(core, TASK, name, version, "build deepdream_mobilenet_v2 with `make "
                         "dream-model` (a minute, from PyPI) and restart the server")


def layers_of(model: LoadedModel) -> tuple[str, ...]:
    return read_lines(model_file(model, model.metadata.section(Dreaming).layers))


def _settings(model: LoadedModel, names: tuple[str, ...],
              options: DreamOptions) -> tuple[str, int, int, float]:
    """The layer, octaves, iterations and step of a request, checked, defaults filled in."""
    section = model.metadata.section(Dreaming)
    layer = options.layer.strip() or section.default_layer or names[0]
    if layer not in names:
        raise InvalidInput(f"model '{model.name}' has no layer {shown(layer)}; its layers are "
                           f"{', '.join(names)}")
    octaves = options.octaves or section.octaves
    iterations = options.iterations or section.iterations
    step = options.step or section.step
    if not (1 <= octaves <= MAX_OCTAVES and 1 <= iterations <= MAX_ITERATIONS
            and 0 < step <= MAX_STEP):
        raise InvalidInput(f"octaves must be 1 to {MAX_OCTAVES}, iterations 1 to "
                           f"{MAX_ITERATIONS} and step above 0 and at most {MAX_STEP:g} (got "
                           f"{octaves}, {iterations}, {step:g})")
    return layer, octaves, iterations, step


def _resized(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float HxWx3 array resized (bilinear) to `size` = (width, height)."""
    if (array.shape[1], array.shape[0]) == size:
        return array
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(array[..., c], np.float32))
                           .resize(size, Image.Resampling.BILINEAR)) for c in range(3)]
    return np.stack(channels, axis=-1)


def octave_sizes(width: int, height: int, octaves: int, multiple: int) -> list[tuple[int, int]]:
    """(width, height) of each octave, smallest first, sides multiples of `multiple`."""
    def rounded(side: float) -> int:
        return max(2 * multiple, round(side / multiple) * multiple)
    return [(rounded(width / OCTAVE_SCALE ** k), rounded(height / OCTAVE_SCALE ** k))
            for k in range(octaves - 1, -1, -1)]


async def _climb(core: InferenceCore, model: LoadedModel, image: np.ndarray,
                 weights: np.ndarray, iterations: int, step: float,
                 rng: np.random.Generator, progress: Progress, steps_before: int,
                 total_steps: int) -> tuple[np.ndarray, float]:
    score = 0.0
    for iteration in range(iterations):
        dy, dx = (int(v) for v in rng.integers(-JITTER, JITTER + 1, 2))
        shifted = np.roll(image, (dy, dx), axis=(0, 1))
        result = await infer_one(core, model, {"pixels": np.ascontiguousarray(shifted),
                                               "layer_weights": weights})
        gradient = np.roll(np.asarray(result["gradient"], np.float32), (-dy, -dx), axis=(0, 1))
        score = float(np.asarray(result["score"]).reshape(-1)[0])
        image = np.clip(image + step * gradient / (np.abs(gradient).mean() + 1e-12), 0, 255)
        progress(steps_before + iteration + 1, total_steps)
    return image, score


async def dream(core: InferenceCore, model: LoadedModel, image: bytes, options: DreamOptions,
                limits: TaskLimits, progress: Progress = no_progress) -> Dreamed:
    """The photo dreamt over, as PNG (its longer side at most the model's max_side); `progress`
    hears of every gradient step."""
    section, names = model.metadata.section(Dreaming), layers_of(model)
    layer, octaves, iterations, step = _settings(model, names, options)
    photo = await decode_photo(image, "image", limits)
    if max(photo.size) > section.max_side:
        photo.thumbnail((section.max_side, section.max_side), Image.Resampling.LANCZOS)
    if min(photo.size) < 2 * section.size_multiple:
        raise InvalidInput(f"the photo is too small ({photo.width}x{photo.height}); both "
                           f"sides need at least {2 * section.size_multiple} pixels")
    original = np.asarray(photo.convert("RGB"), np.float32)
    weights = np.eye(len(names), dtype=np.float32)[names.index(layer)]
    rng = np.random.default_rng(SEED)
    sizes = octave_sizes(photo.width, photo.height, octaves, section.size_multiple)
    detail = np.zeros((sizes[0][1], sizes[0][0], 3), np.float32)
    score = 0.0
    total = len(sizes) * iterations
    for octave, size in enumerate(sizes):
        base = _resized(original, size)
        dreamt, score = await _climb(core, model, base + _resized(detail, size), weights,
                                     iterations, step, rng, progress, octave * iterations, total)
        detail = dreamt - base
    result = np.clip(_resized(base + detail, photo.size), 0, 255).round().astype(np.uint8)
    png = await asyncio.to_thread(encode_png, result)
    return Dreamed(png, photo.width, photo.height, layer, names, score)
