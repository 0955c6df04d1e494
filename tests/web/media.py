"""Media for Chromium's fake devices: a Y4M video made from the sample photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def _yuv420(rgb: np.ndarray) -> bytes:
    """BT.601 full-range Y'CbCr, chroma averaged over 2x2 blocks."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    height, width = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [y, half(u), half(v)]
    return b"".join(np.clip(p.round(), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(photos: list[Path], out: Path, size: tuple[int, int] = (320, 240),
              frames_each: int = 10, fps: int = 10) -> Path:
    """A video showing each photo (letterboxed into `size`) for `frames_each` frames."""
    width, height = size
    with open(out, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for photo in photos:
            image = ImageOps.pad(Image.open(photo).convert("RGB"), size, color=(128, 128, 128))
            frame = _yuv420(np.asarray(image))
            for _ in range(frames_each):
                video.write(b"FRAME\n" + frame)
    return out
