"""Segmentation: an image -> a class map of the original image's size (PNG) and class shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codecs import encode_png
from ..core import InferenceCore
from ..repository import LoadedModel
from .imaging import Placement, prepare_image_async
from .limits import TaskLimits
from .models import infer_one, label, labels_of, output_name

RESULT_BYTES_PER_PIXEL = 16
"""Peak bytes per original pixel while the class map is scaled back, counted and encoded."""


@dataclass(frozen=True)
class ClassShare:
    index: int
    label: str
    pixel_fraction: float


@dataclass(frozen=True)
class SegmentResult:
    class_map_png: bytes
    class_names: list[str]
    shares: list[ClassShare]
    width: int
    height: int


def class_shares(class_map: np.ndarray, labels: tuple[str, ...]) -> list[ClassShare]:
    """Each class present with its share of the pixels, largest first."""
    counts = np.bincount(class_map.reshape(-1).astype(np.int64))
    present = np.flatnonzero(counts)
    total = class_map.size
    shares = [ClassShare(int(i), label(labels, int(i)), counts[i] / total) for i in present]
    return sorted(shares, key=lambda share: -share.pixel_fraction)


async def segment(core: InferenceCore, model: LoadedModel, image: bytes,
                  limits: TaskLimits) -> SegmentResult:
    array, placement = await prepare_image_async(image, model, limits)
    output = output_name(model, "class_map")
    result = await infer_one(core, model, {"image": array}, [output])
    labels = labels_of(model, output)
    width, height = placement.original_size
    return await limits.decode_budget.run(width * height * RESULT_BYTES_PER_PIXEL, _result,
                                          np.asarray(result[output]), placement, labels)


def _result(class_map: np.ndarray, placement: Placement, labels: tuple[str, ...]) -> SegmentResult:
    if class_map.ndim == 3:  # [1, H, W] from a graph that keeps a singleton axis
        class_map = class_map.reshape(class_map.shape[-2:])
    original = placement.map_to_original(class_map)
    width, height = placement.original_size
    return SegmentResult(
        class_map_png=encode_png(np.clip(original, 0, 255).astype(np.uint8)),
        class_names=list(labels),
        shares=class_shares(original, labels),
        width=width,
        height=height,
    )
