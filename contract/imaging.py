"""Fitting an image into a model's input: stretch, letterbox or centre crop, in one place.

The server's task API, the toolchain's sample expectations and the quantisation calibration
all place images with `fit`, so an answer computed offline is the server's answer. A
`Placement` remembers where the original went (input = original * scale + offset), so boxes
and masks computed on the model's input come back in the original pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .metadata import ImageInput

FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "nearest": Image.Resampling.NEAREST}


@dataclass(frozen=True)
class Placement:
    """Where the original image lies in the model's input: input = original * scale + offset."""

    original_size: tuple[int, int]  # (width, height)
    input_size: tuple[int, int]  # (width, height)
    scale: tuple[float, float]  # (x, y)
    offset: tuple[int, int]  # (x, y); negative where a crop cut the original

    def boxes_to_original(self, boxes: np.ndarray) -> np.ndarray:
        """[N, 4] x1, y1, x2, y2 in input pixels -> original pixels, clipped to the image."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        offset = np.array(self.offset * 2, dtype=np.float32)
        scale = np.array(self.scale * 2, dtype=np.float32)
        mapped = (boxes - offset) / scale
        width, height = self.original_size
        return np.clip(mapped, 0, np.array([width, height, width, height], dtype=np.float32))

    def map_to_original(self, class_map: np.ndarray) -> np.ndarray:
        """[H, W] class indices on the input -> the original image's size (nearest); pixels a
        crop cut away are class 0 (the background)."""
        width, height = self.original_size
        if min(self.offset) < 0:
            return self._uncrop(class_map)
        x0, y0 = self.offset
        content_w = max(1, round(width * self.scale[0]))
        content_h = max(1, round(height * self.scale[1]))
        crop = class_map[y0 : y0 + content_h, x0 : x0 + content_w]
        if crop.shape == (height, width):
            return crop
        resized = Image.fromarray(crop.astype(np.int32)).resize((width, height),
                                                                 Image.Resampling.NEAREST)
        return np.asarray(resized)

    def _uncrop(self, class_map: np.ndarray) -> np.ndarray:
        width, height = self.original_size
        xs = np.floor((np.arange(width) + 0.5) * self.scale[0] + self.offset[0]).astype(int)
        ys = np.floor((np.arange(height) + 0.5) * self.scale[1] + self.offset[1]).astype(int)
        inside = (ys[:, None] >= 0) & (ys[:, None] < class_map.shape[0]) & \
                 (xs[None, :] >= 0) & (xs[None, :] < class_map.shape[1])
        picked = class_map[np.clip(ys, 0, class_map.shape[0] - 1)[:, None],
                           np.clip(xs, 0, class_map.shape[1] - 1)[None, :]]
        return np.where(inside, picked, 0).astype(class_map.dtype)


def for_input(spec: ImageInput, dims: tuple[int, ...]) -> ImageInput:
    """The spec with `image_size` and `channels` completed from the input's dims [H, W, C]."""
    fixed = len(dims) == 3 and dims[0] > 0 and dims[1] > 0
    size = spec.image_size or ((int(dims[0]), int(dims[1])) if fixed else None)
    channels = spec.channels or (int(dims[2]) if len(dims) == 3 and dims[2] > 0 else 3)
    return dataclasses.replace(spec, image_size=size, channels=channels)


def fit(image: Image.Image, spec: ImageInput) -> tuple[np.ndarray, Placement]:
    """A decoded image -> the model's input array [H, W, C] uint8 and its placement."""
    size = spec.image_size
    if size is None or size == (image.height, image.width):
        placed = image
        placement = Placement(image.size, image.size, (1.0, 1.0), (0, 0))
    elif spec.resize == "letterbox":
        placed, placement = _letterbox(image, spec, size)
    elif spec.resize == "center_crop":
        placed, placement = _center_crop(image, spec, size)
    else:
        placed, placement = _stretch(image, spec, size)
    array = np.asarray(placed, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return np.ascontiguousarray(array), placement


def fit_array(image: np.ndarray, spec: ImageInput) -> tuple[np.ndarray, Placement]:
    """`fit` for a uint8 [H, W, C] or [H, W] array (the toolchain's photos and samples)."""
    squeezed = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    return fit(Image.fromarray(np.asarray(squeezed, dtype=np.uint8)), spec)


def _stretch(image: Image.Image, spec: ImageInput,
             size: tuple[int, int]) -> tuple[Image.Image, Placement]:
    height, width = size
    placed = image.resize((width, height), FILTERS[spec.interpolation])
    return placed, Placement(image.size, (width, height),
                             (width / image.width, height / image.height), (0, 0))


def _letterbox(image: Image.Image, spec: ImageInput,
               size: tuple[int, int]) -> tuple[Image.Image, Placement]:
    height, width = size
    scale = min(width / image.width, height / image.height)
    content = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    offset = ((width - content[0]) // 2, (height - content[1]) // 2)
    fill = spec.pad_value if image.mode == "L" else (spec.pad_value,) * len(image.mode)
    canvas = Image.new(image.mode, (width, height), fill)
    canvas.paste(image.resize(content, FILTERS[spec.interpolation]), offset)
    placement = Placement(image.size, (width, height),
                          (content[0] / image.width, content[1] / image.height), offset)
    return canvas, placement


def _center_crop(image: Image.Image, spec: ImageInput,
                 size: tuple[int, int]) -> tuple[Image.Image, Placement]:
    """torchvision's preset: the shorter side resized to `resize_size`, the centre cut out."""
    height, width = size
    shorter = spec.resize_size or min(height, width)
    if image.width <= image.height:
        resized_size = (shorter, int(shorter * image.height / image.width))
    else:
        resized_size = (int(shorter * image.width / image.height), shorter)
    resized_size = (max(width, resized_size[0]), max(height, resized_size[1]))
    resized = image.resize(resized_size, FILTERS[spec.interpolation])
    left = int(round((resized_size[0] - width) / 2.0))
    top = int(round((resized_size[1] - height) / 2.0))
    placed = resized.crop((left, top, left + width, top + height))
    placement = Placement(image.size, (width, height),
                          (resized_size[0] / image.width, resized_size[1] / image.height),
                          (-left, -top))
    return placed, placement
