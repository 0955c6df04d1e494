"""What every zoo training script shares: seeding, the in-graph image normaliser, a training
loop with a progress bar, ONNX export, and checks of the ONNX model against PyTorch.

The scripts measure their held-out metrics on the exported ONNX model (what the server runs),
not on the PyTorch one.
"""

from __future__ import annotations

import io
import json
import logging
import random
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from tqdm import tqdm

log = logging.getLogger(__name__)

OPSET = 17
Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch; return a numpy generator for the script's own draws."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # the build machines are shared: one thread wastes least
    return np.random.default_rng(seed)


class UInt8Images(nn.Module):
    """uint8 NHWC images (0..255) -> float NCHW, scaled to 0..1, minus mean, over std.

    This is the first layer of every zoo image model, so normalisation lives in the graph.
    Float input in 0..255 is accepted too (augmentation produces it during training).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scaled = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return (scaled - self.mean) / self.std


class WithSoftmax(nn.Module):
    """The served classifier graph: class probabilities instead of the logits trained on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(*inputs), dim=-1)


def fit(
    model: nn.Module,
    batches: Callable[[int], Iterable[Batch]],
    *,
    epochs: int,
    steps_per_epoch: int,
    learning_rate: float,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    weight_decay: float = 1e-4,
    description: str = "training",
) -> list[float]:
    """Train with AdamW and a one-cycle schedule; return the mean loss of each epoch.

    `batches(epoch)` yields `((inputs...), target)`; `loss_fn(model(*inputs), target)`.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=max(1, epochs * steps_per_epoch)
    )
    losses = []
    progress = tqdm(range(epochs), desc=description, unit="epoch")
    for epoch in progress:
        model.train()
        total, count = 0.0, 0
        for inputs, target in batches(epoch):
            loss = loss_fn(model(*inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule.last_epoch + 1 < schedule.total_steps:
                schedule.step()
            total, count = total + loss.item(), count + 1
        losses.append(total / max(count, 1))
        progress.set_postfix(loss=f"{losses[-1]:.4f}")
        log.info("%s: epoch %d loss %.4f", description, epoch + 1, losses[-1])
    model.eval()
    return losses


def shuffled_batches(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of `count` items, shuffled, cut into batches (the last may be smaller)."""
    order = rng.permutation(count)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


def export_onnx(
    module: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> onnx.ModelProto:
    """Export with the TorchScript exporter at opset 17 and IR version <= 10, checked."""
    module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example_inputs,
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
        )
    model = onnx.load_from_string(buffer.getvalue())
    model.ir_version = min(model.ir_version, 10)
    onnx.checker.check_model(model)
    return model


def onnx_session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    """A CPU onnxruntime session on one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_batched(
    session: ort.InferenceSession, feeds: dict[str, np.ndarray], batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Run `session` over arrays whose first dimension is the batch, in chunks."""
    count = len(next(iter(feeds.values())))
    names = [output.name for output in session.get_outputs()]
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, count, batch_size):
        part = {key: value[start : start + batch_size] for key, value in feeds.items()}
        for name, value in zip(names, session.run(names, part), strict=True):
            chunks[name].append(value)
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def verify_against_pytorch(
    module: nn.Module,
    session: ort.InferenceSession,
    feeds: dict[str, np.ndarray],
    tolerance: float,
) -> list[dict]:
    """Compare every ONNX output with PyTorch on the same inputs; raise when one drifts.

    Float outputs report the max absolute difference; integer outputs (class maps) the share
    of elements that differ, which must stay under `tolerance` too.
    """
    module.eval()
    with torch.no_grad():
        expected = module(*(torch.from_numpy(value) for value in feeds.values()))
    if isinstance(expected, torch.Tensor):
        expected = (expected,)
    names = [output.name for output in session.get_outputs()]
    actual = session.run(names, feeds)
    batch = len(next(iter(feeds.values())))
    rows = []
    for name, reference, value in zip(names, expected, actual, strict=True):
        reference = reference.numpy()
        if np.issubdtype(value.dtype, np.floating):
            measure, difference = "max_abs_diff", float(np.max(np.abs(reference - value)))
        else:
            measure, difference = "mismatch_share", float(np.mean(reference != value))
        rows.append(
            {
                "output": name,
                "batch": batch,
                "measure": measure,
                "value": difference,
                "tolerance": tolerance,
            }
        )
        if difference > tolerance:
            raise RuntimeError(
                f"ONNX output {name!r} differs from PyTorch by {difference:.3g} ({measure}), "
                f"over the tolerance {tolerance}: the export is wrong, nothing was written"
            )
    return rows


def write_metrics(folder: Path, metrics: dict) -> Path:
    """metrics.json beside the config: the held-out metrics measured on the ONNX model."""
    path = Path(folder) / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


SAMPLE_SELECTION = (
    "held-out items (never trained on) that the committed model answers correctly, so the "
    "demo and the tests show what it does; its accuracy over all held-out items is in "
    "metrics.json"
)


def write_samples(folder: Path, model: str, task: str, samples: list[dict]) -> Path:
    """expected.json of a samples folder: each input file and its expected answer (the true
    label), with how the samples were chosen."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    document = {"model": model, "task": task, "selection": SAMPLE_SELECTION, "samples": samples}
    path = folder / "expected.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Share of equal entries."""
    return float(np.mean(np.asarray(predicted) == np.asarray(truth)))


def first_right(truth: np.ndarray, predicted: np.ndarray, label: int) -> int:
    """Row of the first item of class `label` predicted right (the first of the class when
    none is, as after a quick run)."""
    rows = np.flatnonzero(truth == label)
    right = rows[predicted[rows] == label]
    return int((right if len(right) else rows)[0])
