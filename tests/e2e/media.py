"""Encoded test inputs: images in each format, recordings in each sample format."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import soundfile
from PIL import Image

RGB = {"red": (220, 30, 30), "green": (30, 220, 30), "blue": (30, 30, 220)}


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def solid(colour: str, width: int = 48, height: int = 32, fmt: str = "PNG") -> bytes:
    return encode(Image.new("RGB", (width, height), RGB[colour]), fmt)


def white_box_image(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Black image with a white rectangle at x1, y1, x2, y2 (exclusive ends)."""
    array = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    array[y1:y2, x1:x2] = 255
    return array


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header says width x height but carries almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def bursts(rate: int = 16_000, seconds: float = 1.0,
           spans: tuple[tuple[float, float], ...] = ((0.25, 0.375), (0.5625, 0.75))) -> np.ndarray:
    """Silence with loud tone bursts over the given spans (seconds)."""
    t = np.arange(int(rate * seconds)) / rate
    audio = np.zeros_like(t)
    for start, end in spans:
        inside = (t >= start) & (t < end)
        audio[inside] = 0.8 * np.sin(2 * np.pi * 440 * t[inside])
    return audio.astype(np.float32)


def wav(audio: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()
