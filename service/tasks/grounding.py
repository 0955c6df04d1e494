"""Grounded captions and answers: composed from what served models see, never guessed.

A captioning or VQA model whose `Grounding` metadata names an object detector (see
contract/metadata.py) has no decoder: `gather_scene` runs the named component models through
the core (so batching, limits and errors are shared with Detect, EstimatePose and ReadText):
the detector, then the model's own graph, which gives the share of each basic colour in the
whole image and in the middle of each object's box; the pose model (arms raised or not) and
the text reader when the metadata names them and they are served. grounded_grammar.py
composes the caption or the answers from that scene; a question runs only the models its
form needs.
"""

from __future__ import annotations

import asyncio

import numpy as np

from contract.metadata import Grounding

from ..core import InferenceCore
from ..errors import InvalidInput, ModelNotFound, ModelNotReady
from ..repository import LoadedModel
from .classify import ClassScore
from .detect import detect
from .grounded_grammar import (
    EVERYTHING,
    NEEDS,
    Scene,
    SeenObject,
    answer,
    caption_scene,
    parse_question,
)
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, labels_of, resolve_model
from .ocr import read_text
from .pose import estimate_pose

CANDIDATE_SHARE = 0.5  # boxes down to this share of `object_score` are "almost seen" candidates
MIDDLE = 0.6  # an object's colour is read from the middle 60% of its box (less background)


# ---------------------------------------------------------------------------------------------
# seeing


def grounding_of(model: LoadedModel) -> Grounding:
    return model.metadata.section(Grounding)


async def gather_scene(core: InferenceCore, model: LoadedModel, image: bytes,
                       limits: TaskLimits, parts: frozenset[str] = EVERYTHING) -> Scene:
    """Run the component models a question or caption needs (`parts` of EVERYTHING) on one
    image, at once."""
    settings = grounding_of(model)
    objects = _objects(core, model, image, limits) if "objects" in parts else _nothing()
    pose = (_arms(core, settings, image, limits) if "pose" in parts and settings.pose_estimator
            else _nothing())
    text = (_text(core, settings, image, limits) if "text" in parts and settings.text_reader
            else _nothing())
    scene, arms, lines = await asyncio.gather(objects, pose, text)
    scene = scene or Scene([], [], (), ())
    missing = {**scene.missing, **{part: why for part, why in (("pose", arms), ("text", lines))
                                   if isinstance(why, str)}}
    read = lines if isinstance(lines, tuple) else None
    return Scene(scene.objects, scene.candidates, scene.colours, scene.known_labels,
                 read[0] if read else None, read[1] if read else 0.0,
                 arms if isinstance(arms, tuple) else None, missing)


async def _nothing() -> None:
    return None


async def _objects(core: InferenceCore, model: LoadedModel, image: bytes,
                   limits: TaskLimits) -> Scene:
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


def _served(core: InferenceCore, name: str, task: str) -> LoadedModel | str:
    """The component model, or why it cannot be used (a sentence for "I can't tell")."""
    try:
        return resolve_model(core, task, name)
    except (ModelNotFound, ModelNotReady):
        return f"the {task} model '{name}' is not served"


async def _arms(core: InferenceCore, settings: Grounding, image: bytes,
                limits: TaskLimits) -> tuple[int, float] | str:
    """How many arms the most visible person raises (wrist above shoulder), and the lowest
    score of the keypoints that say so."""
    model = _served(core, settings.pose_estimator, "pose")
    if isinstance(model, str):
        return model
    result = await estimate_pose(core, model, image, None, 1, limits)
    if not result.people:
        return "no pose was found"
    points = {k.name: k for k in result.people[0].keypoints}
    raised, scores = 0, []
    for side in ("left", "right"):
        wrist, shoulder = points.get(f"{side}_wrist"), points.get(f"{side}_shoulder")
        if wrist is None or shoulder is None:
            return "the pose model does not name wrists and shoulders"
        if min(wrist.score, shoulder.score) < settings.keypoint_score:
            return "the person's wrists and shoulders are not all visible"
        raised += wrist.y < shoulder.y
        scores.append(min(wrist.score, shoulder.score))
    return raised, min(scores)


def is_wording(text: str) -> bool:
    """At least two letters or digits, and mostly Latin letters, digits and punctuation (the
    reader's other characters, read in a photo of no text, are mostly noise)."""
    alphanumeric = sum(c.isascii() and c.isalnum() for c in text)
    latin = sum(c.isascii() and not c.isspace() for c in text)
    return alphanumeric >= 2 and latin >= 0.5 * len(text.replace(" ", ""))


async def _text(core: InferenceCore, settings: Grounding, image: bytes,
                limits: TaskLimits) -> tuple[list[tuple[str, float]], float] | str:
    """The lines read at or above `text_score`, and the best score of those below it."""
    model = _served(core, settings.text_reader, "ocr")
    if isinstance(model, str):
        return model
    result = await read_text(core, model, image, limits)
    kept = [(line.text, line.score) for line in result.lines
            if line.score >= settings.text_score and is_wording(line.text)]
    rejected = max((line.score for line in result.lines if line.score < settings.text_score),
                   default=0.0)
    return kept, rejected


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



def check_question(question: str, limits: TaskLimits) -> str:
    """The question stripped; InvalidInput when it is empty or too long."""
    question = question.strip()
    if not question:
        raise InvalidInput("the question is empty; ask something about the image")
    if len(question) > limits.max_question_chars:
        raise InvalidInput(f"the question has {len(question)} characters; the limit is "
                           f"{limits.max_question_chars}")
    return question



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
    parsed = parse_question(question)
    parts = NEEDS.get(parsed[0].name, frozenset({"objects"})) if parsed else frozenset({"objects"})
    scene = await gather_scene(core, model, image, limits, parts)
    return answer(scene, question, grounding_of(model).max_objects)[:max(1, top_k)]
