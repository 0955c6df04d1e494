"""The MediaPipe imports: translation against LiteRT, the committed folders on their samples.

Runs in the process that never imports `service` (tritonclient is the outside client).
Tests that need the original .tflite files skip when the mediapipe wheel cannot be fetched.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from contract.imaging import fit_array
from tests.support.server import running_server
from toolchain.model_folder import read_parameters
from toolchain.tflite import read_tflite, tflite_to_onnx
from toolchain.tflite.mediapipe import (
    FACE_DETECTION_SHORT_RANGE,
    SELFIE_SEGMENTATION,
    MediapipeUnavailable,
    mediapipe_file,
)
from toolchain.zoo import import_blazeface, import_selfie

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "exported_models"
FACES = REPOSITORY / import_blazeface.NAME
PEOPLE = REPOSITORY / import_selfie.NAME
FACE_SAMPLES = REPOSITORY / "samples" / import_blazeface.NAME
PEOPLE_SAMPLES = REPOSITORY / "samples" / import_selfie.NAME


@functools.cache
def fetch(member: str) -> Path | str:
    """The file, or why it cannot be had (asked once per test run: a failed download is slow)."""
    try:
        return mediapipe_file(member)
    except MediapipeUnavailable as error:
        return str(error)


def tflite_path(member: str) -> Path:
    found = fetch(member)
    if isinstance(found, str):
        pytest.skip(found)
    return found


def expected(samples: Path) -> dict:
    return json.loads((samples / "expected.json").read_text())


def sample(samples: Path, name: str) -> np.ndarray:
    return np.asarray(Image.open(samples / name).convert("RGB"))


def session(folder: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(folder / "1" / "model.onnx"))


def config_parameter(folder: Path, key: str) -> str:
    parameters = read_parameters(folder)
    assert key in parameters, f"{folder.name}/config.pbtxt has no parameter {key}"
    return parameters[key]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def faces_in(detector: ort.InferenceSession, photo: np.ndarray, threshold: float):
    placed, placement = fit_array(photo, import_blazeface.IMAGE)
    boxes, scores, labels = detector.run(["boxes", "scores", "labels"], {"image": placed})
    keep = scores >= threshold
    return placement.boxes_to_original(boxes[keep]), scores[keep], labels[keep]


def assert_close_expectations(fresh: dict, committed: dict) -> None:
    """Same photos and answers; numbers equal up to floating-point noise across machines."""
    assert fresh.keys() == committed.keys()
    assert fresh["images"].keys() == committed["images"].keys()
    for name, info in fresh["images"].items():
        want = committed["images"][name]
        assert info.keys() == want.keys()
        for key, value in info.items():
            tolerance = 0.01 if "share" in key or key == "scores" else 0.6  # else pixels
            np.testing.assert_allclose(value, want[key], atol=tolerance, err_msg=f"{name} {key}")


# The translation against LiteRT running the original files.


@pytest.mark.parametrize(
    ("member", "prepare", "tolerance"),
    [
        (FACE_DETECTION_SHORT_RANGE, import_blazeface.model_input, import_blazeface.TOLERANCE),
        (SELFIE_SEGMENTATION, import_selfie.model_input, import_selfie.TOLERANCE),
    ],
    ids=["blazeface", "selfie"],
)
def test_translation_matches_litert_on_the_sample_photos(member, prepare, tolerance):
    pytest.importorskip("ai_edge_litert")
    from toolchain.tflite.reference import run_tflite

    path = tflite_path(member)
    graph = read_tflite(path)
    translated = ort.InferenceSession(tflite_to_onnx(graph, "raw").SerializeToString())
    input_name = translated.get_inputs()[0].name
    for name in ("astronaut.jpg", "grace_hopper.jpg", "coffee.jpg"):
        array = prepare(sample(FACE_SAMPLES, name))
        reference = run_tflite(path, {input_name: array})
        ours = dict(
            zip(
                [o.name for o in translated.get_outputs()],
                translated.run(None, {input_name: array}),
            )
        )
        assert set(ours) == set(reference)
        for output, values in reference.items():
            assert ours[output].shape == values.shape
            difference = np.abs(ours[output] - values).max()
            assert difference < tolerance, f"{name} {output}: {difference}"


def test_served_face_graph_agrees_with_mediapipe_post_processing():
    """Same faces as MediaPipe's decoding + weighted NMS of LiteRT's raw outputs."""
    pytest.importorskip("ai_edge_litert")
    path = tflite_path(FACE_DETECTION_SHORT_RANGE)
    model = onnx.load(str(FACES / "1" / "model.onnx"))
    images = {name: sample(FACE_SAMPLES, name) for name in expected(FACE_SAMPLES)["images"]}
    for row in import_blazeface.verify_detections(path, model, images):
        theirs, ours = row["faces (MediaPipe-style / ours)"].split(" / ")
        assert theirs == ours, row
        assert row["lowest box IoU"] is None or row["lowest box IoU"] > 0.85, row
        assert row["max score diff"] is None or row["max score diff"] < 1e-3, row


def test_translation_keeps_the_batch_dynamic_where_the_graph_allows():
    graph = read_tflite(tflite_path(SELFIE_SEGMENTATION))
    translated = ort.InferenceSession(
        tflite_to_onnx(graph, "raw", batch="batch").SerializeToString()
    )
    input_name = translated.get_inputs()[0].name
    photos = [import_selfie.model_input(sample(PEOPLE_SAMPLES, f)) for f in
              ("astronaut.jpg", "grace_hopper.jpg")]  # fmt: skip
    together = translated.run(None, {input_name: np.concatenate(photos)})[0]
    for index, photo in enumerate(photos):
        alone = translated.run(None, {input_name: photo})[0]
        np.testing.assert_allclose(together[index : index + 1], alone, atol=1e-5)


@pytest.mark.parametrize("importer", [import_blazeface, import_selfie], ids=lambda m: m.NAME)
def test_importer_reproduces_the_committed_folder(importer, tmp_path):
    pytest.importorskip("ai_edge_litert")
    tflite_path(FACE_DETECTION_SHORT_RANGE)  # skips without the wheel
    folder = importer.main(tmp_path)
    committed = REPOSITORY / importer.NAME
    for name in ("config.pbtxt", "labels.txt", "LICENSE"):
        assert (folder / name).read_text() == (committed / name).read_text()
    assert "Verification against the TFLite original" in (folder / "MODEL_CARD.md").read_text()
    samples = tmp_path / "samples" / importer.NAME
    assert_close_expectations(expected(samples), expected(REPOSITORY / "samples" / importer.NAME))
    fresh, old = session(folder), session(committed)
    for image in expected(samples)["images"]:
        photo = sample(samples, image)
        feed = (
            {"image": fit_array(photo, import_blazeface.IMAGE)[0]}
            if importer is import_blazeface
            else {"image": fit_array(photo, import_selfie.IMAGE)[0][np.newaxis]}
        )
        for a, b in zip(fresh.run(None, feed), old.run(None, feed)):
            np.testing.assert_allclose(a, b, atol=1e-5)


# The committed folders, with onnxruntime only (no download needed).


def test_committed_face_detector_finds_the_expected_faces():
    detector = session(FACES)
    threshold = float(config_parameter(FACES, "score_threshold"))
    labels = (FACES / "labels.txt").read_text().split()
    for name, info in expected(FACE_SAMPLES)["images"].items():
        boxes, scores, classes = faces_in(detector, sample(FACE_SAMPLES, name), threshold)
        assert len(boxes) == info["faces"], f"{name}: found {len(boxes)} faces"
        assert all(labels[c] == "face" for c in classes)
        for box, want in zip(boxes, info["boxes"]):
            assert iou(box, np.array(want)) >= expected(FACE_SAMPLES)["box_iou_at_least"]
        assert np.all(scores >= threshold)


def test_face_detector_finds_a_face_in_a_photo_of_another_size():
    """The original-size astronaut (512x512) gives the sample's box, scaled by 2."""
    import skimage.data

    detector = session(FACES)
    boxes, _, _ = faces_in(detector, skimage.data.astronaut(), 0.5)
    want = np.array(expected(FACE_SAMPLES)["images"]["astronaut.jpg"]["boxes"][0]) * 2
    assert len(boxes) == 1 and iou(boxes[0], want) > 0.7


def test_face_detector_returns_nothing_for_a_blank_image():
    boxes, scores, labels = session(FACES).run(None, {"image": np.zeros((128, 128, 3), np.uint8)})
    assert boxes.shape == (0, 4) and scores.shape == (0,) and labels.shape == (0,)


def test_committed_segmenter_cuts_out_the_person():
    segmenter = session(PEOPLE)
    labels = (PEOPLE / "labels.txt").read_text().split()
    assert labels == ["background", "person"]
    for name, info in expected(PEOPLE_SAMPLES)["images"].items():
        photo = sample(PEOPLE_SAMPLES, name)
        placed = fit_array(photo, import_selfie.IMAGE)[0]
        class_map = segmenter.run(["class_map"], {"image": placed[None]})[0]
        assert class_map.dtype == np.uint8 and class_map.shape == (1, 256, 256)
        assert set(np.unique(class_map)) <= {0, 1}
        low, high = info["person_share_range"]
        assert low <= class_map.mean() <= high, f"{name}: person share {class_map.mean()}"
        # The person is in the middle and at the bottom, not in the top corners.
        assert class_map[0, 200:, 100:156].mean() > 0.9
        assert class_map[0, :32, :32].mean() < 0.1 and class_map[0, :32, -32:].mean() < 0.1


@pytest.mark.parametrize("folder", [FACES, PEOPLE], ids=lambda f: f.name)
def test_committed_folders_follow_the_contract(folder):
    model = onnx.load(str(folder / "1" / "model.onnx"))
    assert model.ir_version <= 10
    assert all(o.version <= 20 for o in model.opset_import)
    inputs = {i.name: i for i in model.graph.input}
    assert inputs["image"].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    card = (folder / "MODEL_CARD.md").read_text()
    for words in ("Apache-2.0", "mediapipe==0.10.21", "Not good for", "max abs diff"):
        assert words in card
    assert "Apache License" in (folder / "LICENSE").read_text()
    task = {FACES: "detection", PEOPLE: "segmentation"}[folder]
    assert config_parameter(folder, "task") == task


# The real server loads the committed folders (v2 protocol through tritonclient).


def test_server_serves_the_imported_models(tmp_path):
    triton = pytest.importorskip("tritonclient.grpc")
    repository = tmp_path / "repository"
    for folder in (FACES, PEOPLE):
        shutil.copytree(folder, repository / folder.name)
    photo = sample(FACE_SAMPLES, "astronaut.jpg")
    with running_server(repository) as server, triton.InferenceServerClient(server.grpc_url) as c:
        assert c.is_model_ready(FACES.name) and c.is_model_ready(PEOPLE.name)

        image = triton.InferInput("image", [128, 128, 3], "UINT8")
        image.set_data_from_numpy(fit_array(photo, import_blazeface.IMAGE)[0])
        result = c.infer(FACES.name, [image])
        scores = result.as_numpy("scores")
        assert (scores >= 0.5).sum() == 1
        assert result.as_numpy("boxes").shape == (len(scores), 4)

        batch = np.stack([fit_array(photo, import_selfie.IMAGE)[0]] * 2)
        images = triton.InferInput("image", list(batch.shape), "UINT8")
        images.set_data_from_numpy(batch)
        class_map = c.infer(PEOPLE.name, [images]).as_numpy("class_map")
        assert class_map.shape == (2, 256, 256)
        low, high = expected(PEOPLE_SAMPLES)["images"]["astronaut.jpg"]["person_share_range"]
        assert low <= class_map[0].mean() <= high
