"""The TF.js imports (toolchain/tfjs): translation against TF.js in node, the committed COCO
detectors on real photos, and the default detector behind a real server's task API.

Tests that need the original files or TF.js skip, saying why, when npm cannot fetch them.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from clients import Client
from clients.results import ClientError
from contract.imaging import fit_array
from tests.support.server import running_server
from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs import read_tfjs, translate
from toolchain.tfjs.human_models import HumanModelsUnavailable, human_model
from toolchain.tfjs.reference import TfjsUnavailable, ensure_tfjs, run_tfjs
from toolchain.zoo import import_centernet, import_nanodet
from toolchain.zoo._coco import detect, iou

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "exported_models"
DETECTOR = REPOSITORY / import_centernet.NAME


@functools.cache
def original(name: str) -> Path | str:
    """model.json of a human-models model with TF.js installed, or why not (asked once)."""
    try:
        path = human_model(name)
        ensure_tfjs()
    except (HumanModelsUnavailable, TfjsUnavailable) as error:
        return str(error)
    return path


def original_or_skip(name: str) -> Path:
    found = original(name)
    if isinstance(found, str):
        pytest.skip(found)
    return found


def sample(name: str, importer=import_centernet) -> np.ndarray:
    samples = REPOSITORY / "samples" / importer.NAME
    return np.asarray(Image.open(samples / name).convert("RGB"))


def expected(importer=import_centernet) -> dict:
    return json.loads((REPOSITORY / "samples" / importer.NAME / "expected.json").read_text())


def labels(importer=import_centernet) -> list[str]:
    return (REPOSITORY / importer.NAME / "labels.txt").read_text().splitlines()


def test_translated_heads_match_tfjs_on_a_photo():
    model_json = original_or_skip("centernet")
    graph = read_tfjs(model_json)
    b = GraphBuilder("heads")
    x = b.input("x", np.float32, [1, 512, 512, 3])
    outputs = [import_centernet.HEATMAP, import_centernet.SIDES]
    for name, value in translate(graph, b, {import_centernet.INPUT: x}, outputs).items():
        b.output(value, name.split("/")[-1], np.float32, [1, 128, 128, "c"])
    ours = ort.InferenceSession(b.model().SerializeToString())
    array = import_centernet.model_input(sample("coffee.jpg"))
    reference = run_tfjs(model_json, {import_centernet.INPUT: array}, outputs)
    for (name, theirs), mine in zip(reference.items(), ours.run(None, {"x": array})):
        assert mine.shape == theirs.shape
        scale = max(1.0, float(np.abs(theirs).max()))
        assert np.abs(mine - theirs).max() <= import_centernet.TOLERANCE * scale, name


def test_nanodet_raw_outputs_match_tfjs_on_a_photo():
    model_json = original_or_skip("nanodet")
    graph = read_tfjs(model_json)
    b = GraphBuilder("raw")
    x = b.input("x", np.float32, [1, 3, 416, 416])
    names = [name for level in import_nanodet.LEVELS for name in level[:2]]
    for name, value in translate(graph, b, {import_nanodet.INPUT: x}, names).items():
        b.output(value, name, np.float32, [1, "n", "c"])
    ours = ort.InferenceSession(b.model().SerializeToString())
    placed, _ = fit_array(sample("chelsea.jpg", import_nanodet), import_nanodet.IMAGE)
    array = import_nanodet.network_input(placed)
    reference = run_tfjs(model_json, {import_nanodet.INPUT: array}, names)
    for name, mine in zip(names, ours.run(names, {"x": array})):
        theirs = reference[name]
        scale = max(1.0, float(np.abs(theirs).max()))
        assert np.abs(mine - theirs).max() <= import_nanodet.TOLERANCE * scale, name


@pytest.mark.parametrize("importer", [import_centernet, import_nanodet], ids=lambda m: m.NAME)
def test_committed_detector_names_the_objects_in_the_sample_photos(importer):
    detector = ort.InferenceSession(str(REPOSITORY / importer.NAME / "1" / "model.onnx"))
    names = labels(importer)
    assert len(names) == 80 and names[0] == "person" and "cup" in names
    for photo, info in expected(importer)["images"].items():
        boxes, scores, classes = detect(detector, sample(photo, importer), importer.IMAGE,
                                         importer.SCORE_THRESHOLD)
        assert [names[c] for c in classes] == info["labels"], photo
        for box, want in zip(boxes, info["boxes"]):
            assert iou(box, want) > 0.9, photo
    for photo, wanted in importer.SAMPLES.items():
        found = expected(importer)["images"][f"{photo}.jpg"]["labels"]
        assert set(wanted) <= set(found), photo


@pytest.mark.parametrize("importer", [import_centernet, import_nanodet], ids=lambda m: m.NAME)
def test_a_blank_image_has_no_objects(importer):
    detector = ort.InferenceSession(str(REPOSITORY / importer.NAME / "1" / "model.onnx"))
    size = importer.SIZE
    boxes, scores, classes = detector.run(None, {"image": np.zeros((size, size, 3), np.uint8)})
    assert boxes.shape == (0, 4) and scores.shape == (0,) and classes.shape == (0,)


@pytest.fixture(scope="module")
def detector_server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("coco")
    shutil.copytree(DETECTOR, repository / DETECTOR.name)
    with running_server(repository) as server:
        yield server


def test_served_detector_answers_in_the_senders_pixels(detector_server):
    """The full-size coffee photo (600x400) gets the sample's cup box (256x171) scaled up."""
    import skimage.data

    photo = skimage.data.coffee()
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")
    with Client(detector_server.grpc_url, timeout_s=120) as client:
        result = client.detect(buffer.getvalue())
    cups = [d for d in result.detections if d.label == "cup"]
    assert len(cups) == 1 and cups[0].score >= 0.5
    sample_box = expected()["images"]["coffee.jpg"]["boxes"][0]
    scale = photo.shape[1] / expected()["images"]["coffee.jpg"]["width"]
    found = [cups[0].box.x1, cups[0].box.y1, cups[0].box.x2, cups[0].box.y2]
    assert iou(found, [v * scale for v in sample_box]) > 0.8
    assert max(found[2], found[0]) <= photo.shape[1] and max(found[3], found[1]) <= photo.shape[0]


def test_served_detector_refuses_a_corrupt_image_and_keeps_serving(detector_server):
    with Client(detector_server.grpc_url, timeout_s=120) as client:
        with pytest.raises(ClientError) as refused:
            client.detect(b"\xff\xd8\xff not really a jpeg")
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        placed, _ = fit_array(sample("chelsea.jpg"), import_centernet.IMAGE)
        buffer = io.BytesIO()
        Image.fromarray(placed).save(buffer, format="PNG")
        assert any(d.label == "cat" for d in client.detect(buffer.getvalue()).detections)
