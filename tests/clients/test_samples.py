"""Reading expected.json in both layouts, and the checks the demo and the zoo tests apply."""

from __future__ import annotations

import json

import pytest

from clients.results import (
    Box,
    Caption,
    Classification,
    ClassScore,
    ClassShare,
    Detection,
    Detections,
    Segmentation,
    Transcript,
)
from clients.samples import check, load_cases
from contract.wer import word_error_rate


def test_samples_layout(tmp_path):
    (tmp_path / "expected.json").write_text(json.dumps({
        "model": "m", "task": "vqa", "selection": "first of each",
        "samples": [{"image": "a.png", "question": "what shape?", "expected": "circle"}]}))
    [case] = load_cases(tmp_path)
    assert case.path == tmp_path / "a.png" and case.options == {"question": "what shape?"}
    assert case.stream_item("7").task == "ask"


def test_images_layout_with_detection_boxes(tmp_path):
    (tmp_path / "expected.json").write_text(json.dumps({
        "model": "faces", "task": "detection", "score_threshold": 0.4, "box_iou_at_least": 0.5,
        "images": {"p.jpg": {"boxes": [[10, 10, 50, 50]], "width": 100, "height": 80}}}))
    [case] = load_cases(tmp_path)
    assert case.options == {"score_threshold": 0.4}

    def found(*boxes):
        return Detections("faces", [Detection(Box(*b), 0, "face", 0.9) for b in boxes], 100, 80)

    assert check(case, found((12, 11, 52, 49)))[0]
    assert not check(case, found((40, 40, 90, 90)))[0]
    assert not check(case, found((12, 11, 52, 49), (60, 60, 70, 70)))[0]


def test_segmentation_checks_in_both_layouts(tmp_path):
    shares = [ClassShare(0, "background", 0.7), ClassShare(2, "circle", 0.3)]
    result = Segmentation("s", b"", ["background", "square", "circle"], shares, 10, 10)
    (tmp_path / "expected.json").write_text(json.dumps({
        "model": "s", "task": "segmentation",
        "samples": [{"image": "a.png", "expected": ["circle"]},
                    {"image": "b.png", "expected": ["square", "circle"]}]}))
    present, missing = load_cases(tmp_path)
    assert check(present, result)[0] and not check(missing, result)[0]
    (tmp_path / "expected.json").write_text(json.dumps({
        "model": "s", "task": "segmentation",
        "images": {"a.png": {"circle_share_range": [0.2, 0.4]},
                   "b.png": {"circle_share_range": [0.5, 0.6]}}}))
    inside, outside = load_cases(tmp_path)
    assert check(inside, result)[0] and not check(outside, result)[0]


def test_text_checks(tmp_path):
    (tmp_path / "expected.json").write_text(json.dumps({"model": "m", "task": "x", "samples": [
        {"image": "a.png", "expected": "seven"},
        {"audio": "a.wav", "expected": "And so, my fellow Americans: ask not."}]}))
    label, speech = load_cases(tmp_path)
    assert check(label, Classification("m", [ClassScore(7, "seven", 0.9)]))[0]
    assert not check(label, Caption("m", "six", 0.0))[0]
    assert check(speech, Transcript("m", "and so my fellow americans ask not", [], 2.0))[0]
    assert not check(speech, Transcript("m", "and so my friends", [], 2.0))[0]
    (tmp_path / "expected.json").write_text(json.dumps({"model": "m", "task": "speech",
        "samples": [{"audio": "b.wav", "expected": "eight of spades four of clubs",
                     "transcript": "Eight of spades, four of close."}]}))
    [own] = load_cases(tmp_path)
    assert check(own, Transcript("m", "eight of spades four of close", [], 1.0))[0]
    assert not check(own, Transcript("m", "eight of spades four of clubs", [], 1.0))[0]


@pytest.mark.parametrize(("reference", "hypothesis", "rate"), [
    ("a b c d", "a b c d", 0.0), ("a b c d", "a x c d", 0.25), ("a b c d", "a c d", 0.25),
    ("a b", "a b c d", 1.0), ("Hello, World!", "hello world", 0.0),
])
def test_word_error_rate(reference, hypothesis, rate):
    assert word_error_rate(reference, hypothesis) == pytest.approx(rate)


def test_segmentation_against_a_true_mask(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    truth = np.zeros((4, 5), np.uint8)
    truth[1:3, 1:4] = 2
    Image.fromarray(truth).save(tmp_path / "m.png")
    (tmp_path / "expected.json").write_text(json.dumps({"model": "s", "task": "segmentation",
        "samples": [{"image": "a.png", "expected": ["circle"], "mask": "m.png",
                     "pixel_accuracy_of_committed_model": 0.95}]}))
    [case] = load_cases(tmp_path)

    def result(class_map):
        buffer = io.BytesIO()
        Image.fromarray(class_map).save(buffer, "PNG")
        shares = [ClassShare(int(i), ["background", "square", "circle"][i], 0.5)
                  for i in np.unique(class_map)]
        return Segmentation("s", buffer.getvalue(), ["background", "square", "circle"], shares,
                            5, 4)

    assert check(case, result(truth))[0]
    off = truth.copy()
    off[0, 0] = 2  # 19/20 right: 0.95 is within the slack
    assert check(case, result(off))[0]
    off[0, 1:3] = 2  # 17/20
    passed, reason = check(case, result(off))
    assert not passed and "pixel accuracy 0.850" in reason
