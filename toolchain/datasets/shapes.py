"""Generated scenes of coloured shapes on grey backgrounds, with exact ground truth.

Each scene is drawn with Pillow without anti-aliasing, and its class map is drawn from the
same geometry, so masks are exact. Shape colours are saturated and backgrounds are grey
(textured or graded), so a colour name is never ambiguous. The same generator feeds the
segmenter (class per pixel) and the captioner (a sentence about two shapes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle"]
SEGMENTATION_CLASSES = ["background", *SHAPES]
COLOURS = {
    "red": (215, 35, 35),
    "green": (35, 170, 50),
    "blue": (40, 75, 225),
    "yellow": (235, 215, 40),
    "purple": (150, 50, 190),
}
SCENE_SIZE = 64


@dataclass(frozen=True)
class Shape:
    """One shape: kind, colour name, centre (x, y) in pixels and half-size."""

    kind: str
    colour: str
    x: int
    y: int
    radius: int

    def box(self, margin: int = 0) -> tuple[int, int, int, int]:
        r = self.radius + margin
        return (self.x - r, self.y - r, self.x + r, self.y + r)


@dataclass
class Scene:
    """An RGB image uint8 [H, W, 3], its class map uint8 [H, W] and the shapes drawn."""

    image: np.ndarray
    class_map: np.ndarray
    shapes: list[Shape]


def random_scene(
    rng: np.random.Generator,
    *,
    count: int,
    size: int = SCENE_SIZE,
    radius: tuple[int, int] = (7, 15),
) -> Scene:
    """A scene with `count` shapes that do not overlap, of random kinds and colours."""
    shapes: list[Shape] = []
    while len(shapes) < count:
        shapes = _place(rng, count, size, radius)
    return render(shapes, rng, size)


def render(shapes: list[Shape], rng: np.random.Generator, size: int = SCENE_SIZE) -> Scene:
    """Draw `shapes` on a random grey background with a little sensor noise."""
    canvas = Image.fromarray(_background(rng, size))
    labels = Image.new("L", (size, size), 0)
    draw, draw_labels = ImageDraw.Draw(canvas), ImageDraw.Draw(labels)
    for shape in shapes:
        base = np.array(COLOURS[shape.colour])
        colour = tuple(int(c) for c in np.clip(base + rng.integers(-20, 21, 3), 0, 255))
        _draw(draw, shape, colour)
        _draw(draw_labels, shape, SEGMENTATION_CLASSES.index(shape.kind))
    pixels = np.asarray(canvas).astype(np.int16) + rng.normal(0, 4, (size, size, 3)).round()
    return Scene(
        image=pixels.clip(0, 255).astype(np.uint8),
        class_map=np.asarray(labels).copy(),
        shapes=shapes,
    )


def caption_scene(rng: np.random.Generator, size: int = SCENE_SIZE) -> tuple[Scene, str]:
    """A scene of two shapes and the one caption that describes it.

    The relation is `left of` when the shapes are further apart across than down (the left
    shape named first), else `above` (the upper shape first); scenes close to the diagonal are
    drawn again, so the caption is never a coin toss.
    """
    while True:
        shapes = _place(rng, 2, size, (8, 13))
        if len(shapes) < 2:
            continue
        first, second = shapes
        dx, dy = second.x - first.x, second.y - first.y
        if abs(abs(dx) - abs(dy)) < 8:
            continue
        if abs(dx) > abs(dy):
            left, right = (first, second) if dx > 0 else (second, first)
            words = [*_noun(left), "left", "of", *_noun(right)]
        else:
            top, bottom = (first, second) if dy > 0 else (second, first)
            words = [*_noun(top), "above", *_noun(bottom)]
        return render(shapes, rng, size), " ".join(words)


def caption_vocabulary() -> list[str]:
    """Every word a caption can use, after the special tokens <pad>, <bos>, <eos>."""
    return ["<pad>", "<bos>", "<eos>", "a", *COLOURS, *SHAPES, "left", "of", "above"]


def _noun(shape: Shape) -> list[str]:
    return ["a", shape.colour, shape.kind]


def _place(rng: np.random.Generator, count: int, size: int, radius: tuple[int, int]) -> list[Shape]:
    """Up to `count` shapes inside the canvas with at least 3 px between their boxes."""
    shapes: list[Shape] = []
    for _ in range(50 * count):
        if len(shapes) == count:
            break
        r = int(rng.integers(radius[0], radius[1] + 1))
        candidate = Shape(
            kind=str(rng.choice(SHAPES)),
            colour=str(rng.choice(list(COLOURS))),
            x=int(rng.integers(r + 1, size - r - 1)),
            y=int(rng.integers(r + 1, size - r - 1)),
            radius=r,
        )
        if not any(_overlap(candidate.box(3), other.box()) for other in shapes):
            shapes.append(candidate)
    return shapes


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _draw(draw: ImageDraw.ImageDraw, shape: Shape, fill: tuple[int, ...] | int) -> None:
    x0, y0, x1, y1 = shape.box()
    if shape.kind == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape.kind == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    else:
        draw.polygon([(shape.x, y0), (x0, y1), (x1, y1)], fill=fill)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey background: flat, graded top to bottom or left to right, or mottled."""
    low, high = sorted(rng.integers(25, 215, 2))
    style = rng.integers(0, 3)
    if style == 0:
        grey = np.full((size, size), (low + high) / 2)
    elif style == 1:
        ramp = np.linspace(low, high, size)
        grey = np.tile(ramp, (size, 1)) if rng.random() < 0.5 else np.tile(ramp[:, None], size)
    else:
        coarse = rng.uniform(low, high, (8, 8)).astype(np.float32)
        grey = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR))
    return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)
