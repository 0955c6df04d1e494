"""DeepDream's gradient graph (toolchain/zoo/import_deepdream.py, built by `make dream-model`)
against PyTorch autograd on a photo and a layer mix it was not verified on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from toolchain.tflite.photos import photo
from toolchain.zoo import import_deepdream

MODEL = Path(__file__).resolve().parents[2] / "exported_models" / import_deepdream.NAME


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    if not (MODEL / "1" / "model.onnx").exists():
        pytest.skip("deepdream_mobilenet_v2 is built, not committed: run `make dream-model`")
    return ort.InferenceSession(str(MODEL / "1" / "model.onnx"),
                                providers=["CPUExecutionProvider"])


def test_layers_file_names_the_graphs_weights_in_order():
    if not MODEL.is_dir():
        pytest.skip("run `make dream-model`")
    assert (MODEL / "layers.txt").read_text().split() == list(import_deepdream.LAYERS)


def test_gradient_matches_autograd_on_an_unseen_photo_and_mix(session):
    pixels = np.asarray(Image.fromarray(photo("rocket")).resize((192, 288)), np.float32)
    weights = np.array([0.0, 2.0, 0.0, 0.5, 1.0], np.float32)
    ours, score = session.run(None, {"pixels": pixels, "layer_weights": weights})
    reference, torch_score = import_deepdream.torch_gradient(import_deepdream.network(),
                                                             pixels, weights)
    assert ours.shape == pixels.shape
    error = np.linalg.norm(ours - reference) / np.linalg.norm(reference)
    assert error < import_deepdream.RELATIVE_TOLERANCE
    assert abs(float(score[0]) - torch_score) < 1e-4 * max(1.0, torch_score)


def test_sides_off_the_stride_are_refused_by_the_graph(session):
    """The server rounds sides to multiples of 32; the graph itself cannot take others."""
    with pytest.raises(Exception):  # noqa: B017 (onnxruntime raises its own error types)
        session.run(None, {"pixels": np.zeros((100, 100, 3), np.float32),
                           "layer_weights": np.ones(5, np.float32)})
