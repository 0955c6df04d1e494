"""Write: a handwriting model writes a text with a pen, one point at a time, on the server.

The model (PenWriter metadata) is one step of a Graves-style network: given the last pen
offset, the text and its state, it returns a mixture of Gaussians over the next offset, the
chance the pen lifts, and where its window on the text is. This loops it: each step draws the
next offset from the mixture (sharpened by the request's `bias`, Graves 2013 section 5.4),
until the window rests on the space that closes the text, or the step limit. Every draw comes
from the request's seed, so a seed repeats its writing. The strokes become SVG and PNG
pictures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from contract.handwriting import CLOSING, next_offset, png_of, strokes_of, svg_of, text_done
from contract.metadata import PenWriter

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .models import infer_one, input_dims, request_seed, resolve_model
from .progress import Progress, no_progress

TASK = "write"
MAX_LETTERS = 80
MAX_BIAS = 10.0
STATE = ("hidden", "cell", "kappa", "window")
PROGRESS_EVERY = 50  # pen points between progress reports


@dataclass(frozen=True)
class WriteOptions:
    style: str = ""  # empty: the model's first style
    bias: float | None = None  # None: the model's default
    seed: int = 0  # 0: fresh random draws
    drawing: bool = True


@dataclass(frozen=True)
class Handwriting:
    text: str
    style: str
    bias: float
    seed: int
    strokes: list[np.ndarray]  # [points, 2] each, x right, y down
    steps: int
    finished: bool
    svg: str
    png: bytes
    styles: tuple[str, ...]
    alphabet: str


def write_model(core: InferenceCore, name: str, version: str) -> LoadedModel:
    return resolve_model(core, TASK, name, version, "train hershey_writer with `python -m "
                         "toolchain train hershey_writer --out exported_models` and restart the "
                         "server")


def styles_of(section: PenWriter) -> tuple[str, ...]:
    return tuple(s.strip() for s in section.styles.split(",") if s.strip())


def alphabet_of(section: PenWriter) -> str:
    """Every character the model writes, in index order: the space first."""
    return CLOSING + section.alphabet


def _letters(section: PenWriter, text: str) -> np.ndarray:
    if not text.strip():
        raise InvalidInput("text is empty: send the line to write")
    if len(text) > MAX_LETTERS:
        raise InvalidInput(f"text has {len(text)} characters; one line of at most "
                           f"{MAX_LETTERS} is written")
    alphabet = alphabet_of(section)
    unknown = sorted(set(text) - set(alphabet))
    if unknown:
        raise InvalidInput(f"the model cannot write {''.join(unknown)!r}; it writes "
                           f"{alphabet!r}")
    return np.array([alphabet.index(c) for c in text + CLOSING], np.int64)


def _style_index(styles: tuple[str, ...], style: str) -> int:
    if not style:
        return 0
    if style not in styles:
        raise InvalidInput(f"unknown style {style!r}; the model's styles: {', '.join(styles)}")
    return styles.index(style)


def _bias(section: PenWriter, bias: float | None) -> float:
    bias = section.bias if bias is None else bias
    if not 0 <= bias <= MAX_BIAS:
        raise InvalidInput(f"bias is a neatness from 0 to {MAX_BIAS:g}; got {bias:g}")
    return bias


async def write(core: InferenceCore, model: LoadedModel, text: str, options: WriteOptions,
                progress: Progress = no_progress) -> Handwriting:
    """The text written in the style; the pictures unless asked not to. `progress` hears of
    every fiftieth pen point (of at most the step limit)."""
    section = model.metadata.section(PenWriter)
    letters = _letters(section, text)
    styles = styles_of(section)
    style = _style_index(styles, options.style)
    bias = _bias(section, options.bias)
    seed = request_seed(options.seed)
    rng = np.random.default_rng(seed)
    state = {name: np.zeros(input_dims(model, name), np.float32) for name in STATE}
    pen = np.array([0, 0, 1], np.float32)  # the pen starts lifted at the origin
    limit = section.steps_per_letter * len(letters)
    offsets: list[np.ndarray] = []
    finished = False
    while len(offsets) < limit:
        step = await infer_one(core, model, {"pen": pen, "style": np.array([style], np.int64),
                                             "letters": letters, **state})
        if text_done(step["attention"]):
            finished = True
            break
        pen = next_offset(step, bias, rng)
        offsets.append(pen)
        state = {name: np.asarray(step[name + "_out"], np.float32) for name in STATE}
        if len(offsets) % PROGRESS_EVERY == 0:
            progress(len(offsets), limit)
    strokes = strokes_of(offsets)
    svg, png = ("", b"")
    if options.drawing:
        svg, png = svg_of(strokes), await asyncio.to_thread(png_of, strokes)
    return Handwriting(text, styles[style], bias, seed, strokes, len(offsets), finished, svg,
                       png, styles, alphabet_of(section))
