"""Upscale: a photo made `scale` times wider and taller by a super-resolution network.

The network runs on tiles (SuperResolution metadata: `tile_side`, with `tile_margin` pixels of
the photo around each as context, cut off afterwards), so a big photo needs no more memory
than one tile, other callers' requests take turns with its tiles, and with a margin of at
least the network's receptive radius the pixels are those of one run over the whole photo.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from contract.metadata import SuperResolution

from ..codecs import encode_png
from ..core import InferenceCore
from ..errors import InvalidInput, ModelNotFound
from ..repository import LoadedModel
from .imaging import decode_photo
from .limits import TaskLimits
from .models import infer_one, resolve_model, task_of

TASK = "upscale"


@dataclass(frozen=True)
class Upscaled:
    png: bytes
    width: int
    height: int
    scale: int


def scale_of(model: LoadedModel) -> int:
    return model.metadata.section(SuperResolution).scale


def upscale_model(core: InferenceCore, name: str, version: str, scale: int) -> LoadedModel:
    """The named model (its scale checked when `scale` is set), or the default one, or when
    only `scale` is given, a served upscale model of that scale (the default first)."""
    if scale < 0:
        raise InvalidInput(f"scale must be positive (2 or 4), not {scale}; 0 takes the model's")
    model = resolve_model(core, TASK, name, version)
    if not scale or scale_of(model) == scale:
        return model
    if name:
        raise InvalidInput(f"model '{name}' upscales {scale_of(model)}x, not {scale}x; leave "
                           "the scale out or choose another model")
    served = sorted((m for m in core.models() if task_of(m) == TASK),
                    key=lambda m: (not m.metadata.default, m.name))
    match = next((m for m in served if scale_of(m) == scale), None)
    if match is None:
        scales = ", ".join(sorted({f"{scale_of(m)}x" for m in served}))
        raise ModelNotFound(f"no served model upscales {scale}x; the scales served are {scales}")
    return match


@dataclass(frozen=True)
class Tile:
    """A square of the photo (`top`..`bottom`, `left`..`right`) and the region fed to the
    network for it: the square with up to `margin` pixels around it (`region_top`, ...)."""

    top: int
    bottom: int
    left: int
    right: int
    region_top: int
    region_bottom: int
    region_left: int
    region_right: int


def tiles(height: int, width: int, side: int, margin: int) -> list[Tile]:
    """The tiles covering a photo, row by row."""
    found = []
    for top in range(0, height, side):
        for left in range(0, width, side):
            bottom, right = min(height, top + side), min(width, left + side)
            found.append(Tile(top, bottom, left, right, max(0, top - margin),
                              min(height, bottom + margin), max(0, left - margin),
                              min(width, right + margin)))
    return found


async def upscale(core: InferenceCore, model: LoadedModel, image: bytes,
                  limits: TaskLimits) -> Upscaled:
    """The photo upscaled by the model, as PNG."""
    section = model.metadata.section(SuperResolution)
    photo = np.asarray(await decode_photo(image, "image", limits), np.uint8)
    height, width = photo.shape[:2]
    if height * width > section.max_input_pixels:
        raise InvalidInput(f"the photo has {width}x{height} pixels; model '{model.name}' "
                           f"upscales at most {section.max_input_pixels:,} pixels (about "
                           f"{int(section.max_input_pixels ** 0.5)} squared): send a crop or "
                           "a smaller photo")
    s = section.scale
    out = np.empty((height * s, width * s, 3), np.uint8)
    for t in tiles(height, width, section.tile_side, section.tile_margin):
        region = photo[t.region_top:t.region_bottom, t.region_left:t.region_right]
        result = await infer_one(core, model, {"pixels": np.ascontiguousarray(region)})
        upscaled = np.asarray(result["upscaled_pixels"], np.uint8)
        top, left = t.top - t.region_top, t.left - t.region_left  # the tile within the region
        out[t.top * s:t.bottom * s, t.left * s:t.right * s] = upscaled[
            top * s:(top + t.bottom - t.top) * s, left * s:(left + t.right - t.left) * s]
    # a 16-megapixel PNG takes seconds to compress: not on the event loop
    png = await asyncio.to_thread(encode_png, out)
    return Upscaled(png, width * s, height * s, s)
