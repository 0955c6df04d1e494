"""Image decoding: JPEG, PNG, WebP and BMP with Pillow, checked against decompression bombs."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import InvalidInput

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")


@dataclass(frozen=True)
class ImageLimits:
    """What an uploaded image may be."""

    max_pixels: int = 40_000_000  # width * height, checked from the header before decoding
    max_side: int = 16_384


def _bomb_message(exc: Exception, limits: ImageLimits) -> str:
    found = re.search(r"Image size \((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return (f"the image header claims {size}; the limit is {limits.max_pixels:,} pixels: "
            "send a smaller image")


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if not data:
        raise InvalidInput("the image is empty; send the bytes of a JPEG, PNG, WebP or BMP file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(_bomb_message(exc, limits)) from exc
    except UnidentifiedImageError as exc:
        raise InvalidInput(
            f"unsupported image format{_format_hint(data)}; send JPEG, PNG, WebP or BMP"
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidInput(f"the image could not be read (corrupt or truncated): {exc}") from exc


def _format_hint(data: bytes) -> str:
    """' (GIF)' when Pillow knows the format we refuse, else ''."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return f" ({image.format})"
    except Exception:  # noqa: BLE001 - only a hint for the message
        return ""


def _check_size(image: Image.Image, limits: ImageLimits) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidInput(f"the image header gives an empty size {width}x{height}")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise InvalidInput(
            f"the image is {width}x{height} pixels; the limit is {limits.max_pixels:,} pixels "
            f"and {limits.max_side} per side: send a smaller image"
        )


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """RGB (channels 3) or L (channels 1); transparency composited over white."""
    if image.mode in ("P", "PA") or (image.mode in ("L", "RGB") and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        scaled = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    return image.convert("L" if channels == 1 else "RGB")


DECODE_BYTES_PER_PIXEL = 12
"""Peak bytes per pixel while an image is decoded and converted (RGBA decode, RGB copy, array)."""


def image_memory_estimate(data: bytes, limits: ImageLimits = ImageLimits()) -> int:
    """Bytes decode_image and the fitting after it hold at most, from the header (checked)."""
    with _open(data, limits) as image:
        _check_size(image, limits)
        return image.width * image.height * DECODE_BYTES_PER_PIXEL


def decode_image(
    data: bytes, limits: ImageLimits = ImageLimits(), channels: int = 3
) -> Image.Image:
    """Bytes -> a decoded Pillow image in mode RGB (or L when channels is 1), EXIF-upright.

    Raises InvalidInput for empty, unsupported, oversized, corrupt or truncated images.
    """
    return decode_image_reduced(data, limits, channels)[0]


def decode_image_reduced(
    data: bytes, limits: ImageLimits = ImageLimits(), channels: int = 3,
    min_size: int | None = None,
) -> tuple[Image.Image, tuple[int, int]]:
    """`decode_image`, but a JPEG may decode smaller: libjpeg's DCT scaling (1/2, 1/4, 1/8)
    picks the smallest scale that keeps both sides at least `min_size` pixels, several times
    faster than a full decode of a big photo. Returns the image and the upright (width,
    height) of the full-size original, which coordinates must be mapped back to (the image
    is the original divided by an integer: 1, 2, 4 or 8).
    """
    image = _open(data, limits)
    _check_size(image, limits)
    full_size = image.size
    if min_size is not None and image.format == "JPEG":
        image.draft(None, (min_size, min_size))
    try:
        image.load()
        if _swaps_sides(image):
            full_size = full_size[::-1]
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput(
            f"the {image.format} image could not be decoded (corrupt or truncated): {exc}"
        ) from exc
    return _to_mode(image, channels), full_size


def _swaps_sides(image: Image.Image) -> bool:
    """Whether the EXIF orientation turns the image by 90 degrees (5, 6, 7, 8)."""
    return image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def encode_png(array: np.ndarray) -> bytes:
    """A 2-D uint8 array (or an HxWx3 one) -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()
