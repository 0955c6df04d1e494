"""Classification: an image -> the top-k classes with their probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import InferenceCore
from ..repository import LoadedModel
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, label, labels_of, output_name


@dataclass(frozen=True)
class ClassScore:
    index: int
    label: str
    score: float


def top_classes(scores: np.ndarray, labels: tuple[str, ...], top_k: int) -> list[ClassScore]:
    """The k best of a 1-D score vector, best first."""
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    k = max(1, min(top_k, scores.size))
    best = np.argsort(-scores, kind="stable")[:k]
    return [ClassScore(int(i), label(labels, int(i)), float(scores[i])) for i in best]


async def classify(core: InferenceCore, model: LoadedModel, image: bytes, top_k: int,
                   limits: TaskLimits) -> list[ClassScore]:
    array, _ = await prepare_image_async(image, model, limits)
    output = output_name(model, "probabilities")
    result = await infer_one(core, model, {"image": array}, [output])
    return top_classes(result[output], labels_of(model, output), min(top_k, limits.max_top_k))
