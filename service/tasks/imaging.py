"""Image pre-processing from a model's config, and mapping results back to the original image.

Models take `image` UINT8 NHWC; `image_size` ("H,W", else the input's fixed dims) is the size
it expects, `resize` is `stretch` or `letterbox` (aspect kept, padded with `pad_value`,
centred), `channels` is 3 or 1. A `Placement` remembers where the original image went, so
boxes and masks computed on the model's input come back in the original pixels.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..codecs import ImageLimits, decode_image
from ..errors import InvalidInput
from ..repository import LoadedModel
from .models import input_dims, parameter


@dataclass(frozen=True)
class ImageSpec:
    """What a model's `image` input wants."""

    size: tuple[int, int] | None  # (height, width); None: any size
    channels: int
    resize: str
    pad_value: int


@dataclass(frozen=True)
class Placement:
    """Where the original image lies in the model's input: input = original * scale + offset."""

    original_size: tuple[int, int]  # (width, height)
    input_size: tuple[int, int]  # (width, height)
    scale: tuple[float, float]  # (x, y)
    offset: tuple[int, int]  # (x, y)

    def boxes_to_original(self, boxes: np.ndarray) -> np.ndarray:
        """[N, 4] x1, y1, x2, y2 in input pixels -> original pixels, clipped to the image."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        offset = np.array(self.offset * 2, dtype=np.float32)
        scale = np.array(self.scale * 2, dtype=np.float32)
        mapped = (boxes - offset) / scale
        width, height = self.original_size
        return np.clip(mapped, 0, np.array([width, height, width, height], dtype=np.float32))

    def map_to_original(self, class_map: np.ndarray) -> np.ndarray:
        """[H, W] class indices on the input -> the original image's size (nearest)."""
        width, height = self.original_size
        x0, y0 = self.offset
        content_w = max(1, round(width * self.scale[0]))
        content_h = max(1, round(height * self.scale[1]))
        crop = class_map[y0 : y0 + content_h, x0 : x0 + content_w]
        if crop.shape == (height, width):
            return crop
        resized = Image.fromarray(crop.astype(np.int32)).resize((width, height), Image.NEAREST)
        return np.asarray(resized)


def image_spec(model: LoadedModel, input_name: str = "image") -> ImageSpec:
    dims = input_dims(model, input_name)
    size_text = parameter(model, "image_size")
    if size_text:
        try:
            height, width = (int(v) for v in size_text.split(","))
        except ValueError as exc:
            raise InvalidInput(
                f"model '{model.name}' has a malformed image_size '{size_text}' (want 'H,W')"
            ) from exc
        size: tuple[int, int] | None = (height, width)
    elif len(dims) == 3 and dims[0] > 0 and dims[1] > 0:
        size = (int(dims[0]), int(dims[1]))
    else:
        size = None
    channels_default = str(dims[2]) if len(dims) == 3 and dims[2] > 0 else "3"
    return ImageSpec(
        size=size,
        channels=int(parameter(model, "channels", channels_default)),
        resize=parameter(model, "resize", "stretch"),
        pad_value=int(parameter(model, "pad_value", "0")),
    )


def _letterbox(image: Image.Image, spec: ImageSpec) -> tuple[Image.Image, Placement]:
    height, width = spec.size
    scale = min(width / image.width, height / image.height)
    content = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    offset = ((width - content[0]) // 2, (height - content[1]) // 2)
    fill = spec.pad_value if image.mode == "L" else (spec.pad_value,) * 3
    canvas = Image.new(image.mode, (width, height), fill)
    canvas.paste(image.resize(content, Image.BILINEAR), offset)
    placement = Placement(image.size, (width, height),
                          (content[0] / image.width, content[1] / image.height), offset)
    return canvas, placement


def fit(image: Image.Image, spec: ImageSpec) -> tuple[np.ndarray, Placement]:
    """A decoded image -> the model's input array [H, W, C] uint8 and its placement."""
    if spec.size is None or spec.size == (image.height, image.width):
        placed = image
        placement = Placement(image.size, image.size, (1.0, 1.0), (0, 0))
    elif spec.resize == "letterbox":
        placed, placement = _letterbox(image, spec)
    else:
        height, width = spec.size
        placed = image.resize((width, height), Image.BILINEAR)
        placement = Placement(image.size, (width, height),
                              (width / image.width, height / image.height), (0, 0))
    array = np.asarray(placed, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    return np.ascontiguousarray(array), placement


def prepare_image(data: bytes, model: LoadedModel, limits: ImageLimits,
                  input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """Bytes of an uploaded image -> the model's input array and its placement."""
    spec = image_spec(model, input_name)
    image = decode_image(data, limits, spec.channels)
    return fit(image, spec)


async def prepare_image_async(data: bytes, model: LoadedModel, limits: ImageLimits,
                              input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """`prepare_image` in a worker thread, so decoding never stalls the event loop."""
    return await asyncio.to_thread(prepare_image, data, model, limits, input_name)
