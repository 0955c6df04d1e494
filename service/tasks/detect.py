"""Detection: an image -> boxes in the original image's pixels, with labels and scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.metadata import DetectionThresholds

from ..core import InferenceCore
from ..repository import LoadedModel
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, label, labels_of


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original pixels
    index: int
    label: str
    score: float


@dataclass(frozen=True)
class DetectResult:
    detections: list[Detection]
    width: int
    height: int


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box [4] with each of [N, 4]."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                        iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy per-class NMS, best score first."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    suppressed = np.zeros(scores.size, dtype=bool)
    for position, index in enumerate(order):
        if suppressed[index]:
            continue
        kept.append(int(index))
        rest = order[position + 1 :]
        same_class = rest[classes[rest] == classes[index]]
        overlapping = same_class[iou(boxes[index], boxes[same_class]) > iou_threshold]
        suppressed[overlapping] = True
    return np.array(kept, dtype=np.int64)


async def detect(core: InferenceCore, model: LoadedModel, image: bytes,
                 score_threshold: float | None, max_detections: int,
                 limits: TaskLimits) -> DetectResult:
    array, placement = await prepare_image_async(image, model, limits)
    has_labels = any(o.name == "labels" for o in model.config.output)
    wanted = ["boxes", "scores"] + (["labels"] if has_labels else [])
    result = await infer_one(core, model, {"image": array}, wanted)
    boxes = np.asarray(result["boxes"], dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(result["scores"], dtype=np.float32).reshape(-1)
    classes = (np.asarray(result["labels"]).astype(np.int64).reshape(-1) if has_labels
               else np.zeros(scores.size, dtype=np.int64))  # one class: index 0
    thresholds = model.metadata.section(DetectionThresholds)
    if score_threshold is None:
        score_threshold = thresholds.score_threshold
    keep = scores >= score_threshold
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    nms_iou = thresholds.nms_iou
    order = (non_max_suppression(boxes, scores, classes, nms_iou) if nms_iou is not None
             else np.argsort(-scores, kind="stable"))
    if max_detections > 0:
        order = order[:max_detections]
    mapped = placement.boxes_to_original(boxes[order])
    labels = labels_of(model, "labels")
    detections = [
        Detection(_corners(box), int(c), label(labels, int(c)), float(s))
        for box, c, s in zip(mapped, classes[order], scores[order])
    ]
    width, height = placement.original_size
    return DetectResult(detections, width, height)


def _corners(box: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2
