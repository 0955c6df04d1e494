"""Handwriting synthesis after Graves (2013, section 5), trained here on Hershey stroke fonts.

The lecture's handwriting demo is Graves's network: an LSTM that writes pen offsets while a
soft window slides along the text it was asked to write, and a mixture density output from
which each next pen position is drawn. Here the network is small enough to train in about an
hour and a half on one CPU thread and to ship in git: one LSTM layer of 144 units (Graves used
three of 400), a window of 10 Gaussians over learned letter embeddings, and 20 bivariate
Gaussians.
The style is a font: its one-hot code is an input of every step.

It learned from typeset stroke fonts (Debian's hershey-fonts-data), not from people's
handwriting: every training text is a font's glyphs laid out in a line, made a little
different each time (slant, size, spacing, a shaky pen; toolchain/datasets/hershey.py). Its
letters look like those fonts, not like anyone's hand.

The served graph is one step of the network; the server loops it, drawing each pen offset
from the mixture (with Graves's bias for neater writing), and stops when the window has moved
past the last letter. Measured on the exported ONNX graph: the negative log-likelihood per
point of words training never saw, and how many of them are written to the end.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from PIL import Image, ImageDraw
from torch import nn
from tqdm import tqdm

from contract.handwriting import next_offset, text_done
from contract.metadata import ModelMetadata, PenWriter
from toolchain.datasets.hershey import (
    FONT_PACKAGE,
    package_version,
    pen_offsets,
    strokes_of,
    wobble,
)
from toolchain.model_folder import ModelCard, TensorSpec
from toolchain.packages import cache_root
from toolchain.timing import run_time
from toolchain.zoo._publish import json_text, publish
from toolchain.zoo._training import (
    OPSET,
    cached_run,
    card_facts,
    samples_folder,
    seed_everything,
    trained_here,
)

NAME = "hershey_writer"
DESCRIPTION = ("Graves-style handwriting synthesis (LSTM, soft window on the text, mixture "
               "density output) trained here on four Hershey stroke fonts")
SEED = 1879
UNIT = 4.0  # font units per model unit: pen offsets mostly within +-3
WORD_SOURCE = Path(__file__).resolve().parents[2] / "exported_models/glove_6b_50d/vocabulary.txt"
HELD_OUT_EVERY = 10  # every tenth word of the list is kept for evaluation
# Hershey fonts: script, sans, roman, italic. futural and rowmans turned out to hold the same
# letters and digits (they differ in a few punctuation marks), so they write alike; the shipped
# model was trained on these four, and a new run would do better with another fourth font.
STYLES = ("cursive", "futural", "rowmans", "timesi")
# the space first: the served metadata's alphabet leaves it out (it is index 0)
ALPHABET = " abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "0123456789" ".,'!?-"
END_PADDING = " "  # every text ends with a space; the window reaching it ends the writing


@dataclass(frozen=True)
class Size:
    hidden: int = 144
    embedding: int = 24
    window: int = 10  # Gaussians of the attention window
    mixtures: int = 20

    @property
    def state_lengths(self) -> tuple[int, int, int, int]:
        """The recurrent state's parts: hidden, cell, kappa (a position per window Gaussian)
        and the window (a letter embedding)."""
        return (self.hidden, self.hidden, self.window, self.embedding)


@dataclass(frozen=True)
class Schedule:
    """Training, then polishing: more batches at the final learning rate, with a fresh Adam
    and its own seed (added after a first run, so the first phase's cached result stays
    valid)."""

    steps: int = 2_500
    batch_size: int = 128
    learning_rate: float = 2e-3
    final_learning_rate: float = 2e-4
    polish_steps: int = 800
    max_letters: int = 14
    clip: float = 3.0
    evaluate_every: int = 100


@dataclass(frozen=True)
class Phase:
    first_batch: int
    batches: int
    learning_rate: float
    final_learning_rate: float
    seed: int


QUICK = Schedule(steps=30, batch_size=8, polish_steps=10, evaluate_every=15)

log = logging.getLogger(__name__)


class Writer(nn.Module):
    """One step: the last pen offset, the state and the text -> the next offset's mixture."""

    def __init__(self, size: Size = Size()) -> None:
        super().__init__()
        self.size = size
        self.letters = nn.Embedding(len(ALPHABET), size.embedding)
        self.cell = nn.LSTMCell(3 + size.embedding + len(STYLES), size.hidden)
        self.attention = nn.Linear(size.hidden, 3 * size.window)
        self.mixture = nn.Linear(size.hidden + size.embedding, 1 + 6 * size.mixtures)
        with torch.no_grad():  # the window starts by moving about a letter per 20 points
            self.attention.bias[2 * size.window:] = math.log(0.05)

    def step(self, pen: torch.Tensor, style: torch.Tensor, hidden: torch.Tensor,
             cell: torch.Tensor, kappa: torch.Tensor, window: torch.Tensor,
             letters: torch.Tensor, letter_mask: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, ...]:
        """letters: [N, U, E] embedded text. Returns the mixture's raw parameters, the new
        state, and the window's weight on each letter position [N, U]."""
        hidden, cell = self.cell(torch.cat([pen, window, style], 1), (hidden, cell))
        alpha, beta, move = torch.exp(self.attention(hidden).clamp(max=8)).chunk(3, dim=1)
        kappa = kappa + move
        positions = torch.arange(letters.shape[1], dtype=pen.dtype).view(1, 1, -1)
        phi = (alpha.unsqueeze(2)
               * torch.exp(-beta.unsqueeze(2) * (kappa.unsqueeze(2) - positions) ** 2)).sum(1)
        if letter_mask is not None:
            phi = phi * letter_mask
        window = torch.bmm(phi.unsqueeze(1), letters).squeeze(1)
        raw = self.mixture(torch.cat([hidden, window], 1))
        return raw, hidden, cell, kappa, window, phi

    def initial_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        return tuple(torch.zeros(batch, n) for n in self.size.state_lengths)


def split_mixture(raw: torch.Tensor, mixtures: int) -> tuple[torch.Tensor, ...]:
    """Raw outputs -> lift logit [N], weight logits [N, M], means [N, M, 2], log scales
    [N, M, 2], correlations [N, M]."""
    lift, weights, means, log_scales, rho = torch.split(
        raw, [1, mixtures, 2 * mixtures, 2 * mixtures, mixtures], dim=1)
    return (lift.squeeze(1), weights, means.view(-1, mixtures, 2),
            log_scales.view(-1, mixtures, 2).clamp(-7, 4), torch.tanh(rho) * 0.999)


def point_loss(raw: torch.Tensor, target: torch.Tensor, mixtures: int) -> torch.Tensor:
    """Negative log-likelihood of each target point [N] under the step's mixture (nats)."""
    return mixture_loss(*split_mixture(raw, mixtures), target)


def mixture_loss(lift: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                 log_scales: torch.Tensor, rho: torch.Tensor, target: torch.Tensor
                 ) -> torch.Tensor:
    """point_loss from the mixture's parts (`lift` a logit)."""
    d = (target[:, None, :2] - means) / torch.exp(log_scales)
    one_minus = 1 - rho**2
    z = d[..., 0] ** 2 + d[..., 1] ** 2 - 2 * rho * d[..., 0] * d[..., 1]
    log_density = (-z / (2 * one_minus) - log_scales.sum(2) - 0.5 * torch.log(one_minus)
                   - math.log(2 * math.pi))
    position = -torch.logsumexp(torch.log_softmax(weights, 1) + log_density, dim=1)
    pen = nn.functional.binary_cross_entropy_with_logits(lift, target[:, 2], reduction="none")
    return position + pen


# ---------------------------------------------------------------------------------------------
# data


def word_lists() -> tuple[list[str], list[str]]:
    """Training and held-out words: the alphabetic words among GloVe's 30,000 most frequent
    (the analogy model's vocabulary), every tenth held out."""
    words = [w for w in WORD_SOURCE.read_text().split("\n")[:30_000]
             if w.isalpha() and w.isascii() and 2 <= len(w) <= 10]
    held_out = set(words[::HELD_OUT_EVERY])
    return [w for w in words if w not in held_out], sorted(held_out)


def random_text(words: list[str], rng: np.random.Generator, max_letters: int) -> str:
    """One or two words, sometimes capitalised, sometimes with a number or punctuation."""
    text = words[rng.integers(len(words))]
    if rng.random() < 0.5:
        text += " " + words[rng.integers(len(words))]
    if rng.random() < 0.25:
        text = text.capitalize()
    elif rng.random() < 0.05:
        text = text.upper()
    if rng.random() < 0.1:
        text += str(rng.integers(0, 1000))
    if rng.random() < 0.15:
        text += ALPHABET[-6:][rng.integers(6)]  # punctuation
    return text[:max_letters].strip() or "a"


@dataclass
class Batch:
    inputs: torch.Tensor  # [N, T, 3] the pen offsets before each point
    targets: torch.Tensor  # [N, T, 3]
    point_mask: torch.Tensor  # [N, T]
    letters: torch.Tensor  # [N, U] letter indices (text + END_PADDING)
    letter_mask: torch.Tensor  # [N, U]
    styles: torch.Tensor  # [N, S] one-hot


def letter_indices(text: str) -> list[int]:
    return [ALPHABET.index(c) for c in text + END_PADDING]


def make_batch(texts: list[str], style_ids: list[int], rng: np.random.Generator) -> Batch:
    sequences = [pen_offsets(strokes_of(text, STYLES[s], wobble(rng), rng, closing_move=True),
                             UNIT)
                 for text, s in zip(texts, style_ids, strict=True)]
    n, longest = len(texts), max(len(s) for s in sequences)
    targets = np.zeros((n, longest, 3), np.float32)
    mask = np.zeros((n, longest), np.float32)
    for i, sequence in enumerate(sequences):
        targets[i, :len(sequence)], mask[i, :len(sequence)] = sequence, 1
    inputs = np.concatenate([np.zeros((n, 1, 3), np.float32), targets[:, :-1]], axis=1)
    inputs[:, 0, 2] = 1  # the pen starts lifted
    indices = [letter_indices(t) for t in texts]
    width = max(len(i) for i in indices)
    letters = np.zeros((n, width), np.int64)
    letter_mask = np.zeros((n, width), np.float32)
    for i, row in enumerate(indices):
        letters[i, :len(row)], letter_mask[i, :len(row)] = row, 1
    return Batch(torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(mask),
                 torch.from_numpy(letters), torch.from_numpy(letter_mask),
                 torch.eye(len(STYLES))[style_ids])


def batch_loss(writer: Writer, batch: Batch) -> torch.Tensor:
    """Mean negative log-likelihood per point of a teacher-forced batch."""
    letters = writer.letters(batch.letters)
    hidden, cell, kappa, window = writer.initial_state(len(batch.inputs))
    raws = []
    for t in range(batch.inputs.shape[1]):
        raw, hidden, cell, kappa, window, _ = writer.step(
            batch.inputs[:, t], batch.styles, hidden, cell, kappa, window, letters,
            batch.letter_mask)
        raws.append(raw)
    per_point = point_loss(torch.stack(raws, 1).flatten(0, 1), batch.targets.flatten(0, 1),
                           writer.size.mixtures) * batch.point_mask.flatten()
    return per_point.sum() / batch.point_mask.sum()


def phases(schedule: Schedule) -> tuple[Phase, Phase]:
    return (Phase(0, schedule.steps, schedule.learning_rate, schedule.final_learning_rate, SEED),
            Phase(schedule.steps, schedule.polish_steps, schedule.final_learning_rate,
                  schedule.final_learning_rate, SEED + 10))


def train(phase: Phase, schedule: Schedule, words: list[str], held_out: list[str], quick: bool,
          writer: Writer | None = None) -> tuple[Writer, list[dict]]:
    """One phase of training, from a fresh network or from `writer`."""
    rng = seed_everything(phase.seed)
    writer = writer or Writer()
    optimizer = torch.optim.Adam(writer.parameters(), lr=phase.learning_rate)
    decay = (phase.final_learning_rate / phase.learning_rate) ** (1 / phase.batches)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, decay)
    check_rng = np.random.default_rng(SEED + 1)
    check = make_batch([random_text(held_out, check_rng, schedule.max_letters)
                        for _ in range(64)], [i % len(STYLES) for i in range(64)], check_rng)
    history: list[dict] = []
    last = phase.first_batch + phase.batches
    progress = tqdm(range(phase.first_batch + 1, last + 1), desc=f"training {NAME}",
                    unit="batch", mininterval=5, smoothing=0.05)
    recent: list[float] = []
    for step in progress:
        texts = [random_text(words, rng, schedule.max_letters)
                 for _ in range(schedule.batch_size)]
        batch = make_batch(texts, list(rng.integers(len(STYLES), size=len(texts))), rng)
        loss = batch_loss(writer, batch)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(writer.parameters(), schedule.clip)
        optimizer.step()
        scheduler.step()
        recent = (recent + [float(loss.detach())])[-100:]
        if step % schedule.evaluate_every == 0 or step == last:
            with torch.no_grad():
                held = float(batch_loss(writer, check))
            history.append({"batch": step, "training_nll": round(float(np.mean(recent)), 3),
                            "held_out_nll": round(held, 3)})
            if not quick:  # to look at the writing while training goes on
                torch.save(writer.state_dict(), cache_root() / f"{NAME}-partial.pt")
            progress.set_postfix(training=f"{np.mean(recent):.2f}", held_out=f"{held:.2f}")
            log.info("batch %d: held-out NLL per point %.3f", step, held)
    return writer, history


# ---------------------------------------------------------------------------------------------
# export


class ServedStep(nn.Module):
    """The graph the server loops: named tensors in and out (docs/model-folders.md, PenWriter)."""

    def __init__(self, writer: Writer) -> None:
        super().__init__()
        self.writer = writer

    def forward(self, pen: torch.Tensor, style: torch.Tensor, letters: torch.Tensor,
                hidden: torch.Tensor, cell: torch.Tensor, kappa: torch.Tensor,
                window: torch.Tensor) -> tuple[torch.Tensor, ...]:
        styles = nn.functional.one_hot(style[:, 0], len(STYLES)).to(pen.dtype)
        raw, hidden, cell, kappa, window, phi = self.writer.step(
            pen, styles, hidden, cell, kappa, window, self.writer.letters(letters))
        lift, weights, means, log_scales, rho = split_mixture(raw, self.writer.size.mixtures)
        return (torch.sigmoid(lift).unsqueeze(1), weights, means, log_scales, rho, phi,
                hidden, cell, kappa, window)


INPUTS = ["pen", "style", "letters", "hidden", "cell", "kappa", "window"]
OUTPUTS = ["lift", "weight_logits", "means", "log_scales", "correlations", "attention",
           "hidden_out", "cell_out", "kappa_out", "window_out"]
STATE = INPUTS[3:]  # the recurrent inputs; the graph returns each again as <name>_out


def start_state() -> dict[str, np.ndarray]:
    """The served graph's recurrent inputs at the start of a text (batch 1): zeros."""
    return {name: np.zeros((1, n), np.float32)
            for name, n in zip(STATE, Size().state_lengths, strict=True)}


def next_state(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: outputs[name + "_out"] for name in STATE}


def export(writer: Writer) -> onnx.ModelProto:
    """The step graph with float16 weights (cast to float32 as the graph loads): half the
    bytes in git, arithmetic still in float32."""
    hidden, cell, kappa, window = writer.initial_state(1)
    examples = (torch.zeros(1, 3), torch.zeros(1, 1, dtype=torch.int64),
                torch.zeros(1, 5, dtype=torch.int64), hidden, cell, kappa, window)
    dynamic = {name: {0: "batch"} for name in INPUTS + OUTPUTS}
    dynamic["letters"] = {0: "batch", 1: "letters"}
    dynamic["attention"] = {0: "batch", 1: "letters"}
    buffer = io.BytesIO()
    torch.onnx.export(ServedStep(writer).eval(), examples, buffer, input_names=INPUTS,
                      output_names=OUTPUTS, dynamic_axes=dynamic, opset_version=OPSET,
                      dynamo=False)
    model = half_weights(onnx.load_from_string(buffer.getvalue()))
    model.doc_string = DESCRIPTION
    return model


def half_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every float32 initializer of more than 16 values stored as float16, with a Cast back
    to float32 where the graph reads it."""
    graph = model.graph
    casts = []
    for initializer in graph.initializer:
        array = numpy_helper.to_array(initializer)
        if array.dtype != np.float32 or array.size <= 16:
            continue
        name = initializer.name
        initializer.CopyFrom(numpy_helper.from_array(array.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT,
                                      name=f"cast_{name}"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# measuring the served graph


def session_of(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def verify(writer: Writer, session: ort.InferenceSession, words: list[str]) -> list[dict]:
    """The graph against PyTorch along a teacher-forced word in each style. The graph's weights
    are float16, so the reference is the PyTorch network with its weights rounded the same way."""
    rounded = Writer(writer.size)
    rounded.load_state_dict({k: v.half().float() for k, v in writer.state_dict().items()})
    rng = np.random.default_rng(SEED + 2)
    worst = 0.0
    for style in range(len(STYLES)):
        batch = make_batch([words[style]], [style], rng)
        letters = batch.letters
        with torch.no_grad():
            state = rounded.initial_state(1)
            embedded = rounded.letters(letters)
            for t in range(batch.inputs.shape[1]):
                feeds = {"pen": batch.inputs[:, t].numpy(), "style": np.array([[style]]),
                         "letters": letters.numpy(),
                         **{name: part.numpy() for name, part in zip(STATE, state, strict=True)}}
                got = session.run(None, feeds)
                raw, *state, _ = rounded.step(batch.inputs[:, t], batch.styles, *state, embedded)
                expected = [t.numpy() for t in split_mixture(raw, rounded.size.mixtures)]
                expected[0] = 1 / (1 + np.exp(-expected[0][:, None]))
                worst = max(worst, *(float(np.abs(g - e).max())
                                     for g, e in zip(got[:5], expected, strict=True)))
    return [{"input": f"one held-out word per style, teacher-forced ({', '.join(words[:4])})",
             "max abs diff (mixture parameters, every step)": worst}]


def held_out_nll(session: ort.InferenceSession, words: list[str], count: int) -> float:
    """Mean negative log-likelihood per point (nats) the served graph gives held-out words,
    teacher-forced, each in a style in turn."""
    rng = np.random.default_rng(SEED + 3)
    total, points = 0.0, 0
    for i, word in enumerate(words[:count]):
        batch = make_batch([word], [i % len(STYLES)], rng)
        feeds = {"style": np.array([[i % len(STYLES)]]), "letters": batch.letters.numpy()}
        state = start_state()
        for t in range(batch.inputs.shape[1]):
            out = session.run(None, {**feeds, **state, "pen": batch.inputs[:, t].numpy()})
            torch_out = [torch.from_numpy(o) for o in out[:5]]
            total += float(nll_of_outputs(torch_out, batch.targets[:, t]))
            points += 1
            state = next_state(dict(zip(OUTPUTS, out, strict=True)))
    return total / points


def nll_of_outputs(outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """point_loss from the graph's named outputs (lift a probability, which float32 may round
    to 0 or 1: kept a hair inside)."""
    lift, weights, means, log_scales, rho = outputs
    lift = lift.reshape(-1).double().clamp(1e-7, 1 - 1e-7)
    logit = (torch.log(lift) - torch.log1p(-lift)).float()
    return mixture_loss(logit, weights, means, log_scales, rho, target)[0]


def write_with(session: ort.InferenceSession, text: str, style: int, bias: float,
               rng: np.random.Generator, steps_per_letter: int = 40) -> tuple[list, bool]:
    """The served graph writing `text` as the server loops it (service/tasks/write.py): the
    pen offsets drawn, and whether the window reached the closing space."""
    letters = np.array([letter_indices(text)], np.int64)
    state = start_state()
    pen = np.array([[0, 0, 1]], np.float32)
    offsets: list[np.ndarray] = []
    while len(offsets) < steps_per_letter * letters.shape[1]:
        out = session.run(None, {"pen": pen, "style": np.array([[style]]), "letters": letters,
                                 **state})
        step = dict(zip(OUTPUTS, out, strict=True))
        if text_done(step["attention"]):
            return offsets, True
        offsets.append(next_offset(step, bias, rng))
        pen, state = offsets[-1][None], next_state(step)
    return offsets, False


def font_points(text: str, style: int) -> int:
    """Pen points the font itself takes for `text` (the closing move included)."""
    return len(pen_offsets(strokes_of(text, STYLES[style], closing_move=True), UNIT))


def writing_measures(session: ort.InferenceSession, words: list[str], bias: float,
                     count: int) -> dict:
    """Free writing of held-out words, each style in turn: how many the model writes to the
    end, and its pen points against the font's for the same word."""
    rng = np.random.default_rng(SEED + 4)
    finished, ratios = 0, []
    for i, word in enumerate(words[:count]):
        offsets, done = write_with(session, word, i % len(STYLES), bias, rng)
        finished += done
        ratios.append(len(offsets) / font_points(word, i % len(STYLES)))
    return {"words": count, "bias": bias, "written_to_the_end": finished,
            "median_points_over_font_points": round(float(np.median(ratios)), 2)}


def step_speed_ms(session: ort.InferenceSession) -> float:
    feeds = {"pen": np.zeros((1, 3), np.float32), "style": np.zeros((1, 1), np.int64),
             "letters": np.zeros((1, 12), np.int64), **start_state()}
    return run_time(session, feeds, runs=500).median_ms


def learning_curve_png(history: list[dict]) -> bytes:
    """Negative log-likelihood per point against batches, training and held out."""
    width, height, margin = 640, 320, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    values = [h[k] for h in history for k in ("training_nll", "held_out_nll")]
    low, high = math.floor(min(values)), math.ceil(max(values))
    last = history[-1]["batch"]

    def point(batch: float, value: float) -> tuple[float, float]:
        return (margin + batch / last * (width - 2 * margin),
                height - margin - (value - low) / max(high - low, 1) * (height - 2 * margin))

    for value in range(low, high + 1):
        draw.line([point(0, value), point(last, value)], fill=(225, 225, 225))
        draw.text((point(0, value)[0] - 24, point(0, value)[1] - 6), f"{value:>3}", fill="black")
    for batch in range(0, last + 1, 500):
        draw.text((point(batch, low)[0] - 10, height - margin + 4), f"{batch:,}", fill="black")
    draw.text((margin, 8), "negative log-likelihood per pen point (nats) against training "
              "batches", fill="black")
    for key, colour in (("training_nll", (70, 130, 180)), ("held_out_nll", (200, 60, 40))):
        draw.line([point(h["batch"], h[key]) for h in history], fill=colour, width=2)
    draw.text((margin + 8, height - margin + 22), "blue: training batches (mean of the last "
              "100)   red: 64 held-out texts", fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def trained(schedule: Schedule, quick: bool, words: list[str], held_out: list[str]
            ) -> tuple[Writer, list[dict], float]:
    """The network trained and polished on `schedule`, its history and the minutes it took;
    each phase of a full run is cached like the other trained models, so the folder can be
    written again without training."""
    state: dict = {"writer": None, "history": [], "minutes": 0.0}
    for phase, key in zip(phases(schedule), (f"{schedule.steps}",
                                             f"{schedule.steps}+{schedule.polish_steps}"),
                          strict=True):
        def run(before: dict = state, phase: Phase = phase) -> dict:
            writer, history = train(phase, schedule, words, held_out, quick,
                                    writer_of(before["writer"]))
            return {"writer": writer.state_dict(), "history": before["history"] + history,
                    "minutes": before["minutes"]}
        state = cached_run(f"{NAME}-{key}-seed{SEED}", quick, run)
    return writer_of(state["writer"]), state["history"], state["minutes"]


def writer_of(weights: dict | None) -> Writer | None:
    if weights is None:
        return None
    writer = Writer()
    writer.load_state_dict(weights)
    return writer


def sample_texts(held_out: list[str]) -> list[str]:
    """One held-out text per style for the samples: two words where the list allows."""
    chosen = [w for w in held_out if 4 <= len(w) <= 7][::97]
    return [f"{chosen[2 * i].capitalize()} {chosen[2 * i + 1]}" for i in range(len(STYLES))]


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train, export, verify, measure on held-out words, write the folder and its samples."""
    schedule = QUICK if quick else Schedule()
    words, held_out = word_lists()
    writer, history, minutes = trained(schedule, quick, words, held_out)
    model = export(writer)
    session = session_of(model)
    verification = verify(writer, session, held_out)
    metrics = {"batches": schedule.steps + schedule.polish_steps,
               "batch_size": schedule.batch_size,
               "training_minutes": round(minutes, 1), "history": history,
               "held_out_words": len(held_out),
               "held_out_nll_per_point": round(held_out_nll(session, held_out,
                                                            8 if quick else 200), 3),
               "free_writing": [writing_measures(session, held_out[1::7], bias,
                                                 8 if quick else 200) for bias in (0.0, 1.0)],
               "cpu_ms_per_step": round(step_speed_ms(session), 3),
               "measured_on": "onnxruntime", "quick": quick}
    log.info("metrics: %s", {k: v for k, v in metrics.items() if k != "history"})
    samples = samples_folder(out_dir, NAME, fresh=True)
    texts = [{"text": word, "style": STYLES[i], "seed": i + 1, "bias": 1.0,
              "font_points": font_points(word, i)}
             for i, word in enumerate(sample_texts(held_out))]
    (samples / "expected.json").write_text(json_text(
        {"model": NAME, "task": "write", "texts": texts,
         "selection": "held-out words (never in training), one per style; each must be "
         "written to the end, in the font's number of pen points within a factor of two"}))
    size = Size()
    return publish(
        out_dir, NAME, model,
        metadata=ModelMetadata.build(
            "write", PenWriter(alphabet=ALPHABET[1:], styles=",".join(STYLES)),
            default=True, description=DESCRIPTION),
        inputs=[TensorSpec("pen", "FP32", [3]), TensorSpec("style", "INT64", [1]),
                TensorSpec("letters", "INT64", [-1]),
                TensorSpec("hidden", "FP32", [size.hidden]),
                TensorSpec("cell", "FP32", [size.hidden]),
                TensorSpec("kappa", "FP32", [size.window]),
                TensorSpec("window", "FP32", [size.embedding])],
        outputs=[TensorSpec("lift", "FP32", [1]),
                 TensorSpec("weight_logits", "FP32", [size.mixtures]),
                 TensorSpec("means", "FP32", [size.mixtures, 2]),
                 TensorSpec("log_scales", "FP32", [size.mixtures, 2]),
                 TensorSpec("correlations", "FP32", [size.mixtures]),
                 TensorSpec("attention", "FP32", [-1]),
                 TensorSpec("hidden_out", "FP32", [size.hidden]),
                 TensorSpec("cell_out", "FP32", [size.hidden]),
                 TensorSpec("kappa_out", "FP32", [size.window]),
                 TensorSpec("window_out", "FP32", [size.embedding])],
        max_batch_size=16,
        files={"learning_curve.png": learning_curve_png(history)},
        card=model_card(model, metrics, schedule, verification), metrics=metrics,
    )


def model_card(model: onnx.ModelProto, metrics: dict, schedule: Schedule,
               verification: list[dict]) -> ModelCard:
    size = Size()
    return ModelCard(
        title=f"{NAME}: handwriting synthesis learned from Hershey stroke fonts",
        description=DESCRIPTION + ". One step of the network: the last pen offset, the style "
        "(a font), the text's letters and the recurrent state in; the next offset's mixture "
        "(lift probability, 20 bivariate Gaussians), the window's weight on each letter and "
        "the new state out. The server loops it (service/tasks/write.py).",
        source="Architecture after Graves 2013, 'Generating Sequences With Recurrent Neural "
        "Networks', section 5 (smaller: one LSTM layer of "
        f"{size.hidden} units, a window of {size.window} Gaussians over {size.embedding}-d "
        f"letter embeddings, {size.mixtures} mixture components); weights "
        + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Training data: the .jhf fonts of Debian's "
        f"{FONT_PACKAGE} {package_version()}, under the Hershey license (any use, with its "
        "acknowledgements: the Hershey Fonts were originally created by Dr. A. V. Hershey "
        "while working at the U. S. National Bureau of Standards; the format of the font data "
        "was originally created by James Hurt, Cognition, Inc.).",
        training=f"{schedule.steps:,} batches of {schedule.batch_size} texts, Adam lr "
        f"{schedule.learning_rate} decaying to {schedule.final_learning_rate}, then "
        f"{schedule.polish_steps:,} batches at {schedule.final_learning_rate} with a fresh Adam "
        f"({metrics['training_minutes']} minutes in all on one CPU thread); gradient norm "
        f"clipped at {schedule.clip}. Texts: one or two words from GloVe 6B's 30,000 most "
        "frequent (every tenth word held out), sometimes capitalised or with a number or "
        f"punctuation, at most {schedule.max_letters} characters, written in the fonts "
        f"{', '.join(STYLES)} with a random slant, size, letter spacing and pen shake. "
        "Learning curve: learning_curve.png beside this card.",
        **card_facts(model),
        metrics={
            "negative log-likelihood per pen point, 200 held-out words (onnxruntime, nats)":
                str(metrics["held_out_nll_per_point"]),
            **{f"free writing of {m['words']} held-out words, bias {m['bias']:g}":
               f"{m['written_to_the_end']} written to the end; median length "
               f"{m['median_points_over_font_points']} times the font's pen points"
               for m in metrics["free_writing"]},
            "CPU time per step (onnxruntime, batch 1, this machine)":
                f"{metrics['cpu_ms_per_step']} ms",
        },
        verification=verification,
        notes="It learned from typeset stroke fonts, not from people's handwriting: its "
        "letters imitate four Hershey fonts (made a little irregular while training), and a "
        "style is one of those fonts. Two of them, futural and rowmans, hold the same letters "
        "and digits in the Hershey data (they differ in a few punctuation marks), so those two "
        "styles write alike. timesi, the most intricate font (about 28 pen points a letter), "
        "is written least well. Graves trained on the IAM On-Line Handwriting Database "
        "(pen recordings of 221 writers), which no package reachable here ships. Characters "
        f"it can write: {ALPHABET!r}.",
    )
