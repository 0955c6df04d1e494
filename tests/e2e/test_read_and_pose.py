"""ReadText and EstimatePose against one real server over the real imported models.

The server serves a small repository of links into exported_models/: the text reader (built by
`make ocr-model`), the pose models and one face detector (for the wrong-task checks).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from clients import AsyncClient, Client, ClientError, Poses, StreamItem, TextReading
from contract.wer import character_accuracy
from tests.e2e import media
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
TEXT_MODELS = ("ppocr_v4", "ppocr_v4_recognizer", "ppocr_orientation")
POSE_MODELS = ("movenet_lightning",)
MULTIPOSE = "movenet_multipose"  # built by `make multipose-model`, not committed
OTHER_MODELS = ("blazeface_faces",)


def _missing(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not (ZOO / name / "config.pbtxt").exists()]


needs_pose = pytest.mark.skipif(bool(_missing(POSE_MODELS)), reason="movenet_lightning is "
                                "missing: python -m toolchain import movenet_lightning")
needs_multipose = pytest.mark.skipif(bool(_missing((MULTIPOSE,))), reason="movenet_multipose "
                                     "is built, not committed: run `make multipose-model`")
needs_text = pytest.mark.skipif(bool(_missing(TEXT_MODELS)), reason="the text reader is built, "
                                "not committed: run `make ocr-model`")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("photo_tasks")
    for name in TEXT_MODELS + POSE_MODELS + OTHER_MODELS + (MULTIPOSE,):
        if (ZOO / name).is_dir():
            (repository / name).symlink_to(ZOO / name, target_is_directory=True)
    with running_server(repository, timeout=300) as running:
        yield running


@pytest.fixture()
def client(server):
    with Client(server.grpc_url, timeout_s=120) as client:
        yield client


def rendered(lines: list[str], upside_down: bool = False, size: int = 36) -> np.ndarray:
    """Dark lines on light paper, straight and sharp, in DejaVu Serif (its I and l differ;
    Makefile's system-packages installs the font)."""
    from toolchain.datasets.rendered_text import render_page

    page = render_page(lines, "DejaVuSerif.ttf", size, np.random.default_rng(3), max_tilt=0,
                       max_blur=0)
    return np.ascontiguousarray(page[::-1, ::-1]) if upside_down else page


LINES = ["Striate reads text", "Invoice 2026-12-01", "Total: 48.50 EUR"]


def reads(found: list[str], expected: list[str]) -> bool:
    """The text read with at least 95% of its characters right, words in any order: the
    detector may split a line at a wide space, and OCR slips are the model's (exact agreement
    with RapidOCR is tested apart)."""
    return character_accuracy(expected, found, any_order=True) >= 0.95


@needs_text
def test_read_text_lists_the_task_and_its_default(client):
    listing = client.models()
    assert {t.task: t.default_model for t in listing.tasks}["ocr"] == "ppocr_v4"
    kinds = {m.name: m.task for m in listing.models}
    assert kinds["ppocr_v4_recognizer"] == kinds["ppocr_orientation"] == "component"


@needs_text
def test_read_text_reads_rendered_lines_with_polygons_around_them(client):
    page = rendered(LINES)
    result = client.read_text(media.encode(page))
    assert (result.width, result.height) == (page.shape[1], page.shape[0])
    assert reads([line.text for line in result.lines], LINES)
    assert all(line.score > 0.8 and not line.upside_down for line in result.lines)
    ink = np.argwhere(page.mean(axis=2) < 128)  # (y, x) of the text's pixels
    for index, line in enumerate(result.lines):
        xs = [p.x for p in line.polygon]
        ys = [p.y for p in line.polygon]
        assert len(line.polygon) == 4
        inside = ink[(ink[:, 0] >= min(ys)) & (ink[:, 0] <= max(ys))
                     & (ink[:, 1] >= min(xs)) & (ink[:, 1] <= max(xs))]
        assert len(inside) > 0.25 * len(ink) / len(LINES), f"line {index} holds little ink"
        if index:
            assert min(ys) > min(p.y for p in result.lines[index - 1].polygon)  # top to bottom


@needs_text
def test_read_text_turns_upside_down_lines(client):
    result = client.read_text(media.encode(rendered(LINES, upside_down=True)))
    assert reads([line.text for line in result.lines], LINES)
    assert "Total" in result.lines[0].text  # the last line is now on top
    assert all(line.upside_down for line in result.lines)


@needs_text
def test_read_text_agrees_with_rapidocr_itself(client):
    pytest.importorskip("rapidocr_onnxruntime", reason="the toolchain extra installs RapidOCR")
    from rapidocr_onnxruntime import RapidOCR

    data = media.encode(rendered(["Now is better than never.", "Gate KLM-42"], size=28))
    theirs, _ = RapidOCR()(data)
    ours = client.read_text(data)
    assert [line.text for line in ours.lines] == [text for _, text, _ in theirs]
    for line, (box, _, _) in zip(ours.lines, theirs):
        corners = np.array([(p.x, p.y) for p in line.polygon])
        assert np.abs(corners - np.array(box)).max() <= 3  # pixels


@needs_text
def test_read_text_finds_nothing_on_a_blank_photo(client):
    result = client.read_text(media.solid("blue", 300, 200))
    assert result.lines == []


@needs_text
def test_read_text_over_the_stream_and_the_async_client(client, server):
    images = {str(i): media.encode(rendered([line])) for i, line in enumerate(LINES)}
    items = [StreamItem(key, "read", data) for key, data in images.items()]
    items.append(StreamItem("bad", "read", b"not an image"))
    answers = dict(client.stream(items))
    assert all(reads([answers[key].text], [line]) for key, line in zip(images, LINES))
    assert isinstance(answers["bad"], ClientError)
    assert answers["bad"].code == grpc.StatusCode.INVALID_ARGUMENT

    async def read() -> TextReading:
        async with AsyncClient(server.grpc_url) as async_client:
            return await async_client.read_text(images["1"])

    assert reads([asyncio.run(read()).text], [LINES[1]])


@needs_text
def test_cli_read_prints_the_lines_and_draws_the_polygons(server, tmp_path):
    source = tmp_path / "page.png"
    source.write_bytes(media.encode(rendered(LINES[:2])))
    out = tmp_path / "read.png"
    done = subprocess.run([sys.executable, "-m", "clients", "read", str(source), "--server",
                           server.grpc_url, "--out", str(out), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert reads([line["text"] for line in record["result"]["lines"]], LINES[:2])
    drawn = np.asarray(Image.open(out).convert("RGB"), np.int16)
    original = np.asarray(Image.open(source).convert("RGB"), np.int16)
    assert drawn.shape == original.shape and np.abs(drawn - original).max() > 100


BAD = {
    "truncated PNG": (media.encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3),
                                                                     dtype=np.uint8))[:600],
                      grpc.StatusCode.INVALID_ARGUMENT, "truncated"),
    "PNG claiming 30000x30000": (media.png_claiming_size(30000, 30000),
                                 grpc.StatusCode.INVALID_ARGUMENT, "900,000,000 pixels"),
    "not an image": (b"hello, this is not an image", grpc.StatusCode.INVALID_ARGUMENT,
                     "unsupported image format"),
}


@needs_text
@pytest.mark.parametrize("name", list(BAD))
def test_read_text_refuses_bad_images_and_the_server_goes_on(client, name):
    data, code, words = BAD[name]
    with pytest.raises(ClientError) as error:
        client.read_text(data)
    assert error.value.code == code
    assert words in error.value.message
    assert reads([client.read_text(media.encode(rendered(LINES[:1]))).text], LINES[:1])


@needs_text
@pytest.mark.parametrize(("model", "code", "words"), [
    ("no_such_model", grpc.StatusCode.NOT_FOUND, "no_such_model"),
    ("blazeface_faces", grpc.StatusCode.INVALID_ARGUMENT, "serves detection, not ocr"),
    ("ppocr_v4_recognizer", grpc.StatusCode.INVALID_ARGUMENT, "serves component, not ocr"),
])
def test_read_text_with_a_model_that_cannot_read(client, model, code, words):
    with pytest.raises(ClientError) as error:
        client.read_text(media.encode(rendered(LINES[:1])), model=model)
    assert error.value.code == code
    assert words in error.value.message


@needs_text
def test_read_text_on_a_photo_with_a_sign(client):
    """Text pasted into a real photo (scikit-image's coffee, CC0), tilted and blurred."""
    from toolchain.datasets.rendered_text import render_page
    from toolchain.tflite.photos import photo

    lines = ["Fresh coffee 2.50", "Open daily"]
    page = render_page(lines, "DejaVuSans-Bold.ttf", 30, np.random.default_rng(5),
                       background=photo("coffee"))
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="JPEG", quality=80)
    result = client.read_text(buffer.getvalue())
    accuracy = character_accuracy(lines, [line.text for line in result.lines])
    assert accuracy >= 0.85, [line.text for line in result.lines]  # spaces may go missing


# --- pose ---------------------------------------------------------------------------------

# hand-labelled on the full-size photos (the importer's HAND_LABELS; see the model card)
ASTRONAUT_FACE = {"nose": (224, 128), "left_eye": (247, 103), "right_eye": (203, 102)}
SHOULDER_WIDTH = 240  # astronaut, between the hand-labelled shoulders


def photo_bytes(name: str, scale: float = 1.0) -> bytes:
    from toolchain.tflite.photos import photo

    image = Image.fromarray(photo(name))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return media.encode(image, "JPEG", quality=92)


@needs_pose
def test_pose_lists_the_task_and_its_default(client):
    assert {t.task: t.default_model for t in client.models().tasks}["pose"] == "movenet_lightning"


@needs_pose
def test_pose_names_keypoints_and_edges_and_finds_the_astronauts_face(client):
    result = client.estimate_pose(photo_bytes("astronaut"))
    assert (result.width, result.height) == (512, 512)
    assert result.keypoint_names[:3] == ["nose", "left_eye", "right_eye"]
    assert len(result.keypoint_names) == 17 and len(result.skeleton) == 18
    assert (5, 6) in result.skeleton  # shoulder to shoulder
    (person,) = result.people
    assert [k.name for k in person.keypoints] == result.keypoint_names
    found = {k.name: k for k in person.keypoints}
    for name, (x, y) in ASTRONAUT_FACE.items():
        assert found[name].score > 0.5
        assert np.hypot(found[name].position.x - x, found[name].position.y - y) < \
            0.1 * SHOULDER_WIDTH, name
    box = person.box
    assert box.x1 < 203 and box.x2 > 247 and box.y1 < 102  # around the face at least


@needs_pose
def test_pose_points_follow_the_photo_when_it_is_larger_and_not_square(client):
    square = client.estimate_pose(photo_bytes("astronaut")).people[0]
    from toolchain.tflite.photos import photo

    wide = np.zeros((512, 900, 3), np.uint8)  # the photo on a wider black canvas, at x = 300
    wide[:, 300:812] = photo("astronaut")
    moved = client.estimate_pose(media.encode(wide, "PNG")).people[0]
    for before, after in zip(square.keypoints, moved.keypoints):
        if before.score > 0.5:
            # the wider canvas shrinks the person in the 192 px input: 5 input pixels of slack
            assert after.position.x - 300 == pytest.approx(before.position.x, abs=25)
            assert after.position.y == pytest.approx(before.position.y, abs=25)


@needs_pose
def test_pose_thresholds_and_limits_from_the_request(client):
    data = photo_bytes("grace_hopper")
    assert len(client.estimate_pose(data).people) == 1
    assert client.estimate_pose(data, score_threshold=0.99).people == []
    with pytest.raises(ClientError) as error:
        client.estimate_pose(data, max_people=-1)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


@needs_pose
def test_pose_over_the_stream_and_the_async_client(client, server):
    items = [StreamItem("astronaut", "pose", photo_bytes("astronaut")),
             StreamItem("hopper", "pose", photo_bytes("grace_hopper", 0.5)),
             StreamItem("bad", "pose", b"not an image")]
    answers = dict(client.stream(items))
    assert isinstance(answers["astronaut"], Poses) and len(answers["astronaut"].people) == 1
    assert (answers["hopper"].width, answers["hopper"].height) == (256, 300)
    assert answers["bad"].code == grpc.StatusCode.INVALID_ARGUMENT

    async def estimate() -> Poses:
        async with AsyncClient(server.grpc_url) as async_client:
            return await async_client.estimate_pose(photo_bytes("astronaut"))

    nose = asyncio.run(estimate()).people[0].keypoints[0]
    assert np.hypot(nose.position.x - 224, nose.position.y - 128) < 0.1 * SHOULDER_WIDTH


@needs_pose
def test_cli_pose_prints_keypoints_and_draws_the_skeleton(server, tmp_path):
    source = tmp_path / "astronaut.jpg"
    source.write_bytes(photo_bytes("astronaut"))
    out = tmp_path / "pose.png"
    done = subprocess.run([sys.executable, "-m", "clients", "pose", str(source), "--server",
                           server.grpc_url, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("person 1 (") and "nose (" in done.stdout
    drawn = np.asarray(Image.open(out).convert("RGB"), np.int16)
    original = np.asarray(Image.open(source).convert("RGB"), np.int16)
    changed = np.abs(drawn - original).max(axis=2) > 60
    assert changed[90:140, 190:260].any()  # dots and lines on the face
    assert not changed[:60, :].any()  # nothing drawn above the head


@needs_pose
@pytest.mark.parametrize("name", list(BAD))
def test_pose_refuses_bad_images_and_the_server_goes_on(client, name):
    data, code, words = BAD[name]
    with pytest.raises(ClientError) as error:
        client.estimate_pose(data)
    assert error.value.code == code
    assert words in error.value.message
    assert len(client.estimate_pose(photo_bytes("astronaut", 0.5)).people) == 1


@needs_pose
@pytest.mark.parametrize(("model", "code", "words"), [
    ("no_such_model", grpc.StatusCode.NOT_FOUND, "no_such_model"),
    ("blazeface_faces", grpc.StatusCode.INVALID_ARGUMENT, "serves detection, not pose"),
])
def test_pose_with_a_model_that_cannot_estimate_poses(client, model, code, words):
    with pytest.raises(ClientError) as error:
        client.estimate_pose(photo_bytes("astronaut", 0.5), model=model)
    assert error.value.code == code
    assert words in error.value.message


@needs_pose
@needs_multipose
def test_multipose_finds_both_people_where_single_pose_finds_one(client):
    from toolchain.tflite.photos import photo

    hopper = Image.fromarray(photo("grace_hopper")).resize((437, 512))  # 512 high, as the other
    pair = np.concatenate([photo("astronaut"), np.asarray(hopper)], axis=1)  # 949 x 512
    data = media.encode(pair, "JPEG", quality=92)
    multi = client.estimate_pose(data, model=MULTIPOSE)
    assert multi.model == MULTIPOSE and len(multi.people) == 2
    noses = sorted((p.keypoints[0].position.x, p.keypoints[0].position.y) for p in multi.people)
    expected = [(224, 128), (512 + 265 * 437 / 512, 245 * 512 / 600)]  # the hand labels
    for (x, y), (want_x, want_y) in zip(noses, expected):
        assert np.hypot(x - want_x, y - want_y) < 25
    for person in multi.people:  # the model's own boxes, in the photo's pixels
        nose = person.keypoints[0].position
        assert person.box.x1 < nose.x < person.box.x2 and person.box.y1 < nose.y < person.box.y2
    assert len(client.estimate_pose(data, model=MULTIPOSE, max_people=1).people) == 1
    assert len(client.estimate_pose(data).people) == 1  # movenet_lightning: one person


@needs_text
def test_read_text_on_a_street_photo(client):
    """OpenCV's scene-text sample (Debian opencv-doc): a parking notice on a post."""
    from toolchain.datasets.scene_text import TRUTH, ScenePhotosUnavailable, scene_photo

    try:
        image = scene_photo("scenetext01")
    except ScenePhotosUnavailable as error:
        pytest.skip(str(error))
    result = client.read_text(media.encode(image, "JPEG", quality=92))
    read = [line.text for line in result.lines]
    assert character_accuracy(TRUTH["scenetext01"], read) >= 0.9, read  # in reading order
    for line in result.lines:  # on the sign: upper middle of the 800x600 photo
        x = sum(p.x for p in line.polygon) / 4
        y = sum(p.y for p in line.polygon) / 4
        assert 200 < x < 500 and y < 300, (line.text, x, y)
