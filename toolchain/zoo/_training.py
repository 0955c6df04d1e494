"""What every zoo training script (`train_*.py`) shares: seeding, the in-graph image
normaliser, a training loop over shuffled batches with a progress bar, ONNX export, checks of
the ONNX model against PyTorch, and the writers of metrics, samples and model-card text.

The scripts keep their own model, data and hyper-parameters; this module holds only the
scaffolding they have in common. They measure their held-out metrics on the exported ONNX model
(what the server runs), not on the PyTorch one.

Not a zoo entry: discovery (toolchain/zoo/__init__.py) imports `train_*` and `import_*` only.
"""

from __future__ import annotations

import io
import logging
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from contract.metadata import ImageInput, ModelMetadata
from toolchain.datasets.digits import ImageSplit
from toolchain.model_folder import ModelCard, onnx_facts
from toolchain.packages import cache_root
from toolchain.zoo._publish import image_tensor, probabilities_output, publish, write_expected

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
    count: int,
    make_batch: Callable[[np.ndarray], Batch],
    *,
    rng: np.random.Generator,
    batch_size: int,
    epochs: int,
    learning_rate: float,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    name: str,
    weight_decay: float = 1e-4,
) -> list[float]:
    """Train with AdamW and a one-cycle schedule; return the mean loss of each epoch.

    Each epoch reshuffles the `count` items with `rng` (`shuffled_batches`) and
    `make_batch(rows)` turns one batch of numpy row indices into `((inputs...), target)`;
    the loss is `loss_fn(model(*inputs), target)`.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = -(-count // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=max(1, epochs * steps_per_epoch)
    )
    description = f"{name}: training"
    losses = []
    progress = tqdm(range(epochs), desc=description, unit="epoch")
    for epoch in progress:
        model.train()
        total, steps = 0.0, 0
        for rows in shuffled_batches(count, batch_size, rng):
            inputs, target = make_batch(rows)
            loss = loss_fn(model(*inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule.last_epoch + 1 < schedule.total_steps:
                schedule.step()
            total, steps = total + loss.item(), steps + 1
        losses.append(total / max(steps, 1))
        progress.set_postfix(loss=f"{losses[-1]:.4f}")
        log.info("%s: epoch %d loss %.4f", description, epoch + 1, losses[-1])
    model.eval()
    return losses


def shuffled_batches(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of `count` items, shuffled, cut into batches (the last may be smaller)."""
    order = rng.permutation(count)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


def augmented_batches(
    data: ImageSplit, augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor], seed: int
) -> Callable[[np.ndarray], Batch]:
    """`make_batch` for `fit` on an image classification split: `augment(images, generator)`
    on every batch, drawing from its own torch generator seeded `seed`."""
    generator = torch.Generator().manual_seed(seed)
    images, labels = torch.from_numpy(data.images), torch.from_numpy(data.labels)

    def make_batch(rows: np.ndarray) -> Batch:
        index = torch.from_numpy(rows)
        return (augment(images[index], generator),), labels[index]

    return make_batch


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


def export_batched(
    module: nn.Module, examples: dict[str, torch.Tensor], output_names: list[str]
) -> onnx.ModelProto:
    """`export_onnx` with the inputs named by `examples` and the first dimension of every input
    and output dynamic ("batch")."""
    names = [*examples, *output_names]
    return export_onnx(
        module,
        tuple(examples.values()),
        list(examples),
        output_names,
        {name: {0: "batch"} for name in names},
    )


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


@dataclass
class Exported:
    """An exported graph, its session, its verification rows and its held-out outputs."""

    onnx_model: onnx.ModelProto
    session: ort.InferenceSession
    verification: list[dict]
    outputs: dict[str, np.ndarray]


def export_and_measure(
    served: nn.Module,
    examples: dict[str, torch.Tensor],
    output_names: list[str],
    test_feeds: dict[str, np.ndarray],
    *,
    tolerance: float,
    batch_size: int = 256,
) -> Exported:
    """Export `served` (`export_batched`), verify it against PyTorch on the first five held-out
    items, then run the ONNX model over all of `test_feeds`."""
    onnx_model = export_batched(served, examples, output_names)
    session = onnx_session(onnx_model)
    verification = verify_against_pytorch(
        served, session, {key: value[:5] for key, value in test_feeds.items()}, tolerance
    )
    outputs = run_batched(session, test_feeds, batch_size=batch_size)
    return Exported(onnx_model, session, verification, outputs)


def run_metrics(losses: list[float], quick: bool) -> dict:
    """The entries every metrics.json has besides the held-out measures."""
    return {"final_train_loss": round(losses[-1], 4), "measured_on": "onnxruntime", "quick": quick}


SAMPLE_SELECTION = (
    "held-out items (never trained on) that the committed model answers correctly, so the "
    "demo and the tests show what it does; its accuracy over all held-out items is in "
    "metrics.json"
)


def samples_folder(out_dir: Path, name: str, *, fresh: bool = False) -> Path:
    """`out_dir/samples/name`, created; emptied first when `fresh`."""
    folder = Path(out_dir) / "samples" / name
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_samples(folder: Path, model: str, task: str, samples: list[dict]) -> Path:
    """expected.json of a samples folder: each input file and its expected answer (the true
    label), with how the samples were chosen."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    document = {"model": model, "task": task, "selection": SAMPLE_SELECTION, "samples": samples}
    write_expected(folder, document)
    return folder / "expected.json"


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Share of equal entries."""
    return float(np.mean(np.asarray(predicted) == np.asarray(truth)))


def first_right(truth: np.ndarray, predicted: np.ndarray, label: int) -> int:
    """Row of the first item of class `label` predicted right (the first of the class when
    none is, as after a quick run)."""
    rows = np.flatnonzero(truth == label)
    right = rows[predicted[rows] == label]
    return int((right if len(right) else rows)[0])


def prefer(right: Sequence[int], fallback: Sequence[int], count: int) -> Sequence[int]:
    """The first `count` of `right` (rows answered right), or of `fallback` when `right` has
    fewer than `count` (as after a quick run)."""
    return (right if len(right) >= count else fallback)[:count]


def save_class_samples(
    out_dir: Path,
    name: str,
    images: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    labels: Sequence[str],
    file_name: Callable[[int, str], str],
) -> Path:
    """The first held-out greyscale image (NHWC, one channel) of each class that the model
    gets right, as `file_name(class_index, label)` PNGs with their expected.json."""
    folder = samples_folder(out_dir, name)
    samples = []
    for index, label in enumerate(labels):
        row = first_right(truth, predicted, index)
        image_name = file_name(index, label)
        Image.fromarray(images[row, :, :, 0], mode="L").save(folder / image_name)
        samples.append({"image": image_name, "expected": label})
    return write_samples(folder, name, "classification", samples)


def cached_run(key: str, quick: bool, run: Callable[[], dict]) -> dict:
    """The state `run()` returns (weights, history), kept in the toolchain's cache as `key`.pt
    so a model folder can be written again without training; quick runs are never kept. Adds
    the minutes the run took to the state's `minutes` (0 when it has none)."""
    saved = cache_root() / f"{key}.pt"
    if saved.is_file() and not quick:
        log.info("the network trained before: %s (delete it to train again)", saved)
        return torch.load(saved, weights_only=False)
    start = time.perf_counter()
    state = run()
    state["minutes"] = state.get("minutes", 0.0) + (time.perf_counter() - start) / 60
    if not quick:
        saved.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, saved)
    return state


def trained_here(name: str, seed: int) -> str:
    """How the model card's source names this training run."""
    return (
        f"trained here by `python -m toolchain train {name}` (toolchain/zoo/train_{name}.py), "
        f"seed {seed}, on CPU."
    )


def card_facts(*models: onnx.ModelProto) -> dict[str, int]:
    """The model card's `parameters`, `size_bytes` and `opset` of one ONNX graph, or of several
    served together (parameters and sizes summed, the first graph's opset)."""
    facts = [onnx_facts(model) for model in models]
    return {
        "parameters": sum(fact["parameters"] for fact in facts),
        "size_bytes": sum(fact["size_bytes"] for fact in facts),
        "opset": facts[0]["opset"],
    }


def publish_greyscale_classifier(
    out_dir: Path,
    name: str,
    model: nn.Module,
    test_split: ImageSplit,
    *,
    image: ImageInput,
    labels: Sequence[str],
    description: str,
    card: Callable[[onnx.ModelProto, dict, list[dict]], ModelCard],
    sample_name: Callable[[int, str], str],
    training_metrics: dict,
) -> Path:
    """The tail of a greyscale classifier's training: export with softmax, measure held-out
    accuracy on the ONNX model, write the folder (metrics in `card` and metrics.json) and one
    correctly answered sample per class."""
    exported = export_and_measure(
        WithSoftmax(model).eval(),
        {"image": torch.zeros(2, *image_tensor(image).dims, dtype=torch.uint8)},
        ["probabilities"],
        {"image": test_split.images},
        tolerance=1e-4,
    )
    predicted = exported.outputs["probabilities"].argmax(1)
    test_accuracy = accuracy(predicted, test_split.labels)
    log.info("%s: held-out accuracy %.4f on %d images", name, test_accuracy, len(test_split))
    metrics = {"test_accuracy": round(test_accuracy, 4), "test_images": len(test_split),
               **training_metrics}
    folder = publish(
        out_dir,
        name,
        exported.onnx_model,
        metadata=ModelMetadata.build("classification", image, description=description),
        inputs=[image_tensor(image)],
        outputs=[probabilities_output(len(labels))],
        max_batch_size=64,
        labels=list(labels),
        card=card(exported.onnx_model, metrics, exported.verification),
        metrics=metrics,
    )
    save_class_samples(out_dir, name, test_split.images, test_split.labels, predicted, labels,
                       sample_name)
    return folder
