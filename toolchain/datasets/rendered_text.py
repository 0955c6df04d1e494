"""Text rendered with Debian's DejaVu fonts, for measuring OCR where we know the truth.

Lines come from the Zen of Python (in the standard library's `this` module) and from made-up
dates, prices and codes; each page has one to three lines in one of several DejaVu faces
and sizes, dark on a light, slightly noisy background, some tilted a few degrees, some pasted
into a photo (scikit-image's coffee and chelsea, public domain / CC0), some upside down.
Seeded: the same seed gives the same pages.
"""

from __future__ import annotations

import ast
import codecs
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansCondensed.ttf",
)


class FontsMissing(Exception):
    """The DejaVu fonts are not installed; the message says how to get them."""


@dataclass(frozen=True)
class Page:
    image: np.ndarray  # [H, W, 3] uint8 RGB
    lines: list[str]  # the text, top to bottom (as a reader sees it when upright)
    font: str
    upside_down: bool
    on_photo: bool

    @property
    def lines_top_down(self) -> list[str]:
        """The lines in the order they stand in the image, top first (reversed when the
        page is upside down), which is the order an OCR pipeline reports them in."""
        return self.lines[::-1] if self.upside_down else self.lines


def zen_lines() -> list[str]:
    """The Zen of Python, one aphorism a line (stdlib `this`, ROT13-encoded there)."""
    source = Path(importlib.util.find_spec("this").origin).read_text()  # importing it prints
    encoded = ast.literal_eval(source.split("s = ", 1)[1].split("\n\nd = ", 1)[0])
    text = codecs.decode(encoded, "rot13")
    return [line.strip() for line in text.splitlines()[2:] if line.strip()]


def _made_up_line(rng: np.random.Generator) -> str:
    kind = rng.integers(4)
    if kind == 0:
        return f"{rng.integers(1990, 2030)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
    if kind == 1:
        return f"Total: {rng.integers(1, 999)}.{rng.integers(0, 100):02d} EUR"
    if kind == 2:
        letters = "".join(rng.choice(list("ABCDEFGHKLMNPRSTUVWXYZ"), 3))
        return f"Gate {letters}-{rng.integers(10, 99)}"
    return f"Call +49 {rng.integers(100, 999)} {rng.integers(1000, 9999)}"


def font_file(name: str) -> Path:
    path = FONT_DIR / name
    if not path.exists():
        raise FontsMissing(f"{path} is missing: install Debian's fonts-dejavu-core and "
                           "fonts-dejavu-extra (apt-get install fonts-dejavu)")
    return path


def render_page(lines: list[str], font_name: str, size: int, rng: np.random.Generator,
                background: np.ndarray | None = None, max_tilt: float = 4.0,
                max_blur: float = 0.8) -> np.ndarray:
    """Lines drawn dark on light paper (or on a light card in `background`), tilted up to
    `max_tilt` degrees half of the time and blurred up to `max_blur` px."""
    font = ImageFont.truetype(str(font_file(font_name)), size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [probe.textbbox((0, 0), line, font=font)[2] for line in lines]
    margin, spacing = size, int(size * 1.6)
    width = max(widths) + 2 * margin
    height = spacing * len(lines) + 2 * margin
    paper = tuple(int(v) for v in rng.integers(200, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 80, 3))
    card = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(card)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * spacing), line, font=font, fill=ink)
    if background is None:
        page = card
    else:
        photo = Image.fromarray(background)
        scale = max(1.0, 1.3 * width / photo.width, 1.3 * height / photo.height)
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)))
        x = int(rng.integers(0, photo.width - width + 1))
        y = int(rng.integers(0, photo.height - height + 1))
        photo.paste(card, (x, y))
        page = photo
    angle = float(rng.uniform(-max_tilt, max_tilt)) if rng.random() < 0.5 else 0.0
    if angle:
        page = page.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=paper)
    page = page.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, max_blur))))
    noisy = np.asarray(page, np.float32) + rng.normal(0, 4, (page.height, page.width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def pages(count: int, seed: int = 0, photos: dict[str, np.ndarray] | None = None,
          max_tilt: float = 4.0) -> list[Page]:
    """`count` pages: Zen lines and made-up ones, fonts and sizes in turn, every fifth page
    upside down, every fourth on one of `photos` when given, tilted up to `max_tilt`."""
    rng = np.random.default_rng(seed)
    zen = zen_lines()
    backgrounds = list((photos or {}).values())
    found = []
    for index in range(count):
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            lines.append(zen[int(rng.integers(len(zen)))] if rng.random() < 0.7
                         else _made_up_line(rng))
        font = FONTS[index % len(FONTS)]
        size = int(rng.integers(18, 44))
        on_photo = bool(backgrounds) and index % 4 == 3
        background = backgrounds[index % len(backgrounds)] if on_photo else None
        image = render_page(lines, font, size, rng, background, max_tilt)
        upside_down = index % 5 == 4
        if upside_down:
            image = np.ascontiguousarray(image[::-1, ::-1])
        found.append(Page(image, lines, font, upside_down, on_photo))
    return found
