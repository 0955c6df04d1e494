"""Reading text: an image -> lines of text, each with its polygon and confidence.

Three served models take part, as PP-OCR composes them: a text detector (DBNet: a per-pixel
text probability; the task model), an orientation classifier (0 or 180 degrees) and a
recogniser (CTC over a character vocabulary). The steps follow RapidOCR's pipeline, which
the importer verifies this module against:

1. the photo (RGB) becomes BGR; a side over `max_side` is shrunk, very flat images are padded;
2. detection input: the short side scaled up to `limit_side`, both sides rounded to 32;
3. the probability map above `threshold`, dilated 2x2, splits into 8-connected regions; each
   region's smallest rotated rectangle is kept when its mean probability reaches
   `box_threshold`, then grown by area * `unclip_ratio` / perimeter on every side;
4. each rectangle is cut out straight (tall ones turned a quarter), turned half round when
   the classifier says 180 with more than `orientation_threshold`, and read by the
   recogniser in groups of 6 of similar shape (greedy CTC: repeats merged, blanks dropped);
5. lines whose mean character confidence is below `text_threshold` are dropped.

The knobs are the detector's metadata (contract.metadata.TextReading).
`read_page` runs the models through any `Run` function, so the server (through the core,
batched with other requests) and the toolchain (bare ONNX Runtime) share every step.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from contract.metadata import TextReading

from ..codecs import decode_image, image_memory_estimate
from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from . import geometry
from .limits import TaskLimits
from .models import labels_of

Run = Callable[[str, dict[str, np.ndarray]], Awaitable[np.ndarray]]  # model, inputs -> output


@dataclass(frozen=True)
class TextLine:
    polygon: list[tuple[float, float]]  # 4 corners in the original image's pixels, clockwise
    text: str
    score: float  # mean probability of the characters read
    upside_down: bool  # the orientation classifier turned the line half round


@dataclass(frozen=True)
class ReadTextResult:
    lines: list[TextLine]
    width: int
    height: int


@dataclass(frozen=True)
class TextModels:
    detector: str
    recognizer: str
    orientation: str  # "" when the detector names no classifier
    vocabulary: tuple[str, ...]  # CTC classes: index 0 is the blank


def normalised(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] BGR 0..255 -> [3, H, W] float32 in -1..1, as PP-OCR was trained."""
    return ((np.asarray(image, np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1)


def _scale_side(image: np.ndarray, ratio: float) -> tuple[np.ndarray, float, float]:
    height, width = image.shape[:2]
    new_h = max(32, round(int(height * ratio) / 32) * 32)
    new_w = max(32, round(int(width * ratio) / 32) * 32)
    resized = geometry.as_pixels(geometry.resize_bilinear(image, new_w, new_h))
    return resized, height / new_h, width / new_w


def prepare_page(image: np.ndarray, settings: TextReading
                 ) -> tuple[np.ndarray, tuple[float, float], int]:
    """Shrink big, enlarge tiny and pad flat images; returns the page, the (x, y) factors
    back to the original and the padding added on top."""
    ratio_y = ratio_x = 1.0
    page = np.asarray(image, np.uint8)
    height, width = page.shape[:2]
    if max(height, width) > settings.max_side:
        page, ratio_y, ratio_x = _scale_side(page, settings.max_side / max(height, width))
    height, width = page.shape[:2]
    if min(height, width) < settings.min_side:
        page, ratio_y, ratio_x = _scale_side(page, settings.min_side / min(height, width))
    height, width = page.shape[:2]
    top = 0
    if height <= settings.min_height or width / height > settings.flat_ratio:
        new_height = max(int(width / settings.flat_ratio), settings.min_height) * 2
        top = int(abs(new_height - height) / 2)
        page = np.pad(page, ((top, top), (0, 0), (0, 0)))
    return page, (ratio_x, ratio_y), top


def detector_input(page: np.ndarray, settings: TextReading) -> np.ndarray:
    """[1, 3, H', W'] with the short side at least `limit_side`, sides multiples of 32."""
    height, width = page.shape[:2]
    ratio = max(1.0, settings.limit_side / min(height, width))
    new_h = round(int(height * ratio) / 32) * 32
    new_w = round(int(width * ratio) / 32) * 32
    if new_h <= 0 or new_w <= 0:
        raise InvalidInput("the image is too small to look for text in; send a larger one")
    resized = geometry.as_pixels(geometry.resize_bilinear(page, new_w, new_h))
    return normalised(resized)[np.newaxis]


def _box_score(probability: np.ndarray, corners: np.ndarray) -> float:
    """Mean probability inside the quadrilateral (over its bounding pixels)."""
    height, width = probability.shape
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [width - 1, height - 1])
    mask = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1), 0)
    shifted = (corners - [x0, y0]).astype(np.int32)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in shifted.tolist()], fill=1)
    inside = np.asarray(mask, dtype=bool)
    window = probability[y0 : y1 + 1, x0 : x1 + 1]
    return float(window[inside].mean()) if inside.any() else 0.0


def text_boxes(probability: np.ndarray, page_size: tuple[int, int],
               settings: TextReading) -> list[np.ndarray]:
    """DB post-processing: the probability map [H', W'] -> quadrilaterals [4, 2] on the page
    (`page_size` is its (width, height)), top to bottom, then left to right."""
    height, width = probability.shape
    page_w, page_h = page_size
    mask = geometry.dilate_2x2(probability > settings.pixel_threshold)
    boxes = []
    for points in geometry.regions(mask)[: settings.max_candidates]:
        rect = geometry.min_area_rect(points)
        if min(rect.size) < 3:
            continue
        corners = geometry.order_corners(rect.corners())
        if _box_score(probability, corners) < settings.box_threshold:
            continue
        area, perimeter = rect.size[0] * rect.size[1], 2 * (rect.size[0] + rect.size[1])
        grown = rect.grown(area * settings.unclip_ratio / perimeter)
        if min(grown.size) < 5:
            continue
        corners = geometry.order_corners(grown.corners())
        corners[:, 0] = np.clip(np.round(corners[:, 0] / width * page_w), 0, page_w)
        corners[:, 1] = np.clip(np.round(corners[:, 1] / height * page_h), 0, page_h)
        corners = geometry.order_corners(corners)
        corners[:, 0] = np.clip(corners[:, 0], 0, page_w - 1).astype(np.int32)
        corners[:, 1] = np.clip(corners[:, 1], 0, page_h - 1).astype(np.int32)
        if int(np.hypot(*(corners[0] - corners[1]))) <= 3:
            continue
        if int(np.hypot(*(corners[0] - corners[3]))) <= 3:
            continue
        boxes.append(corners)
    return reading_order(boxes)


def reading_order(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Top to bottom by the top-left corner; boxes within 10 px of height left to right."""
    ordered = sorted(boxes, key=lambda box: (box[0][1], box[0][0]))
    for i in range(len(ordered) - 1):
        for j in range(i, -1, -1):
            if (abs(ordered[j + 1][0][1] - ordered[j][0][1]) < 10
                    and ordered[j + 1][0][0] < ordered[j][0][0]):
                ordered[j], ordered[j + 1] = ordered[j + 1], ordered[j]
            else:
                break
    return ordered


def cut_line(page: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's pixels straightened; lines at least 1.5 times taller than wide turned."""
    width = int(max(np.hypot(*(box[0] - box[1])), np.hypot(*(box[2] - box[3]))))
    height = int(max(np.hypot(*(box[0] - box[3])), np.hypot(*(box[1] - box[2]))))
    crop = geometry.as_pixels(geometry.warp_quad(page, box, max(width, 1), max(height, 1)))
    return np.rot90(crop) if crop.shape[0] / crop.shape[1] >= 1.5 else crop


def line_input(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """[3, height, width]: the crop scaled to `height` (aspect kept, at most `width` wide),
    normalised, zeros on the right."""
    ratio = crop.shape[1] / crop.shape[0]
    resized_w = min(width, int(math.ceil(height * ratio)))
    padded = np.zeros((3, height, width), dtype=np.float32)
    resized = geometry.as_pixels(geometry.resize_bilinear(crop, resized_w, height))
    padded[:, :, :resized_w] = normalised(resized)
    return padded


def ctc_decode(probabilities: np.ndarray, vocabulary: tuple[str, ...]) -> tuple[str, float]:
    """Greedy CTC over [T, classes] probabilities: best class per step, repeats merged,
    blanks (class 0) dropped; the score is the mean probability of the characters kept."""
    best = probabilities.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    text = "".join(vocabulary[i] if i < len(vocabulary) else "" for i in best[keep])
    chosen = probabilities.max(axis=1)[keep]
    return text, float(chosen.mean()) if chosen.size else 0.0


def _groups(crops: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Indices of the crops by aspect ratio, in groups of `size`."""
    order = np.argsort([crop.shape[1] / crop.shape[0] for crop in crops], kind="stable")
    return [order[i : i + size] for i in range(0, len(order), size)]


async def _orient(crops: list[np.ndarray], run: Run, models: TextModels,
                  settings: TextReading) -> list[bool]:
    """Turns the crops the classifier finds upside down; returns which were turned."""
    turned = [False] * len(crops)
    height, width = settings.orientation_size
    for group in _groups(crops, settings.recognition_group):
        batch = np.stack([line_input(crops[i], height, width) for i in group])
        probabilities = await run(models.orientation, {"x": batch})
        for i, row in zip(group, np.asarray(probabilities)):
            if int(row.argmax()) == 1 and float(row.max()) > settings.orientation_threshold:
                crops[i] = crops[i][::-1, ::-1]
                turned[i] = True
    return turned


async def _recognise(crops: list[np.ndarray], run: Run, models: TextModels,
                     settings: TextReading) -> list[tuple[str, float]]:
    read: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    height = settings.recognition_height
    for group in _groups(crops, settings.recognition_group):
        widest = max([settings.recognition_min_width / height]
                     + [crops[i].shape[1] / crops[i].shape[0] for i in group])
        batch = np.stack([line_input(crops[i], height, int(height * widest)) for i in group])
        probabilities = np.asarray(await run(models.recognizer, {"x": batch}))
        for i, row in zip(group, probabilities):
            read[i] = ctc_decode(row, models.vocabulary)
    return read


async def read_page(image: np.ndarray, run: Run, models: TextModels,
                    settings: TextReading) -> list[TextLine]:
    """Text lines of an [H, W, 3] RGB uint8 image, polygons in its pixels."""
    bgr = image[:, :, ::-1]
    page, (ratio_x, ratio_y), top = await asyncio.to_thread(prepare_page, bgr, settings)
    tensor = await asyncio.to_thread(detector_input, page, settings)
    probability = np.asarray(await run(models.detector, {"x": tensor}))[0, 0]
    page_size = (page.shape[1], page.shape[0])
    boxes = await asyncio.to_thread(text_boxes, probability, page_size, settings)
    if not boxes:
        return []
    crops = await asyncio.to_thread(lambda: [cut_line(page, box) for box in boxes])
    turned = ([False] * len(crops) if not models.orientation
              else await _orient(crops, run, models, settings))
    read = await _recognise(crops, run, models, settings)
    height, width = image.shape[:2]
    lines = []
    for box, (text, score), upside_down in zip(boxes, read, turned):
        if score < settings.text_threshold:
            continue
        xs = np.clip((box[:, 0]) * ratio_x, 0, width)
        ys = np.clip((box[:, 1] - top) * ratio_y, 0, height)
        polygon = [(float(x), float(y)) for x, y in zip(xs, ys)]
        lines.append(TextLine(polygon, text, score, upside_down))
    return lines


def text_models(core: InferenceCore, model: LoadedModel) -> TextModels:
    """The detector's component models, named in its parameters, and the vocabulary."""
    settings = model.metadata.section(TextReading)
    recognizer = core.model(settings.recognizer)
    orientation = settings.orientation_classifier
    if orientation:
        core.model(orientation)  # raises NOT_FOUND / UNAVAILABLE now, not halfway through
    vocabulary = labels_of(recognizer, "probabilities")
    return TextModels(model.name, recognizer.name, orientation, vocabulary)


async def read_text(core: InferenceCore, model: LoadedModel, image: bytes,
                    limits: TaskLimits) -> ReadTextResult:
    models = text_models(core, model)
    estimate = image_memory_estimate(image, limits.image)
    picture = await limits.decode_budget.run(estimate, decode_image, image, limits.image, 3)
    array = np.asarray(picture, dtype=np.uint8)

    async def run(name: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        result = await core.infer(name, inputs)
        return next(iter(result.values()))

    lines = await read_page(array, run, models, model.metadata.section(TextReading))
    return ReadTextResult(lines, picture.width, picture.height)
