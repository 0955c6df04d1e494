"""The committed EfficientNet-Lite0 classifier: real photos named, the preset carried in the
metadata, float16 storage, and the default classifier behind a real server."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from clients import Client
from contract.metadata import ImageInput, parse_metadata
from tests.support.server import running_server
from toolchain.zoo import import_efficientnet_lite as lite

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "exported_models" / lite.NAME
SAMPLES = ROOT / "exported_models" / "samples" / lite.NAME


def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(FOLDER / "1" / "model.onnx"))


def labels() -> list[str]:
    return (FOLDER / "labels.txt").read_text().splitlines()


def parameters() -> dict[str, str]:
    from google.protobuf import text_format

    from contract.protocol import model_config_pb2

    text = (FOLDER / "config.pbtxt").read_text()
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    return {key: value.string_value for key, value in config.parameters.items()}


def test_the_folder_carries_the_lite_preset_and_is_the_default_classifier():
    metadata = parse_metadata(parameters())
    assert metadata.task == "classification" and metadata.default
    assert metadata.section(ImageInput) == lite.PRESET
    assert len(labels()) == 1000 and labels()[281] == "tabby"


def test_weights_are_stored_as_float16_and_computed_in_float32():
    model = onnx.load(str(FOLDER / "1" / "model.onnx"))
    big = [t for t in model.graph.initializer if np.prod(t.dims) >= 256]
    assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big)
    assert session().get_outputs()[0].type == "tensor(float)"


def test_sample_photos_are_named_within_the_top_5():
    classifier = session()
    expected = json.loads((SAMPLES / "expected.json").read_text())
    for entry in expected["samples"]:
        image = np.asarray(Image.open(SAMPLES / entry["image"]).convert("RGB"))
        top = lite.top_k(lite.classify(classifier, image), labels())
        names = [name for name, _ in top]
        assert names[0] == entry["expected"], entry["image"]
        accepted = lite.SAMPLES[entry["image"].removesuffix(".jpg")]
        assert set(names) & set(accepted), f"{entry['image']}: {names}"


def test_a_full_size_photo_through_the_server_names_a_cat_breed(tmp_path):
    """The default classifier over the task API, on the full-size 451x300 cat photo."""
    import skimage.data

    repository = tmp_path / "repository"
    shutil.copytree(FOLDER, repository / FOLDER.name)
    buffer = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(buffer, format="PNG")
    with running_server(repository) as server, Client(server.grpc_url, timeout_s=120) as client:
        result = client.classify(buffer.getvalue(), top_k=5)
    assert result.model == lite.NAME
    cats = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
    assert cats & {entry.label for entry in result.classes}
    assert result.top.score > 0.3


@pytest.mark.parametrize("size", [(300, 451), (640, 427)])
def test_the_preset_keeps_the_centre_of_non_square_photos(size):
    from contract.imaging import fit_array

    image = np.zeros((*size, 3), np.uint8)
    placed, placement = fit_array(image, lite.PRESET)
    assert placed.shape == (224, 224, 3)
    assert min(placement.offset) < 0  # the longer side was cut, not squeezed
