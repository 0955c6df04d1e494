"""Drawing results on images: boxes with labels for detection, a coloured mask for segmentation,
skeletons for pose, polygons and text for text reading."""

from __future__ import annotations

import io
import os
import textwrap
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .results import Detections, Poses, Segmentation, TextReading, Transcript

# distinct, saturated colours; class i (i >= 1 for masks) takes PALETTE[i % len]
PALETTE: list[tuple[int, int, int]] = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (170, 110, 40), (128, 0, 0), (0, 0, 128), (128, 128, 0), (255, 255, 255),
]


def colour_of(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def open_image(image: bytes | str | os.PathLike | Image.Image) -> Image.Image:
    """An RGB image, upright as the server saw it (EXIF orientation applied)."""
    if not isinstance(image, Image.Image):
        source = io.BytesIO(image) if isinstance(image, bytes) else image
        image = Image.open(source)
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("RGB")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def draw_detections(image: bytes | str | os.PathLike | Image.Image,
                    result: Detections) -> Image.Image:
    """The image with each detection's box outlined and labelled "label 0.93" above it."""
    canvas = open_image(image).copy()
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(min(canvas.size) / 150))
    font = _font(max(10, round(min(canvas.size) / 30)))
    for detection in result.detections:
        box = detection.box
        colour = colour_of(detection.index)
        draw.rectangle((box.x1, box.y1, box.x2, box.y2), outline=colour, width=line)
        text = f"{detection.label} {detection.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        y = max(0, box.y1 - (bottom - top) - 2 * line)
        draw.rectangle((box.x1, y, box.x1 + right - left + 2 * line, y + bottom - top + 2 * line),
                       fill=colour)
        draw.text((box.x1 + line, y + line - top), text, fill=(0, 0, 0), font=font)
    return canvas


def draw_text_lines(image: bytes | str | os.PathLike | Image.Image,
                    result: TextReading) -> Image.Image:
    """The image with each line's polygon outlined and its text written on a band above it."""
    canvas = open_image(image).copy()
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(min(canvas.size) / 200))
    for index, text_line in enumerate(result.lines):
        colour = colour_of(index + 1)
        corners = [(p.x, p.y) for p in text_line.polygon]
        draw.polygon(corners, outline=colour, width=line)
        height = max(10, round(abs(corners[3][1] - corners[0][1]) * 0.6))
        font = _font(min(height, max(10, round(min(canvas.size) / 25))))
        left, top, right, bottom = draw.textbbox((0, 0), text_line.text, font=font)
        x, y = corners[0][0], max(0, corners[0][1] - (bottom - top) - 2 * line)
        draw.rectangle((x, y, x + right - left + 2 * line, y + bottom - top + 2 * line),
                       fill=colour)
        draw.text((x + line, y + line - top), text_line.text, fill=(0, 0, 0), font=font)
    return canvas


def draw_poses(image: bytes | str | os.PathLike | Image.Image, result: Poses,
               min_score: float = 0.3) -> Image.Image:
    """The image with each person's skeleton: edges between keypoints scored at least
    `min_score`, and a dot on each such keypoint; every person in their own colour."""
    canvas = open_image(image).copy()
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(min(canvas.size) / 120))
    radius = width + 1
    for index, person in enumerate(result.people):
        colour = colour_of(index + 1)
        points = person.keypoints
        for start, end in result.skeleton:
            if min(points[start].score, points[end].score) >= min_score:
                draw.line((points[start].position.x, points[start].position.y,
                           points[end].position.x, points[end].position.y),
                          fill=colour, width=width)
        for keypoint in points:
            if keypoint.score >= min_score:
                x, y = keypoint.position.x, keypoint.position.y
                draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                             fill=(255, 255, 255), outline=colour)
    return canvas


def colour_mask(class_map: np.ndarray) -> np.ndarray:
    """[H, W] class indices -> [H, W, 3] colours (background, index 0, black)."""
    table = np.array([(0, 0, 0)] + [colour_of(i) for i in range(1, 256)], dtype=np.uint8)
    return table[class_map.astype(np.int64) % 256]


def overlay_segmentation(image: bytes | str | os.PathLike | Image.Image, result: Segmentation,
                         opacity: float = 0.55) -> Image.Image:
    """The image with every non-background class painted over it in its colour."""
    base = open_image(image)
    class_map = result.class_map
    if class_map.shape != (base.height, base.width):
        resized = Image.fromarray(class_map).resize(base.size, Image.Resampling.NEAREST)
        class_map = np.asarray(resized)
    pixels = np.asarray(base, dtype=np.float32)
    colours = colour_mask(class_map).astype(np.float32)
    painted = np.where((class_map > 0)[..., None],
                       (1 - opacity) * pixels + opacity * colours, pixels)
    return Image.fromarray(painted.round().astype(np.uint8))


def save_png(image: Image.Image, path: str | os.PathLike) -> None:
    image.save(path, format="PNG")


def with_text(image: bytes | str | os.PathLike | Image.Image, lines: list[str],
              min_width: int = 320) -> Image.Image:
    """The image (enlarged to `min_width` when smaller, pixels kept sharp) above a white band
    holding the lines of text: how classifications, captions and answers are shown."""
    base = open_image(image)
    if base.width < min_width:
        factor = -(-min_width // base.width)
        base = base.resize((base.width * factor, base.height * factor), Image.Resampling.NEAREST)
    font = _font(max(12, base.width // 22))
    probe = ImageDraw.Draw(base)
    line_height = max(int(probe.textbbox((0, 0), "Ag", font=font)[3]), 12) + 6
    canvas = Image.new("RGB", (base.width, base.height + line_height * len(lines) + 8),
                       (255, 255, 255))
    canvas.paste(base, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((6, base.height + 4 + i * line_height), line, fill=(0, 0, 0), font=font)
    return canvas


def wav_samples(audio: bytes | str | os.PathLike) -> np.ndarray | None:
    """Mono samples in -1..1 of an integer-PCM WAV (stdlib only); None for other files."""
    try:
        source = io.BytesIO(audio if isinstance(audio, bytes) else Path(audio).read_bytes())
        with wave.open(source) as recording:
            width, channels = recording.getsampwidth(), recording.getnchannels()
            raw = recording.readframes(recording.getnframes())
    except (wave.Error, EOFError, OSError):
        return None
    if width == 1:
        values = np.frombuffer(raw, np.uint8).astype(np.float32) - 128
    elif width in (2, 4):
        values = np.frombuffer(raw, np.int16 if width == 2 else np.int32).astype(np.float32)
    else:
        return None
    return values.reshape(-1, channels).mean(axis=1) / float(2 ** (8 * width - 1))


def draw_transcript(audio: bytes | str | os.PathLike, result: Transcript,
                    width: int = 800) -> Image.Image:
    """The waveform with each timed segment shaded in its colour, and the text below."""
    wave_height, font = 140, _font(18)
    lines = textwrap.wrap(result.text, width=max(20, width // 10)) or ["(no speech)"]
    canvas = Image.new("RGB", (width, wave_height + 16 + 24 * len(lines)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas, "RGBA")
    duration = max(result.duration_s, 1e-6)
    for i, segment in enumerate(result.segments):
        x1, x2 = (round(width * s / duration) for s in (segment.start_s, segment.end_s))
        draw.rectangle((x1, 0, max(x1 + 1, x2), wave_height), fill=colour_of(i + 1) + (70,))
    samples = wav_samples(audio)
    if samples is not None and samples.size:
        middle, scale = wave_height / 2, wave_height / 2 - 4
        for x, chunk in enumerate(np.array_split(samples, width)):
            if chunk.size:
                draw.line((x, middle - scale * chunk.max(), x, middle - scale * chunk.min()),
                          fill=(60, 60, 60))
    for i, line in enumerate(lines):
        draw.text((8, wave_height + 8 + 24 * i), line, fill=(0, 0, 0), font=font)
    return canvas
