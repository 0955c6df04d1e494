"""What the COCO detectors of the zoo share: class names, the per-class NMS that ends their
graphs, box overlap (for checks written apart from the graphs), and finding objects in
photos as the server does (for their samples and cards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import ImageInput
from toolchain.onnx_builder import GraphBuilder
from toolchain.zoo._publish import photo_size, write_expected


def coco_labels() -> list[str]:
    """The 80 COCO class names in the detectors' order (torchvision's 91-entry category list
    without the background and the 11 unused ids)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    categories = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    return [name for name in categories if name not in ("__background__", "N/A")]


def nms_outputs(
    b: GraphBuilder, boxes: str, scores: str, *, iou: float, floor: float, per_class: int
) -> None:
    """Per-class NMS over `boxes` [1, N, 4] (x1, y1, x2, y2) and `scores` [1, C, N]; adds the
    graph outputs `boxes` [K, 4], `scores` [K] and `labels` [K] (class indices)."""
    selected = b.op(
        "NonMaxSuppression",
        boxes,
        scores,
        b.const(np.array([per_class], np.int64)),
        b.const(np.array([iou], np.float32)),
        b.const(np.array([floor], np.float32)),
    )  # [K, 3]: batch, class, box
    classes = b.op("Gather", selected, b.const(np.int64(1)), axis=1)
    kept = b.op("Gather", selected, b.const(np.int64(2)), axis=1)
    flat_boxes = b.op("Squeeze", boxes, b.const(np.array([0], np.int64)))
    flat_scores = b.op("Squeeze", scores, b.const(np.array([0], np.int64)))
    class_and_box = b.op("Gather", selected, b.const(np.array([1, 2], np.int64)), axis=1)
    b.output(b.op("Gather", flat_boxes, kept, axis=0), "boxes", np.float32, ["N", 4])
    b.output(b.op("GatherND", flat_scores, class_and_box), "scores", np.float32, ["N"])
    b.output(classes, "labels", np.int64, ["N"])


def iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def suppress(rows: list, threshold: float) -> list:
    """Greedy per-class NMS of [x1, y1, x2, y2, score, class] rows (numpy, apart from the
    graphs' NonMaxSuppression)."""
    kept: list = []
    for row in sorted(rows, key=lambda r: -r[4]):
        if all(k[5] != row[5] or iou(k, row) <= threshold for k in kept):
            kept.append(row)
    return kept


def detect(session: ort.InferenceSession, image: np.ndarray, image_input: ImageInput,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Objects in a photo as the server finds them: boxes in photo pixels, scores, classes."""
    placed, placement = fit_array(image, image_input)
    boxes, scores, classes = session.run(["boxes", "scores", "labels"], {"image": placed})
    keep = scores >= threshold
    return placement.boxes_to_original(boxes[keep]), scores[keep], classes[keep]


def write_samples(session: ort.InferenceSession, samples_dir: Path, *, model: str,
                  image_input: ImageInput, threshold: float, labels: list[str],
                  photos: dict[str, tuple[np.ndarray, list[str]]]) -> dict:
    """expected.json for the sample photos already saved as `samples_dir/<name>.jpg`:
    `photos` maps each name to its pixels as saved and the labels the detector must find
    there (an error when it does not)."""
    expected: dict = {"model": model, "task": "detection", "score_threshold": threshold,
                      "box_iou_at_least": 0.5, "images": {}}  # fmt: skip
    for name, (image, wanted) in photos.items():
        boxes, scores, classes = detect(session, image, image_input, threshold)
        found = [labels[c] for c in classes]
        if not set(wanted) <= set(found):
            raise RuntimeError(f"{name}: expected {wanted}, the model found {found}")
        expected["images"][f"{name}.jpg"] = {
            "labels": found, "boxes": [[round(float(v), 1) for v in box] for box in boxes],
            "scores": [round(float(s), 3) for s in scores], **photo_size(image),
        }  # fmt: skip
    return write_expected(samples_dir, expected)
