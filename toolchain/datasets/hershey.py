"""Pen strokes of text written in the Hershey stroke fonts (Debian's `hershey-fonts-data`).

A Hershey font is a list of glyphs drawn as polylines on an integer grid (y grows downwards);
the ASCII fonts hold the 96 glyphs of characters 32..127 in order. `strokes_of` lays a text out
glyph after glyph and returns its strokes; `pen_offsets` turns strokes into the sequence a
handwriting model reads and writes: per point the offset from the previous point and whether
the pen lifts after it (Graves 2013, section 4).

`wobble` makes every rendering a little different (slant, size, spacing and a shaky pen), so a
model learns a distribution of writing rather than one fixed drawing per letter.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

FONT_PACKAGE = "hershey-fonts-data"
FONT_FOLDER = Path("/usr/share/hershey-fonts")
FIRST_CHARACTER = 32  # the ASCII fonts start at the space
PEN_UP = " R"  # between two strokes of a glyph

Stroke = np.ndarray  # [points, 2] float32, x right, y down, in font units


@dataclass(frozen=True)
class Glyph:
    left: int
    right: int
    strokes: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def width(self) -> int:
        return self.right - self.left


def _coordinate(character: str) -> int:
    return ord(character) - ord("R")


def parse_glyphs(text: str) -> list[Glyph]:
    """The glyphs of a .jhf file. A record is a 5-character number, a 3-character count of
    coordinate pairs (the first pair being the glyph's left and right edge) and the pairs;
    long records wrap onto following lines, so line breaks carry no meaning."""
    flat = text.replace("\r", "").replace("\n", "")
    glyphs, at = [], 0
    while at < len(flat):
        count = int(flat[at + 5:at + 8])
        pairs = [flat[at + 8 + 2 * i:at + 10 + 2 * i] for i in range(count)]
        at += 8 + 2 * count
        strokes: list[tuple[tuple[int, int], ...]] = []
        current: list[tuple[int, int]] = []
        for pair in pairs[1:]:
            if pair == PEN_UP:
                strokes.append(tuple(current))
                current = []
            else:
                current.append((_coordinate(pair[0]), _coordinate(pair[1])))
        if current:
            strokes.append(tuple(current))
        left, right = _coordinate(pairs[0][0]), _coordinate(pairs[0][1])
        glyphs.append(Glyph(left, right, tuple(s for s in strokes if s)))
    return glyphs


def package_version() -> str:
    """The installed version of Debian's font package (for model cards), or "unknown"."""
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", FONT_PACKAGE],
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


@cache
def font(name: str) -> dict[str, Glyph]:
    """The glyphs of an ASCII Hershey font by character."""
    path = FONT_FOLDER / f"{name}.jhf"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install the Hershey fonts with "
                                f"`apt-get install {FONT_PACKAGE}` (make system-packages)")
    glyphs = parse_glyphs(path.read_text(encoding="ascii"))
    return {chr(FIRST_CHARACTER + i): glyph for i, glyph in enumerate(glyphs)}


@dataclass(frozen=True)
class Wobble:
    """How one rendering departs from the font: a slant, a size, extra space between letters
    and a shaky pen (noise on every point), all in font units."""

    slant: float = 0.0
    scale: float = 1.0
    spacing: float = 0.0
    shake: float = 0.0


def wobble(rng: np.random.Generator) -> Wobble:
    return Wobble(slant=float(rng.uniform(-0.15, 0.15)), scale=float(rng.uniform(0.9, 1.1)),
                  spacing=float(rng.uniform(-1.0, 2.0)), shake=float(rng.uniform(0.0, 0.35)))


def strokes_of(text: str, font_name: str, how: Wobble = Wobble(),
               rng: np.random.Generator | None = None, *, closing_move: bool = False
               ) -> list[Stroke]:
    """`text` laid out in one line of `font_name`: its strokes, pen-down polylines in order.
    With `closing_move`, a last one-point stroke where the next letter would start: the pen
    moving on, lifted, once the text is written."""
    glyphs = font(font_name)
    strokes: list[Stroke] = []
    cursor = 0.0
    for character in text:
        glyph = glyphs[character]
        for stroke in glyph.strokes:
            points = np.array(stroke, np.float32)
            points[:, 0] += cursor - glyph.left
            strokes.append(points)
        cursor += glyph.width + how.spacing
    if closing_move:
        strokes.append(np.array([[cursor, 0.0]], np.float32))
    for points in strokes:
        points[:, 0] -= how.slant * points[:, 1]
        points *= how.scale
        if how.shake and rng is not None:
            points += rng.normal(0.0, how.shake, points.shape).astype(np.float32)
    return strokes


def pen_offsets(strokes: list[Stroke], unit: float) -> np.ndarray:
    """[points, 3]: (dx, dy) from the previous point (the first from the origin), in `unit`
    font units, and 1 where the pen lifts after the point."""
    points = np.concatenate(strokes)
    lifts = np.zeros(len(points), np.float32)
    lifts[np.cumsum([len(s) for s in strokes]) - 1] = 1
    offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2), np.float32)) / unit
    return np.concatenate([offsets, lifts[:, None]], axis=1).astype(np.float32)

