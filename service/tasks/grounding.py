"""Grounded captions and answers: composed from what served models see, never guessed.

A captioning or VQA model whose `Grounding` metadata names an object detector (see
contract/metadata.py) has no decoder: `gather_scene` runs the named detector through the core
(so batching, limits and errors are shared with Detect), then the model's own graph, which
gives the share of each basic colour in the whole image and in the middle of each object's
box. `caption_scene` and `answer` compose text from that scene with a small grammar:

- caption: the main kinds of object (largest first, at most `max_objects`) with their counts,
  a colour for a single object whose middle is mostly one colour: "a person, a red car and
  two cups"; with no object, the picture's main colour.
- questions (`QUESTION_FORMS`): counting, existence, colour, place, position of one object
  against another, and "what is in the picture?". Anything else, or an object the detector
  does not know, is answered "I can't tell" with the forms it can answer.

Scores are the detector's own scores and colour shares, not calibrated probabilities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from contract.metadata import Grounding

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .classify import ClassScore
from .detect import detect
from .grounded_words import counted, listed, object_label, place, plural, vocabulary
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, labels_of, resolve_model

CANDIDATE_SHARE = 0.5  # boxes down to this share of `object_score` are "almost seen" candidates
MIDDLE = 0.6  # an object's colour is read from the middle 60% of its box (less background)
COLOUR_SHARE = 0.4  # a caption names a colour covering at least this share of the middle
UNSURE = "I can't tell"


@dataclass(frozen=True)
class SeenObject:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of width and height
    colours: tuple[tuple[str, float], ...] = ()  # colour names by share of the box's middle

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass(frozen=True)
class Scene:
    """What the component models saw in one image."""

    objects: list[SeenObject]  # at or above the object score, best first
    candidates: list[SeenObject]  # below it but above CANDIDATE_SHARE of it
    colours: tuple[tuple[str, float], ...]  # of the whole image, by share
    known_labels: tuple[str, ...]
    lines: list[tuple[str, float]] | None = None  # text read; None: no text reader
    notes: dict[str, str] = field(default_factory=dict)

    def of(self, label: str) -> list[SeenObject]:
        return [o for o in self.objects if o.label == label]

    def candidate_score(self, label: str) -> float:
        return max((o.score for o in self.candidates if o.label == label), default=0.0)


# ---------------------------------------------------------------------------------------------
# seeing


def grounding_of(model: LoadedModel) -> Grounding:
    return model.metadata.section(Grounding)


async def gather_scene(core: InferenceCore, model: LoadedModel, image: bytes,
                       limits: TaskLimits) -> Scene:
    """Run the model's detector and colour graph on one image."""
    settings = grounding_of(model)
    detector = resolve_model(core, "detection", settings.object_detector)
    floor = settings.object_score * CANDIDATE_SHARE
    found = await detect(core, detector, image, floor, 0, limits)
    width, height = max(found.width, 1), max(found.height, 1)
    seen = [SeenObject(d.label, d.score, (d.box[0] / width, d.box[1] / height,
                                          d.box[2] / width, d.box[3] / height))
            for d in found.detections]
    colours = await _colours(core, model, image, [o.box for o in seen], limits)
    seen = [SeenObject(o.label, o.score, o.box, shares) for o, shares in zip(seen, colours[1:])]
    objects = [o for o in seen if o.score >= settings.object_score]
    candidates = [o for o in seen if o.score < settings.object_score]
    return Scene(objects, candidates, colours[0], labels_of(detector, "labels"))


def _middle(box: tuple[float, float, float, float]) -> list[float]:
    x1, y1, x2, y2 = box
    margin_x, margin_y = (x2 - x1) * (1 - MIDDLE) / 2, (y2 - y1) * (1 - MIDDLE) / 2
    return [x1 + margin_x, y1 + margin_y, x2 - margin_x, y2 - margin_y]


async def _colours(core: InferenceCore, model: LoadedModel, image: bytes,
                   boxes: list[tuple[float, float, float, float]],
                   limits: TaskLimits) -> list[tuple[tuple[str, float], ...]]:
    """Colour shares of the whole image, then of the middle of each box (by the model's own
    graph)."""
    array, _ = await prepare_image_async(image, model, limits)
    regions = np.array([[0.0, 0.0, 1.0, 1.0]] + [_middle(b) for b in boxes], dtype=np.float32)
    result = await infer_one(core, model, {"image": array, "regions": regions},
                             ["colour_shares"])
    names = labels_of(model, "colour_shares")
    shares = np.asarray(result["colour_shares"], dtype=np.float32)
    return [tuple((names[i], float(row[i])) for i in np.argsort(-row, kind="stable") if row[i])
            for row in shares]


# ---------------------------------------------------------------------------------------------
# captions


def _main_colour(seen: SeenObject) -> str:
    if seen.label == "person" or not seen.colours:
        return ""  # a person's "colour" is their clothes and skin: not named
    name, share = seen.colours[0]
    return name if share >= COLOUR_SHARE else ""


def caption_scene(scene: Scene, max_objects: int) -> tuple[str, float]:
    """The caption and its log-probability (the sum of the log scores of the objects named,
    as if the scores were independent probabilities)."""
    if not scene.objects:
        colour = scene.colours[0][0] if scene.colours else "dark"
        return f"a mostly {colour} picture with no object I know", 0.0
    groups: dict[str, list[SeenObject]] = {}
    for seen in sorted(scene.objects, key=lambda o: -o.area):
        groups.setdefault(seen.label, []).append(seen)
    named = list(groups.items())[:max_objects]
    phrases = [counted(label, len(group), _main_colour(group[0]) if len(group) == 1 else "")
               for label, group in named]
    log_probability = sum(math.log(max(o.score, 1e-6)) for _, group in named for o in group)
    return listed(phrases), log_probability


# ---------------------------------------------------------------------------------------------
# questions

_PICTURE = r"(?: in (?:the|this) (?:picture|image|photo|scene))?(?: here)?"
_NOUN = r"(?P<x>[a-z ]+?)"
_THING = r"(?:the |a |an |any |some )?" + _NOUN
RELATIONS = {
    "left of": "left of", "to the left of": "left of", "on the left of": "left of",
    "right of": "right of", "to the right of": "right of", "on the right of": "right of",
    "above": "above", "over": "above", "on top of": "above", "below": "below",
    "under": "below", "beneath": "below", "underneath": "below", "next to": "next to",
    "beside": "next to", "near": "next to", "by": "next to",
}
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))


@dataclass(frozen=True)
class QuestionForm:
    name: str
    example: str
    patterns: tuple[str, ...]


QUESTION_FORMS = (
    QuestionForm("scene", "what is in the picture?", (
        r"what (?:is|can you see|do you see|is shown|is there)" + _PICTURE,
        r"(?:describe|caption) (?:the|this) (?:picture|image|photo|scene)",
        r"what is (?:this|it)(?: a (?:picture|image|photo) of)?")),
    QuestionForm("count", "how many X?", (
        r"how many " + _NOUN
        + r"(?: are there| are| is there| do you see| can you see| can be seen| are visible)?"
        + _PICTURE,)),
    QuestionForm("relation", "is the X left of / right of / above / below / next to the Y?", (
        r"(?:is|are) (?:there )?" + _THING + r" (?P<relation>" + _RELATION + r") "
        r"(?:the |a |an |any )?(?P<y>[a-z ]+?)" + _PICTURE,)),
    QuestionForm("exists", "is there a X?", (
        r"(?:is there|are there|do you see|can you see|is this|are these|does (?:the|this) "
        r"(?:picture|image|photo) (?:show|contain|have)) " + _THING + _PICTURE,)),
    QuestionForm("colour", "what colour is the X?", (
        r"what colou?r (?:is|are) " + _THING + _PICTURE,
        r"what is the colou?r of " + _THING + _PICTURE,
        r"what colou?r does " + _THING + r" have")),
    QuestionForm("where", "where is the X?", (
        r"where (?:is|are) " + _THING + _PICTURE,
        r"in which part of the (?:picture|image|photo) (?:is|are) " + _THING)),
)


def parse_question(question: str) -> tuple[QuestionForm, dict[str, str]] | None:
    """The question's form and its named parts (x, y, relation), or None outside the grammar."""
    text = re.sub(r"[^a-z0-9' ]+", " ", question.lower())
    text = re.sub(r"\s+", " ", text).strip().replace("colour", "color")
    for form in QUESTION_FORMS:
        for pattern in form.patterns:
            match = re.fullmatch(pattern.replace("colou?r", "color"), text)
            if match:
                return form, {k: v for k, v in match.groupdict().items() if v}
    return None


def cannot_tell(reason: str = "") -> list[ClassScore]:
    """'I can't tell' and the question forms that can be answered, as the only answer."""
    forms = "; ".join(f"'{form.example}'" for form in QUESTION_FORMS)
    detail = f" ({reason})" if reason else ""
    return [ClassScore(0, f"{UNSURE}{detail}. I can answer: {forms} (X, Y: an object "
                          f"I know, such as person, car, dog, cup)", 0.0)]


def check_question(question: str, limits: TaskLimits) -> str:
    """The question stripped; InvalidInput when it is empty or too long."""
    question = question.strip()
    if not question:
        raise InvalidInput("the question is empty; ask something about the image")
    if len(question) > limits.max_question_chars:
        raise InvalidInput(f"the question has {len(question)} characters; the limit is "
                           f"{limits.max_question_chars}")
    return question


def answer(scene: Scene, question: str, max_objects: int) -> list[ClassScore]:
    """Answers, the grammar's decision first, then the alternatives it weighed."""
    parsed = parse_question(question)
    if parsed is None:
        return cannot_tell("the question is not one I can answer")
    form, parts = parsed
    if form.name == "scene":
        caption, log_probability = caption_scene(scene, max_objects)
        return [ClassScore(0, caption, math.exp(log_probability))]
    words = vocabulary(scene.known_labels)
    labels: dict[str, str] = {}
    for key in ("x", "y"):
        if key in parts:
            label = object_label(parts[key], words)
            if label is None and not (form.name == "colour" and key == "x"
                                      and _is_picture(parts[key])):
                return cannot_tell(f"I don't know what '{parts[key]}' is")
            labels[key] = label or ""
    return ANSWERERS[form.name](scene, labels, parts)


def _is_picture(phrase: str) -> bool:
    return phrase.split()[-1] in ("picture", "image", "photo", "scene")


def _ranked(*answers: tuple[str, float]) -> list[ClassScore]:
    """The decision first, then the alternatives that have any score."""
    kept = [answers[0]] + [a for a in answers[1:] if a[1] > 0]
    return [ClassScore(i, text, round(float(score), 4)) for i, (text, score) in
            enumerate(kept)]


def _count(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = scene.of(labels["x"])
    almost = scene.candidate_score(labels["x"])
    if not seen:
        return _ranked(("0", 1 - almost), ("1", almost))
    weakest = min(o.score for o in seen)
    return _ranked((str(len(seen)), min(weakest, 1 - almost)), (str(len(seen) + 1), almost),
                   (str(len(seen) - 1), 1 - weakest))


def _exists(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = scene.of(labels["x"])
    if seen:
        best = max(o.score for o in seen)
        return _ranked(("yes", best), ("no", 1 - best))
    almost = scene.candidate_score(labels["x"])
    return _ranked(("no", 1 - almost), ("yes", almost))


def _colour(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    if not labels["x"]:
        return _ranked(*scene.colours[:3])
    seen = scene.of(labels["x"])
    if not seen:
        return _ranked((f"I see no {labels['x']}", 1 - scene.candidate_score(labels["x"])))
    best = max(seen, key=lambda o: o.score)
    return _ranked(*best.colours[:3])


def _where(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = sorted(scene.of(labels["x"]), key=lambda o: -o.score)
    if not seen:
        return _ranked((f"I see no {plural(labels['x'])}",
                        1 - scene.candidate_score(labels["x"])))
    return _ranked(*((place(*o.centre), o.score) for o in seen))


def _holds(relation: str, a: SeenObject, b: SeenObject) -> bool:
    """Whether `a` is `relation` `b`, by box centres (next to: boxes at most one box width
    apart side by side, overlapping in height)."""
    (ax, ay), (bx, by) = a.centre, b.centre
    if relation in ("left of", "right of", "above", "below"):
        return {"left of": ax < bx, "right of": ax > bx, "above": ay < by,
                "below": ay > by}[relation]
    gap = max(a.box[0], b.box[0]) - min(a.box[2], b.box[2])
    widest = max(a.box[2] - a.box[0], b.box[2] - b.box[0])
    return gap <= widest and min(a.box[3], b.box[3]) > max(a.box[1], b.box[1])


def _relation(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    relation = RELATIONS[parts["relation"]]
    firsts, seconds = scene.of(labels["x"]), scene.of(labels["y"])
    missing = [labels[k] for k, group in (("x", firsts), ("y", seconds)) if not group]
    if missing:
        return _ranked((f"no (I see no {listed(missing)})",
                        1 - max(scene.candidate_score(m) for m in missing)))
    pairs = [(min(a.score, b.score), _holds(relation, a, b))
             for a in firsts for b in seconds if a is not b]
    if not pairs:
        return _ranked((f"no (I see only one {labels['x']})", 1.0))
    held = [score for score, holds in pairs if holds]
    if held:
        return _ranked(("yes", max(held)), ("no", 1 - max(held)))
    best = max(score for score, _ in pairs)
    return _ranked(("no", best), ("yes", 1 - best))


Answerer = Callable[[Scene, dict[str, str], dict[str, str]], list[ClassScore]]
ANSWERERS: dict[str, Answerer] = {"count": _count, "exists": _exists, "colour": _colour,
                                  "where": _where, "relation": _relation}


# ---------------------------------------------------------------------------------------------
# the two tasks


async def grounded_caption(core: InferenceCore, model: LoadedModel, image: bytes,
                           limits: TaskLimits) -> tuple[str, float]:
    """A grounded model's caption of an image and its log-probability."""
    scene = await gather_scene(core, model, image, limits)
    return caption_scene(scene, grounding_of(model).max_objects)


async def grounded_answers(core: InferenceCore, model: LoadedModel, image: bytes,
                           question: str, top_k: int, limits: TaskLimits) -> list[ClassScore]:
    """A grounded model's answers to a question about an image, at most `top_k`."""
    question = check_question(question, limits)
    scene = await gather_scene(core, model, image, limits)
    return answer(scene, question, grounding_of(model).max_objects)[:max(1, top_k)]
