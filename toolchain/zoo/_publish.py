"""The tail every zoo script shares: tensors from the metadata, the folder, metrics, samples.

Training and import scripts differ in how they get a model; what they write is the same:
a model folder whose config comes from typed metadata (contract/metadata.py), its
metrics.json, and a samples folder with expected.json. No torch here, so import scripts that
need none can use it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from contract.metadata import ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, TensorSpec, write_model_folder


def json_text(data: object, *, sort_keys: bool = False) -> str:
    """JSON as the zoo writes it: indented, one trailing newline."""
    return json.dumps(data, indent=2, sort_keys=sort_keys) + "\n"


def image_tensor(image: ImageInput, name: str = "image") -> TensorSpec:
    """The UINT8 NHWC input that `image` metadata describes (its size and channels)."""
    if image.image_size is None:
        raise ValueError("a zoo model states its image size")
    height, width = image.image_size
    return TensorSpec(name, "UINT8", [height, width, image.channels or 3], format="NHWC")


def detection_outputs() -> list[TensorSpec]:
    """boxes, scores and labels of a detection graph (docs/model-folders.md)."""
    return [
        TensorSpec("boxes", "FP32", [-1, 4]),
        TensorSpec("scores", "FP32", [-1]),
        TensorSpec("labels", "INT64", [-1], label_filename="labels.txt"),
    ]


def write_metrics(folder: Path, metrics: dict) -> Path:
    """metrics.json beside the config: the held-out metrics measured on the ONNX model."""
    path = Path(folder) / "metrics.json"
    path.write_text(json_text(metrics, sort_keys=True))
    return path


def write_expected(samples_dir: Path, expected: dict) -> dict:
    """expected.json of a samples folder; returns `expected`."""
    samples_dir = Path(samples_dir)
    samples_dir.mkdir(parents=True, exist_ok=True)
    (samples_dir / "expected.json").write_text(json_text(expected))
    return expected


def publish(
    out_dir: Path,
    name: str,
    model: onnx.ModelProto,
    *,
    metadata: ModelMetadata,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    max_batch_size: int,
    card: ModelCard | str,
    labels: list[str] | None = None,
    files: dict[str, bytes | str | Path] | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write (or replace) the model folder `out_dir/name`, with metrics.json when given."""
    folder = write_model_folder(
        out_dir, name, model, inputs=inputs, outputs=outputs, max_batch_size=max_batch_size,
        parameters=metadata, labels=labels, files=files, card=card, overwrite=True,
    )
    if metrics is not None:
        write_metrics(folder, metrics)
    return folder


def worst_difference(rows: list[dict], original: str, tolerance: float) -> float:
    """The largest "max abs diff" of the verification rows; refuses a translation past
    `tolerance` against the `original` runtime."""
    worst = max(row["max abs diff"] for row in rows)
    if worst > tolerance:
        raise RuntimeError(f"ONNX translation differs from {original} by {worst:.3g} > "
                           f"{tolerance}")
    return worst


def photo_size(photo: np.ndarray) -> dict[str, int]:
    """expected.json's width and height of a sample photo [H, W, C]."""
    return {"width": int(photo.shape[1]), "height": int(photo.shape[0])}


def probabilities_output(classes: int) -> TensorSpec:
    """A classifier's softmax output, named by labels.txt."""
    return TensorSpec("probabilities", "FP32", [classes], label_filename="labels.txt")
