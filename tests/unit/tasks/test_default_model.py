"""Which model serves a task when a request names none: the one marked default, the highest
`default_rank` among several, else the first by name."""

from __future__ import annotations

from dataclasses import dataclass

from contract.metadata import ModelMetadata
from service.tasks.models import default_model


@dataclass
class Folder:  # the two things default_model reads of a LoadedModel
    name: str
    metadata: ModelMetadata


def folder(name: str, task: str = "detection", default: bool = False, rank: int = 0) -> Folder:
    return Folder(name, ModelMetadata.build(task, default=default, default_rank=rank))


def pick(*models: Folder) -> str | None:
    chosen = default_model(list(models), "detection")  # type: ignore[arg-type]
    return chosen.name if chosen else None


def test_the_highest_ranked_default_serves_and_the_rest_fall_back_in_order():
    faces, centernet = folder("blazeface_faces"), folder("centernet_coco", default=True)
    yolo = folder("yolo11n_coco", default=True, rank=1)
    assert pick(faces, centernet, yolo) == "yolo11n_coco"
    assert pick(faces, centernet) == "centernet_coco"  # YOLO not built
    assert pick(faces, folder("nanodet_coco")) == "blazeface_faces"  # none marked: by name
    assert pick(folder("classifier", task="classification", default=True)) is None


def test_equal_ranks_fall_back_to_the_name():
    assert pick(folder("b", default=True), folder("a", default=True)) == "a"
