"""The grounded grammar on scenes stated here, and the colour graph on pixels made here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from service.tasks.grounded_grammar import (
    UNSURE,
    Scene,
    SeenObject,
    answer,
    caption_scene,
    parse_question,
)
from service.tasks.grounded_words import counted, object_label, place, plural, vocabulary
from service.tasks.grounding import is_wording
from toolchain.zoo.build_grounded import COLOURS, build, colour_graph, colour_name

LABELS = ("person", "bicycle", "car", "cat", "dog", "cup", "tie", "bus", "knife", "sheep")


def seen(label, score, box, colour="grey"):
    return SeenObject(label, score, box, ((colour, 0.8), ("white", 0.2)))


# a person on the left, a red car on the right, two cups at the bottom, a tie on the person
SCENE = Scene(
    objects=[seen("person", 0.9, (0.05, 0.1, 0.3, 0.9)), seen("car", 0.8, (0.6, 0.4, 0.95, 0.8),
                                                             "red"),
             seen("cup", 0.7, (0.35, 0.8, 0.45, 0.95), "white"),
             seen("cup", 0.6, (0.47, 0.8, 0.55, 0.95), "white"),
             seen("tie", 0.5, (0.15, 0.3, 0.2, 0.5), "blue")],
    candidates=[seen("dog", 0.3, (0.4, 0.4, 0.5, 0.5))],
    colours=(("grey", 0.5), ("red", 0.2), ("white", 0.1)),
    known_labels=LABELS,
)


def top(question: str, scene: Scene = SCENE) -> str:
    return answer(scene, question, 4)[0].label


def test_plurals_articles_and_counts():
    assert [plural(w) for w in ("person", "bus", "knife", "sheep", "cup", "wine glass")] == [
        "people", "buses", "knives", "sheep", "cups", "wine glasses"]
    assert counted("apple", 1) == "an apple"
    assert counted("car", 1, "red") == "a red car"
    assert counted("person", 2) == "two people"
    assert counted("cup", 12) == "12 cups"


def test_question_words_map_to_the_detectors_labels():
    words = vocabulary(LABELS)
    for phrase, label in (("people", "person"), ("the men", "person"), ("women", "person"),
                          ("bikes", "bicycle"), ("a kitten", "cat"), ("mugs", "cup"),
                          ("the puppies", "dog"), ("sheep", "sheep"),
                          ("knives", "knife")):
        assert object_label(phrase, words) == label, phrase
    for phrase in ("unicorns", "the red car", "more than one person", "man with a hat"):
        assert object_label(phrase, words) is None, phrase


def test_the_caption_names_the_main_objects_with_counts_and_single_colours():
    caption, log_probability = caption_scene(SCENE, 4)
    assert caption == "a person, a red car, two cups and a blue tie"
    assert log_probability == pytest.approx(np.log([0.9, 0.8, 0.7, 0.6, 0.5]).sum(), rel=1e-6)
    assert caption_scene(SCENE, 2)[0] == "a person and a red car"


def test_an_empty_scene_says_so_and_names_its_main_colour():
    empty = Scene([], [], (("blue", 0.7),), LABELS)
    assert caption_scene(empty, 4) == ("a mostly blue picture with no object I know", 0.0)


@pytest.mark.parametrize("question, expected", [
    ("How many people are there?", "1"), ("how many cups?", "2"), ("How many dogs?", "0"),
    ("how many cats are in the picture?", "0"),
    ("Is there a car?", "yes"), ("are there any dogs?", "no"), ("Do you see a tie?", "yes"),
    ("What colour is the car?", "red"), ("what color are the cups?", "white"),
    ("What is the colour of the tie?", "blue"), ("what colour is the picture?", "grey"),
    ("Where is the car?", "on the right"), ("where is the person?", "on the left"),
    ("where are the cups?", "at the bottom"),
    ("Is the person left of the car?", "yes"), ("is the car to the left of the person?", "no"),
    ("is there a person left of the car?", "yes"), ("Is the car above the cups?", "yes"),
    ("is the cup below the car?", "yes"), ("is the cup next to the cup?", "yes"),
    ("is the dog left of the car?", "no (I see no dog)"),
    ("what colour is the dog?", "I see no dog"),
    ("what is in the picture?", "a person, a red car, two cups and a blue tie"),
    ("What's in the picture?", "a person, a red car, two cups and a blue tie"),
    ("what objects are in the image?", "a person, a red car, two cups and a blue tie"),
    ("Where's the car?", "on the right"), ("Count the cups.", "2"),
    ("Are there two cups?", "yes"), ("are there 3 cups?", "no, 2"),
    ("is there one dog?", "no, 0"), ("is it a car?", "yes"),
    ("Is the car red?", "yes"), ("is the tie red?", "no, blue"), ("is the dog gray?",
                                                                   "no (I see no dog)"),
    ("Is anyone in the picture?", "yes"),
    ("Is there a car on the right?", "yes"), ("is there a person on the right?", "no"),
    ("are there cups at the bottom?", "yes"), ("is there a dog in the middle?", "no"),
])
def test_questions_of_the_grammar_are_answered_from_the_scene(question, expected):
    assert top(question) == expected


def test_alternatives_follow_the_decision_with_their_evidence():
    answers = answer(SCENE, "how many dogs?", 4)
    assert [(a.label, a.score) for a in answers] == [("0", 0.7), ("1", 0.3)]
    counted_cups = answer(SCENE, "how many cups?", 4)
    assert [a.label for a in counted_cups] == ["2", "1"]  # no third cup was almost seen
    assert counted_cups[0].score == pytest.approx(0.6)


@pytest.mark.parametrize("question", [
    "what is the meaning of life?", "why is the person sad?", "how many unicorns?",
    "is the person happy?", "what colour is the sky?", "who is this?",
    "is there more than one person?", "how many red cars?",
])
def test_questions_outside_the_grammar_are_not_guessed(question):
    answers = answer(SCENE, question, 4)
    assert len(answers) == 1 and answers[0].score == 0.0
    assert answers[0].label.startswith(UNSURE)
    assert "how many X?" in answers[0].label and "where is the X?" in answers[0].label


def test_parse_question_names_the_parts():
    form, parts = parse_question("Is the person to the right of the red car?")
    assert form.name == "relation"
    assert parts == {"x": "person", "relation": "to the right of", "y": "red car"}
    assert parse_question("tell me a joke") is None


def test_places_in_thirds():
    assert place(0.1, 0.1) == "at the top left"
    assert place(0.5, 0.5) == "in the middle"
    assert place(0.9, 0.5) == "on the right"
    assert place(0.5, 0.9) == "at the bottom"


def test_colour_names_of_plain_colours():
    for rgb, name in (((1, 0, 0), "red"), ((1, 0.5, 0), "orange"), ((1, 1, 0), "yellow"),
                      ((0, 0.6, 0), "green"), ((0, 0, 1), "blue"), ((0.5, 0, 0.8), "purple"),
                      ((1, 0.7, 0.8), "pink"), ((0.4, 0.25, 0.1), "brown"),
                      ((0.5, 0.5, 0.5), "grey"), ((0.05, 0.05, 0.05), "black"),
                      ((0.95, 0.95, 0.95), "white")):
        assert colour_name(*rgb) == name, rgb


def test_the_colour_graph_gives_each_regions_colour_shares():
    session = ort.InferenceSession(colour_graph().SerializeToString())
    image = np.zeros((128, 128, 3), np.uint8)
    image[:, :64] = [200, 30, 30]  # red left half
    image[:, 64:] = [30, 60, 200]  # blue right half
    image[:32] = [250, 250, 250]  # white top quarter
    regions = np.array([[0, 0, 1, 1], [0, 0.5, 0.5, 1], [0.5, 0.5, 1, 1], [0, 0, 0, 0]],
                       np.float32)
    (shares,) = session.run(None, {"image": image, "regions": regions})
    named = [{COLOURS[i]: round(float(v), 3) for i, v in enumerate(row) if v} for row in shares]
    assert named == [{"white": 0.25, "red": 0.375, "blue": 0.375}, {"red": 1.0},
                     {"blue": 1.0}, {}]


def test_the_committed_folders_are_what_the_build_writes(tmp_path):
    repository = Path(__file__).resolve().parents[3] / "exported_models"
    for folder in build(tmp_path):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            committed = repository / folder.name / path.relative_to(folder)
            assert committed.read_bytes() == path.read_bytes(), committed


def with_parts(**changes) -> Scene:
    return dataclasses.replace(SCENE, **changes)


def test_text_questions_quote_the_lines_read():
    scene = with_parts(lines=[("STOP", 0.9), ("ALL WAY", 0.7)])
    answers = answer(scene, "What does the sign say?", 4)
    assert [(a.label, a.score) for a in answers] == [("STOP ALL WAY", 0.8), ("STOP", 0.9),
                                                     ("ALL WAY", 0.7)]
    assert top("what is written on it?", scene) == "STOP ALL WAY"
    assert caption_scene(scene, 1)[0] == 'a person; the text says "STOP ALL WAY"'
    assert top("what does it say?", with_parts(lines=[], rejected_line_score=0.25)) == (
        "I see no text")


def test_without_a_text_reader_text_questions_cannot_be_told():
    scene = with_parts(missing={"text": "the ocr model 'ppocr_v4' is not served"})
    answers = answer(scene, "what does it say?", 4)
    assert answers[0].label.startswith(f"{UNSURE} (the ocr model 'ppocr_v4' is not served)")


def test_raised_arms_come_from_the_pose():
    assert top("is the person raising their arms?", with_parts(arms_raised=(2, 0.7))) == "yes"
    assert top("are the woman's hands up?", with_parts(arms_raised=(0, 0.7))) == "no"
    assert caption_scene(with_parts(arms_raised=(1, 0.7)), 1)[0] == (
        "a person with an arm raised")
    unseen = with_parts(missing={"pose": "the person's wrists and shoulders are not all "
                                         "visible"})
    assert "wrists and shoulders" in top("is the person raising their arms?", unseen)
    nobody = with_parts(objects=[o for o in SCENE.objects if o.label != "person"])
    assert top("is the man raising his arms?", nobody) == "no (I see no person)"


def test_only_wording_is_quoted():
    assert [is_wording(t) for t in ("STOP", "90.84 EUR", "K", "★", "￥★★ 长★K", "Tür 7")] == [
        True, True, False, False, False, True]
