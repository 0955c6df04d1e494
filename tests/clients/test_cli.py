"""`python -m clients ...` as a user runs it: printed results, JSON, and the PNGs it draws."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clients.render import colour_of
from tests.e2e import media

ROOT = Path(__file__).resolve().parents[2]


def cli(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "clients", *args, "--server", server.grpc_url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_classify_prints_labels_and_scores(tiny_server, tmp_path):
    path = tmp_path / "green.jpg"
    path.write_bytes(media.solid("green", fmt="JPEG"))
    done = cli(tiny_server, "classify", str(path), "--top-k", "2")
    assert done.stdout.startswith("green 0.9")
    assert done.stdout.count(",") == 1


def test_json_output_for_every_task(tiny_server, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(media.solid("red"))
    scene = tmp_path / "scene.bmp"
    scene.write_bytes(media.encode(media.white_box_image(80, 40, (10, 10, 30, 30)), "BMP"))
    audio = tmp_path / "speech.flac"
    audio.write_bytes(media.wav(media.bursts(22_050), 22_050, "PCM_16", "FLAC"))
    expectations = {
        ("classify", str(image)): lambda r: r["classes"][0]["label"] == "red",
        ("segment", str(image)): lambda r: r["shares"][0]["label"] == "red",
        ("caption", str(image), "--beam-width", "2"): lambda r: r["text"] == "a red square",
        ("ask", str(image), "-q", "what colour ?"): lambda r: r["answers"][0]["text"] == "red",
        ("transcribe", str(audio)): lambda r: r["text"] == "a a" and len(r["segments"]) == 2,
        ("detect", str(scene)): lambda r: abs(r["detections"][0]["box"]["x1"] - 10) <= 2,
    }
    for args, check in expectations.items():
        record = json.loads(cli(tiny_server, *args, "--json").stdout)
        assert record["input"] == args[1]
        assert check(record["result"]), (args, record)


def test_models_lists_tasks_and_defaults(tiny_server):
    assert "detection: tiny_detector (default tiny_detector)" in cli(tiny_server, "models").stdout
    listing = json.loads(cli(tiny_server, "models", "--json").stdout)
    assert {t["task"] for t in listing["tasks"]} >= {"classification", "speech", "vqa"}


def test_detect_writes_a_png_with_the_box_drawn(tiny_server, tmp_path):
    box = (60, 20, 110, 60)
    source = tmp_path / "scene.png"
    source.write_bytes(media.encode(media.white_box_image(160, 90, box)))
    out = tmp_path / "boxes.png"
    done = cli(tiny_server, "detect", str(source), "--out", str(out))
    assert "white 0.90" in done.stdout
    drawn = np.asarray(Image.open(out).convert("RGB"))
    assert drawn.shape == (90, 160, 3)
    colour = colour_of(0)
    # the outline runs along the box's left edge, where the source is black just outside it
    left_edge = drawn[35:50, box[0] - 3 : box[0] + 3]
    assert (left_edge == colour).all(axis=-1).any()
    # the label sits above the box, on a filled tag of the class colour
    above = drawn[: box[1], box[0] : box[2]]
    assert (above == colour).all(axis=-1).sum() > 50
    assert (drawn[80:, :40] == 0).all()  # far from the box the image is untouched


def test_segment_writes_a_png_with_the_mask_overlaid(tiny_server, tmp_path):
    array = np.full((40, 60, 3), 90, np.uint8)
    array[10:30, 10:30] = media.RGB["red"]
    source = tmp_path / "shapes.png"
    source.write_bytes(media.encode(array))
    out = tmp_path / "mask.png"
    done = cli(tiny_server, "segment", str(source), "--out", str(out))
    assert done.stdout.startswith("background")
    drawn = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert drawn.shape == (40, 60, 3)
    inside, outside = drawn[20, 20], drawn[2, 2]
    assert (outside == 90).all()  # background keeps its pixels
    expected = 0.45 * np.array(media.RGB["red"]) + 0.55 * np.array(colour_of(1))
    assert np.abs(inside - expected).max() <= 1


def test_a_folder_goes_concurrently_with_progress_and_summary(tiny_server, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    colours = ["red", "green", "blue"] * 4
    for i, colour in enumerate(colours):
        (folder / f"{i:02d}_{colour}.png").write_bytes(media.solid(colour))
    (folder / "notes.txt").write_text("not an image: skipped, not sent")
    out = tmp_path / "rendered"
    done = cli(tiny_server, "classify", str(folder))
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(colours)
    for line in lines:
        name, labels = line.split(": ", 1)
        assert labels.startswith(Path(name).stem.split("_")[1])
    assert f"{len(colours)}/{len(colours)}" in done.stderr
    assert f"{len(colours)} inputs in" in done.stderr and "0 failed" in done.stderr
    cli(tiny_server, "detect", str(folder / "*.png"), "--out", str(out))
    assert len(list(out.glob("*.detect.png"))) == len(colours)


def test_failures_are_reported_and_set_the_exit_code(tiny_server, tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(media.solid("blue"))
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    done = cli(tiny_server, "classify", str(good), str(bad), check=False)
    assert done.returncode == 1
    assert "bad.png: INVALID_ARGUMENT" in done.stderr
    assert "good.png: blue" in done.stdout
    missing = cli(tiny_server, "classify", str(tmp_path / "nothing*.png"), check=False)
    assert missing.returncode == 2 and "no input files" in missing.stderr


def test_help_explains_every_task():
    done = subprocess.run([sys.executable, "-m", "clients", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    for task in ("classify", "detect", "segment", "caption", "ask", "transcribe", "models"):
        assert task in done.stdout


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_unreachable_server_is_a_clear_error(task, tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(media.solid("red"))
    done = subprocess.run([sys.executable, "-m", "clients", task, str(path), "--server",
                           "127.0.0.1:1", "--timeout", "5"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "UNAVAILABLE" in done.stderr


def test_transcribe_draws_the_waveform_with_its_segments(tiny_server, tmp_path):
    audio = tmp_path / "bursts.wav"
    audio.write_bytes(media.wav(media.bursts(), 16_000))
    out = tmp_path / "speech.png"
    done = cli(tiny_server, "transcribe", str(audio), "--out", str(out))
    assert done.stdout.startswith("a a")
    drawn = np.asarray(Image.open(out).convert("RGB")).astype(int)
    width = drawn.shape[1]
    # the first word spans 0.25..0.375 s of 1 s: shaded in the first segment's colour
    shaded = drawn[5, int(0.3 * width)]
    assert np.abs(shaded - (0.73 * 255 + 0.27 * np.array(colour_of(1)))).max() <= 2
    assert (drawn[5, int(0.1 * width)] == 255).all()  # no speech there: white
    assert (drawn[:140, int(0.3 * width)] < 100).all(axis=-1).any()  # the loud waveform
