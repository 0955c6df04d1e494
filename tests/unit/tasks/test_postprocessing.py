"""The task handlers' pure parts: placement of images, NMS, CTC, beam search, top-k, shares."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image

from contract.imaging import fit
from contract.metadata import ImageInput
from service.tasks.classify import top_classes
from service.tasks.decoding import Hypothesis, beam_search
from service.tasks.detect import iou, non_max_suppression
from service.tasks.segment import class_shares
from service.tasks.speech import ctc_collapse, ctc_words


def test_letterbox_keeps_aspect_and_maps_boxes_back():
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    array, placement = fit(image, ImageInput((64, 64), 3, "letterbox", 114))
    assert array.shape == (64, 64, 3)
    assert placement.offset == (0, 16) and placement.scale == (0.32, 0.32)
    assert (array[:16] == 114).all() and (array[16:48] == 255).all() and (array[48:] == 114).all()
    back = placement.boxes_to_original(np.array([[32, 16, 64, 48], [-5, 0, 70, 70]]))
    assert back.ravel().tolist() == pytest.approx([100, 0, 200, 100, 0, 0, 200, 100])


def test_stretch_scales_each_axis():
    array, placement = fit(Image.new("L", (30, 10)), ImageInput((20, 20), 1, "stretch"))
    assert array.shape == (20, 20, 1)
    assert placement.boxes_to_original(np.array([[10, 10, 20, 20]])).tolist() == [[15, 5, 30, 10]]


def test_any_size_models_see_the_image_as_it_is():
    array, placement = fit(Image.new("RGB", (7, 5)), ImageInput(None, 3, "stretch"))
    assert array.shape == (5, 7, 3) and placement.scale == (1.0, 1.0)


def test_class_maps_come_back_at_the_original_size():
    _, placement = fit(Image.new("RGB", (100, 50)), ImageInput((32, 32), 3, "letterbox"))
    class_map = np.zeros((32, 32), np.int64)
    class_map[8:24, 16:] = 2  # the right half of the content area
    original = placement.map_to_original(class_map)
    assert original.shape == (50, 100)
    assert (original[:, 55:] == 2).all() and (original[:, :45] == 0).all()


def test_center_crop_resizes_the_shorter_side_then_cuts_the_centre():
    image = Image.new("RGB", (300, 200), (0, 0, 0))
    image.paste((255, 255, 255), (140, 90, 160, 110))  # a white square in the middle
    spec = ImageInput((100, 100), 3, "center_crop", resize_size=120)
    array, placement = fit(image, spec)
    assert array.shape == (100, 100, 3)
    assert placement.scale == (0.6, 0.6) and placement.offset == (-40, -10)
    assert array[50, 50].tolist() == [255, 255, 255] and array[5, 5].tolist() == [0, 0, 0]
    back = placement.boxes_to_original(np.array([[44, 44, 56, 56]]))
    assert back.ravel().tolist() == pytest.approx([140, 90, 160, 110])
    class_map = np.zeros((100, 100), np.int64)
    class_map[44:56, 44:56] = 1
    original = placement.map_to_original(class_map)
    assert original.shape == (200, 300) and original[100, 150] == 1
    assert original[100, 10] == 0  # cut away by the crop: background


def test_nms_keeps_the_best_of_overlapping_boxes_per_class():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.6, 0.9, 0.5, 0.4])
    classes = np.array([0, 0, 1, 0])
    assert non_max_suppression(boxes, scores, classes, 0.5).tolist() == [1, 2, 3]
    assert iou(boxes[0], boxes[1:2])[0] == pytest.approx(81 / 119)


def test_ctc_merges_repeats_drops_blanks_and_times_words():
    vocabulary = ("<blank>", "|", "h", "i", "o")
    frames = np.array([0, 2, 2, 0, 3, 1, 1, 0, 0, 2, 0, 4, 4, 0])
    assert ctc_collapse(frames, 0) == [(2, 1, 2), (3, 4, 4), (1, 5, 6), (2, 9, 9), (4, 11, 12)]
    words = ctc_words(frames, vocabulary, 0, 0.02)
    assert [w.text for w in words] == ["hi", "ho"]
    assert (words[0].start_s, words[0].end_s) == pytest.approx((0.02, 0.10))
    assert (words[1].start_s, words[1].end_s) == pytest.approx((0.18, 0.26))


def test_ctc_double_letters_need_a_blank_between():
    vocabulary = ("<blank>", "|", "l")
    assert [w.text for w in ctc_words(np.array([2, 2, 0, 2]), vocabulary, 0, 0.1)] == ["ll"]


# a toy language model over tokens 0 (start), 1 (end), 2, 3: greedy takes 2 (0.6) and then
# can only end weakly; beam search finds 3 (0.4) followed by a sure end.
TABLE = {
    (0,): [0.0, 0.0, 0.6, 0.4],
    (0, 2): [0.0, 0.3, 0.35, 0.35],
    (0, 3): [0.0, 1.0, 0.0, 0.0],
}


async def toy_step(hypothesis: Hypothesis):
    probabilities = np.array(TABLE.get(hypothesis.tokens, [0.0, 1.0, 0.0, 0.0]))
    with np.errstate(divide="ignore"):
        return np.log(probabilities), None


def test_greedy_and_beam_search():
    greedy = asyncio.run(beam_search(toy_step, [0], eos_id=1, max_tokens=5, beam_width=1))
    beam = asyncio.run(beam_search(toy_step, [0], eos_id=1, max_tokens=5, beam_width=2))
    assert greedy.tokens[:2] == (0, 2)
    assert beam.tokens == (0, 3, 1)
    assert beam.log_probability == pytest.approx(np.log(0.4))


def test_decoding_stops_at_max_tokens():
    async def never_ends(hypothesis):
        return np.log(np.array([0.1, 0.1, 0.8])), None

    result = asyncio.run(beam_search(never_ends, [0], eos_id=1, max_tokens=4, beam_width=2))
    assert result.tokens == (0, 2, 2, 2, 2)


def test_top_classes_and_shares():
    best = top_classes(np.array([0.1, 0.7, 0.2]), ("a", "b"), 5)
    assert [(c.index, c.label) for c in best] == [(1, "b"), (2, "2"), (0, "a")]
    shares = class_shares(np.array([[0, 0, 0, 2]]), ("bg", "x", "y"))
    assert [(s.label, s.pixel_fraction) for s in shares] == [("bg", 0.75), ("y", 0.25)]
