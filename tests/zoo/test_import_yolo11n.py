"""The YOLO11n import (toolchain/zoo/import_yolo11n.py): what the wheel ships is what its
metadata says, the wrapped graph decodes as Ultralytics does on a photo the import never saw,
and the built folder says its license. Skips, saying why, when pip cannot fetch the wheel."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from contract.imaging import fit_array
from toolchain.packages import PackageUnavailable
from toolchain.tflite.photos import photo
from toolchain.zoo import import_yolo11n as yolo
from toolchain.zoo._coco import coco_labels, iou

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def original():
    try:
        return yolo.original_model()[0]
    except PackageUnavailable as error:
        pytest.skip(str(error))


def test_the_wheel_holds_ultralytics_yolo11n_with_cocos_classes():
    model = original()
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["author"] == "Ultralytics" and "AGPL-3.0" in meta["license"]
    assert yolo.labels_of(model) == coco_labels()


def test_the_served_graph_decodes_an_unseen_photo_as_ultralytics_does():
    model = original()
    served = ort.InferenceSession(yolo.build_graph(model).SerializeToString())
    network = ort.InferenceSession(model.SerializeToString())
    placed, _ = fit_array(photo("astronaut"), yolo.IMAGE)  # full size; the import used 256 px
    raw = network.run(None, {"images": yolo.network_input(placed)})[0]
    expected = yolo.reference_detections(raw, yolo.SCORE_THRESHOLD)
    boxes, scores, labels = served.run(["boxes", "scores", "labels"], {"image": placed})
    keep = scores >= yolo.SCORE_THRESHOLD
    assert expected and int(keep.sum()) == len(expected)
    for row in expected:
        same = [(box, score) for box, score, label in zip(boxes[keep], scores[keep],
                                                          labels[keep]) if label == row[5]]
        box, score = max(same, key=lambda pair: iou(pair[0], row))
        assert iou(box, row) > 0.999 and abs(score - row[4]) < 1e-5


def test_a_blank_image_has_no_objects():
    served = ort.InferenceSession(yolo.build_graph(original()).SerializeToString())
    blank = np.full((yolo.SIZE, yolo.SIZE, 3), 114, np.uint8)
    _, scores, _ = served.run(["boxes", "scores", "labels"], {"image": blank})
    assert not (scores >= yolo.SCORE_THRESHOLD).any()


def test_the_light_build_writes_a_folder_whose_card_states_the_license(tmp_path):
    """`make detector-model`'s command, as `make serve` runs it (no torch imported)."""
    done = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.argv[1:] = "
                           f"['--out', {str(tmp_path)!r}]; runpy.run_module("
                           "'toolchain.zoo.import_yolo11n', run_name='__main__'); "
                           "assert 'torch' not in sys.modules, 'the light build imported torch'"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    if "could not download" in done.stderr:
        pytest.skip(done.stderr.strip()[-300:])
    assert done.returncode == 0, done.stderr
    card = (tmp_path / yolo.NAME / "MODEL_CARD.md").read_text()
    assert "AGPL-3.0" in card and "sha256" in card
    config = (tmp_path / yolo.NAME / "config.pbtxt").read_text()
    assert 'key: "default_rank" value { string_value: "1" }' in config
    assert (tmp_path / "samples" / yolo.NAME / "expected.json").is_file()
