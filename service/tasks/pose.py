"""Pose: an image -> people, each with named, scored keypoints in the original image's pixels,
and the skeleton's edges (which keypoints to join).

The model's `keypoints` output is [people, K, 3]: x, y in its input's pixels and a score;
`scores` [people] rates each person; models that find people themselves (multi-person) also
give `boxes` [people, 4], otherwise a person's box is drawn around its keypoints scored at least
`keypoint_threshold` (contract.metadata.PoseEstimation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.metadata import PoseEstimation

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, label, labels_of


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Person:
    keypoints: list[Keypoint]
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original pixels


@dataclass(frozen=True)
class PoseResult:
    people: list[Person]
    keypoint_names: list[str]
    skeleton: list[tuple[int, int]]
    width: int
    height: int


def box_around(points: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """x1, y1, x2, y2 around the points scored at least `threshold` (all when none is)."""
    sure = points[scores >= threshold] if (scores >= threshold).any() else points
    return np.concatenate([sure.min(axis=0), sure.max(axis=0)])


async def estimate_pose(core: InferenceCore, model: LoadedModel, image: bytes,
                        score_threshold: float | None, max_people: int,
                        limits: TaskLimits) -> PoseResult:
    if max_people < 0:
        raise InvalidInput("max_people must not be negative (0: everyone the model finds)")
    settings = model.metadata.section(PoseEstimation)
    array, placement = await prepare_image_async(image, model, limits)
    has_boxes = any(o.name == "boxes" for o in model.config.output)
    wanted = ["keypoints", "scores"] + (["boxes"] if has_boxes else [])
    result = await infer_one(core, model, {"image": array}, wanted)
    keypoints = np.asarray(result["keypoints"], np.float32).reshape(-1, *result["keypoints"]
                                                                   .shape[-2:])
    scores = np.asarray(result["scores"], np.float32).reshape(-1)
    threshold = settings.score_threshold if score_threshold is None else score_threshold
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= threshold]
    if max_people:
        order = order[:max_people]
    names = labels_of(model, "keypoints")
    people = []
    for index in order:
        points = keypoints[index]
        # the placement maps boxes; a point is a box of no size
        mapped = placement.boxes_to_original(np.repeat(points[:, :2], 2, axis=0).reshape(-1, 4))
        if has_boxes:
            box = np.asarray(result["boxes"], np.float32).reshape(-1, 4)[index]
        else:
            box = box_around(points[:, :2], points[:, 2], settings.keypoint_threshold)
        x1, y1, x2, y2 = placement.boxes_to_original(box[np.newaxis])[0]
        people.append(Person(
            [Keypoint(label(names, k), float(mapped[k, 0]), float(mapped[k, 1]),
                      float(points[k, 2])) for k in range(len(points))],
            float(scores[index]), (float(x1), float(y1), float(x2), float(y2))))
    pairs = settings.skeleton
    skeleton = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    width, height = placement.original_size
    return PoseResult(people, list(names), skeleton, width, height)
