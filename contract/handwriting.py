"""Pen writing: drawing a handwriting model's next pen offset, and its strokes as pictures.

The one implementation the server's `write` task and the handwriting trainer's measurements
share. A writing is a sequence of pen offsets (dx, dy, lifted), as Graves (2013, section 4)
writes online handwriting: each point is the last one plus (dx, dy), and `lifted` says the pen
leaves the paper after it. The model's text is followed by a space (CLOSING); the writing ends
when the model's window on the text rests on it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw

CLOSING = " "  # every text is followed by a space; the window reaching it ends the writing
PIXELS_PER_UNIT = 6.0  # the pictures' scale: a letter is about 30 pixels high
PEN_WIDTH = 2.5  # pixels
MARGIN = 12  # pixels around the writing


def text_done(attention: np.ndarray) -> bool:
    """Whether the window has moved past the last letter: its weight is largest on the closing
    space (the last of the letters the model was given)."""
    weights = np.asarray(attention).reshape(-1)
    return int(weights.argmax()) == len(weights) - 1


def next_offset(step: Mapping[str, np.ndarray], bias: float, rng: np.random.Generator
                ) -> np.ndarray:
    """Draw (dx, dy, lifted) from one step's mixture: the bias sharpens the choice of
    component and narrows each Gaussian (Graves 2013, equations 61 and 62)."""
    logits = np.asarray(step["weight_logits"], np.float64).reshape(-1) * (1 + bias)
    weights = np.exp(logits - logits.max())
    component = int(rng.choice(len(weights), p=weights / weights.sum()))
    mean = np.asarray(step["means"]).reshape(-1, 2)[component]
    scale = np.exp(np.asarray(step["log_scales"]).reshape(-1, 2)[component] - bias)
    rho = float(np.asarray(step["correlations"]).reshape(-1)[component])
    z1, z2 = rng.standard_normal(2)
    dx = mean[0] + scale[0] * z1
    dy = mean[1] + scale[1] * (rho * z1 + math.sqrt(max(0.0, 1 - rho**2)) * z2)
    lifted = float(rng.random() < float(np.asarray(step["lift"]).reshape(-1)[0]))
    return np.array([dx, dy, lifted], np.float32)


def strokes_of(offsets: list[np.ndarray]) -> list[np.ndarray]:
    """Pen offsets (dx, dy, lifted) -> the pen-down polylines, absolute; a lone point (the pen
    touching down and lifting at once) draws nothing and is left out."""
    if not offsets:
        return []
    moves = np.stack(offsets)
    points = np.cumsum(moves[:, :2].astype(np.float64), axis=0)
    ends = np.flatnonzero(moves[:, 2] > 0.5) + 1
    return [stroke for stroke in np.split(points, ends) if len(stroke) > 1]


def _frame(strokes: list[np.ndarray]) -> tuple[np.ndarray, int, int]:
    """The top-left corner of the writing (in model units) and the picture's pixel size."""
    if not strokes:
        return np.zeros(2), 2 * MARGIN, 2 * MARGIN
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = (high - low) * PIXELS_PER_UNIT + 2 * MARGIN
    return low, int(math.ceil(width)), int(math.ceil(height))


def _pixels(stroke: np.ndarray, corner: np.ndarray, scale: float = 1.0) -> list[tuple]:
    return [tuple(p) for p in ((stroke - corner) * PIXELS_PER_UNIT + MARGIN) * scale]


def svg_of(strokes: list[np.ndarray]) -> str:
    """The strokes as an SVG document (one polyline per stroke, round pen)."""
    corner, width, height = _frame(strokes)
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<g fill="none" stroke="black" stroke-width="{PEN_WIDTH}" '
             'stroke-linecap="round" stroke-linejoin="round">']
    for stroke in strokes:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in _pixels(stroke, corner))
        lines.append(f'<polyline points="{points}"/>')
    return "\n".join(lines + ["</g>", "</svg>"]) + "\n"


def png_of(strokes: list[np.ndarray]) -> bytes:
    """The strokes drawn black on white, drawn at four times the size and shrunk (smooth
    edges)."""
    corner, width, height = _frame(strokes)
    big = Image.new("L", (width * 4, height * 4), 255)
    draw = ImageDraw.Draw(big)
    pen = round(PEN_WIDTH * 4)
    for stroke in strokes:
        pixels = _pixels(stroke, corner, 4.0)
        draw.line(pixels, fill=0, width=pen, joint="curve")
        for x, y in (pixels[0], pixels[-1]):  # round ends
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=0)
    out = io.BytesIO()
    big.resize((width, height), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()
