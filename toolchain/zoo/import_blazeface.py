"""Import MediaPipe's BlazeFace short-range face detector (Apache-2.0) as `blazeface_faces`.

The TFLite file comes from the mediapipe 0.10.21 wheel; our importer (toolchain/tflite)
translates it op by op into ONNX, and the served graph wraps it with what MediaPipe's
FaceDetectionShortRange graph does around the network: uint8 image -> [-1, 1], the 896 SSD
anchors decoded into boxes in input pixels, sigmoid scores, and non-maximum suppression.
The translation is verified against LiteRT running the original file.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import DetectionThresholds, ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.tflite import TfliteGraph, read_tflite, tflite_to_onnx, translate
from toolchain.tflite.mediapipe import FACE_DETECTION_SHORT_RANGE, LICENSE, mediapipe_file
from toolchain.tflite.photos import photo, save_sample
from toolchain.tflite.reference import run_tflite
from toolchain.zoo._publish import (
    detection_outputs,
    image_tensor,
    json_text,
    photo_size,
    publish,
    worst_difference,
    write_expected,
)

log = logging.getLogger(__name__)

NAME = "blazeface_faces"
DESCRIPTION = "BlazeFace short-range face detector (MediaPipe, Apache-2.0), 128x128, letterbox"

SIZE = 128
IMAGE = ImageInput((SIZE, SIZE), resize="letterbox")  # as the server fits photos
# MediaPipe's face_detection_short_range.pbtxt and face_detection.pbtxt.
STRIDES = (8, 16, 16, 16)
MIN_SCALE, MAX_SCALE = 0.1484375, 0.75
ANCHOR_OFFSET = 0.5
BOX_SCALE = 128.0  # x_scale, y_scale, w_scale, h_scale
SCORE_CLIP = 100.0
MIN_SUPPRESSION_IOU = 0.3
SCORE_THRESHOLD = 0.5  # MediaPipe's min_score_thresh; the server applies it (parameter)
GRAPH_SCORE_FLOOR = 0.25  # the graph keeps boxes above this, so requests may go lower
MAX_DETECTIONS = 100
SAMPLES = {"astronaut": 1, "grace_hopper": 1, "coffee": 0}  # photo -> faces in it
TOLERANCE = 1e-3  # max abs difference of raw outputs against LiteRT


def anchors() -> np.ndarray:
    """[896, 2] anchor centres (x, y) in 0..1, in the order of the model's outputs.

    Consecutive layers with the same stride share one feature map; each layer adds two anchors
    per cell (aspect ratio 1 and the interpolated scale). With fixed_anchor_size every anchor
    is 1 x 1, so only the centres matter.
    """
    centres = []
    layer = 0
    while layer < len(STRIDES):
        stride = STRIDES[layer]
        per_cell = 0
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        cells = math.ceil(SIZE / stride)
        for y in range(cells):
            for x in range(cells):
                centre = ((x + ANCHOR_OFFSET) / cells, (y + ANCHOR_OFFSET) / cells)
                centres += [centre] * per_cell
    return np.array(centres, dtype=np.float32)


def build_graph(graph: TfliteGraph) -> onnx.ModelProto:
    """image UINT8 [128, 128, 3] -> boxes [N, 4] (input pixels), scores [N], labels [N]."""
    b = GraphBuilder(NAME)
    image = b.input("image", np.uint8, [SIZE, SIZE, 3])
    scaled = b.op("Mul", b.op("Cast", image, to=1), b.const(np.float32(2 / 255)))
    normalised = b.op("Sub", scaled, b.const(np.float32(1)))
    batch = b.op("Unsqueeze", normalised, b.const(np.array([0], np.int64)))
    regressors, classificators = (
        translate(graph, b, {graph.inputs[0]: batch})[index] for index in graph.outputs
    )
    boxes = _decode_boxes(b, regressors)
    logits = b.op("Squeeze", classificators, b.const(np.array([2], np.int64)))  # [1, 896]
    clipped = b.op(
        "Clip", logits, b.const(np.float32(-SCORE_CLIP)), b.const(np.float32(SCORE_CLIP))
    )
    scores = b.op("Sigmoid", clipped)
    selected = b.op(
        "NonMaxSuppression",
        b.op("Unsqueeze", boxes, b.const(np.array([0], np.int64))),
        b.op("Unsqueeze", scores, b.const(np.array([1], np.int64))),
        b.const(np.array([MAX_DETECTIONS], np.int64)),
        b.const(np.array([MIN_SUPPRESSION_IOU], np.float32)),
        b.const(np.array([GRAPH_SCORE_FLOOR], np.float32)),
    )
    kept = b.op("Gather", selected, b.const(np.int64(2)), axis=1)  # [N] anchor indices
    b.output(b.op("Gather", boxes, kept, axis=0), "boxes", np.float32, ["N", 4])
    flat_scores = b.op("Squeeze", scores, b.const(np.array([0], np.int64)))
    b.output(b.op("Gather", flat_scores, kept, axis=0), "scores", np.float32, ["N"])
    labels = b.op("Mul", kept, b.const(np.int64(0)))  # one class: "face"
    b.output(labels, "labels", np.int64, ["N"])
    return b.model(doc=DESCRIPTION)


def _decode_boxes(b: GraphBuilder, regressors: str) -> str:
    """[1, 896, 16] raw offsets -> [896, 4] x1, y1, x2, y2 in input pixels, clipped to it."""
    raw = b.op(
        "Slice",
        regressors,
        b.const(np.array([0], np.int64)),
        b.const(np.array([4], np.int64)),
        b.const(np.array([2], np.int64)),
    )
    raw = b.op("Squeeze", raw, b.const(np.array([0], np.int64)))  # [896, 4]: dx, dy, w, h
    centres = np.concatenate([anchors(), np.zeros((len(anchors()), 2), np.float32)], axis=1)
    normalised = b.op("Add", b.op("Mul", raw, b.const(np.float32(1 / BOX_SCALE))), b.const(centres))
    to_corners = np.array(  # (cx, cy, w, h) -> (cx - w/2, cy - h/2, cx + w/2, cy + h/2)
        [[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]], np.float32
    )
    corners = b.op("MatMul", normalised, b.const(to_corners * SIZE))
    return b.op("Clip", corners, b.const(np.float32(0)), b.const(np.float32(SIZE)))


def model_input(image: np.ndarray) -> np.ndarray:
    """What MediaPipe feeds the network: letterboxed to 128x128, scaled to [-1, 1], batch 1."""
    placed, _ = fit_array(image, IMAGE)
    return (placed.astype(np.float32) * (2 / 255) - 1)[np.newaxis]


def verify_translation(tflite_path: Path, images: dict[str, np.ndarray]) -> list[dict]:
    """Raw outputs of our ONNX translation against LiteRT on each image and on random input."""
    graph = read_tflite(tflite_path)
    session = ort.InferenceSession(tflite_to_onnx(graph, "raw").SerializeToString())
    inputs = {name: model_input(image) for name, image in images.items()}
    noise = np.random.default_rng(0).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    inputs["uniform noise"] = noise
    rows = []
    for name, array in inputs.items():
        reference = run_tflite(tflite_path, {"input": array})
        ours = dict(
            zip([o.name for o in session.get_outputs()], session.run(None, {"input": array}))
        )
        for output in ("regressors", "classificators"):
            rows.append({
                "input": name,
                "output": output,
                "max abs diff": float(np.abs(ours[output] - reference[output]).max()),
                "max abs value": float(np.abs(reference[output]).max()),
                "anchors above 0.5 (TFLite / ONNX)": (
                    f"{int((reference[output] > 0).sum())} / {int((ours[output] > 0).sum())}"
                    if output == "classificators" else ""
                ),
            })  # fmt: skip
    return rows


def mediapipe_detections(regressors: np.ndarray, classificators: np.ndarray) -> np.ndarray:
    """MediaPipe's post-processing of LiteRT's raw outputs, written apart from the graph's.

    Returns [N, 5] rows (x1, y1, x2, y2 in input pixels, score): sigmoid scores over
    MIN_SCORE, then weighted NMS (each kept face averages the boxes that overlap it by more
    than MIN_SUPPRESSION_IOU, weighted by score), as TensorsToDetections and
    NonMaxSuppression(algorithm WEIGHTED) do.
    """
    raw = regressors.reshape(-1, 16)[:, :4] / BOX_SCALE
    centre = anchors() + raw[:, :2]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1) * SIZE
    logits = np.clip(classificators.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1 / (1 + np.exp(-logits))
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= SCORE_THRESHOLD]
    faces = []
    while order:
        best = order[0]
        overlapping = [i for i in order if _iou(boxes[best], boxes[i]) > MIN_SUPPRESSION_IOU]
        weights = scores[overlapping][:, np.newaxis]
        merged = (boxes[overlapping] * weights).sum(axis=0) / weights.sum()
        faces.append([*np.clip(merged, 0, SIZE), scores[best]])
        order = [i for i in order if i not in overlapping]
    return np.array(faces, dtype=np.float32).reshape(-1, 5)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def verify_detections(
    tflite_path: Path, model: onnx.ModelProto, images: dict[str, np.ndarray]
) -> list[dict]:
    """Faces from the served graph against MediaPipe's post-processing of LiteRT's outputs."""
    session = ort.InferenceSession(model.SerializeToString())
    rows = []
    for name, image in images.items():
        placed, _ = fit_array(image, IMAGE)
        reference = mediapipe_detections(**run_tflite(tflite_path, {"input": model_input(image)}))
        boxes, scores, _ = session.run(["boxes", "scores", "labels"], {"image": placed})
        ours = np.concatenate([boxes, scores[:, np.newaxis]], axis=1)[scores >= SCORE_THRESHOLD]
        pairs = list(zip(reference, ours))
        rows.append({
            "photo": name,
            "faces (MediaPipe-style / ours)": f"{len(reference)} / {len(ours)}",
            "lowest box IoU": min((float(_iou(a, b)) for a, b in pairs), default=None),
            "max score diff": max((float(abs(a[4] - b[4])) for a, b in pairs), default=None),
        })  # fmt: skip
    return rows


def detect(session: ort.InferenceSession, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces in a photo as the server finds them: boxes in photo pixels, scores (>= 0.5)."""
    placed, placement = fit_array(image, IMAGE)
    boxes, scores, _ = session.run(["boxes", "scores", "labels"], {"image": placed})
    keep = scores >= SCORE_THRESHOLD
    return placement.boxes_to_original(boxes[keep]), scores[keep]


def write_samples(session: ort.InferenceSession, samples_dir: Path) -> dict:
    """The sample photos (downscaled JPEGs) and expected.json with faces found in each."""
    expected = {"model": NAME, "task": "detection", "score_threshold": SCORE_THRESHOLD,
                "box_iou_at_least": 0.5, "images": {}}  # fmt: skip
    for name, faces in SAMPLES.items():
        saved = save_sample(photo(name), samples_dir / f"{name}.jpg")
        boxes, scores = detect(session, saved)
        if len(boxes) != faces:
            raise RuntimeError(f"{name}: expected {faces} face(s), the model found {len(boxes)}")
        expected["images"][f"{name}.jpg"] = {
            "faces": faces,
            "boxes": [[round(float(v), 1) for v in box] for box in boxes],
            "scores": [round(float(s), 3) for s in scores],
            **photo_size(saved),
        }
    return write_expected(samples_dir, expected)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write exported_models-style `out_dir/blazeface_faces` and `out_dir/samples/...`.

    Import takes seconds, so `quick` changes nothing.
    """
    out_dir = Path(out_dir)
    tflite_path = mediapipe_file(FACE_DETECTION_SHORT_RANGE)
    graph = read_tflite(tflite_path)
    model = build_graph(graph)
    images = {name: photo(name) for name in SAMPLES}
    rows = verify_translation(tflite_path, images)
    worst = worst_difference(rows, "LiteRT", TOLERANCE)
    detection_rows = verify_detections(tflite_path, model, images)
    session = ort.InferenceSession(model.SerializeToString())
    expected = write_samples(session, out_dir / "samples" / NAME)
    card = _card(model, graph, rows, detection_rows, expected)
    folder = publish(
        out_dir,
        NAME,
        model,
        metadata=ModelMetadata.build("detection", IMAGE, DetectionThresholds(SCORE_THRESHOLD),
                                     description=DESCRIPTION),
        inputs=[image_tensor(IMAGE)],
        outputs=detection_outputs(),
        max_batch_size=0,
        labels=["face"],
        files={
            "LICENSE": mediapipe_file(LICENSE),
            "verification.json": json_text({"raw_outputs": rows, "detections": detection_rows}),
        },
        card=card,
    )
    log.info("worst raw difference against LiteRT: %.3g", worst)
    return folder


def _card(
    model: onnx.ModelProto,
    graph: TfliteGraph,
    rows: list[dict],
    detection_rows: list[dict],
    expected: dict,
) -> str:
    facts = onnx_facts(model)
    found = ", ".join(
        f"{name}: {info['faces']} face(s)" for name, info in expected["images"].items()
    )
    card = ModelCard(
        title=f"{NAME}: BlazeFace short-range face detector",
        description=(
            "Finds faces (boxes and scores) in photos where faces are fairly large and frontal: "
            "selfies and portraits within about 2 m of the camera. Input 128x128, letterboxed."
        ),
        source=(
            "MediaPipe `face_detection_short_range.tflite` from the `mediapipe==0.10.21` wheel "
            "on PyPI (Google), translated op by op to ONNX by toolchain/tflite; anchors, box "
            "decoding and suppression as MediaPipe's FaceDetectionShortRange graph sets them"
        ),
        license="Apache-2.0 (MediaPipe; LICENSE beside this card)",
        training="pretrained by Google (BlazeFace, arXiv:1907.05047); not retrained here",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics={"sample photos (downscaled JPEGs)": found},
        notes=(
            "- Pre-processing in the graph: uint8 RGB -> [-1, 1]. The server letterboxes with "
            "0, which is MediaPipe's BORDER_ZERO.\n"
            "- Suppression is plain greedy NMS (IoU 0.3) inside the graph; MediaPipe uses "
            "weighted NMS (overlapping boxes averaged), so boxes can differ by a few pixels. "
            f"The graph keeps scores >= {GRAPH_SCORE_FLOOR}; the server's default threshold is "
            f"{SCORE_THRESHOLD} (`score_threshold`).\n"
            "- The six face keypoints the network also predicts are not output.\n"
            "- Not good for: small or distant faces (full-range model needed), strong profiles, "
            "face recognition or attributes; one class only."
        ),
    ).render()
    ops = ", ".join(f"{kind} x{count}" for kind, count in sorted(graph.op_counts.items()))
    lines = [
        "",
        "## Verification against the TFLite original (LiteRT, ai-edge-litert)",
        "",
        "Raw network outputs of our ONNX translation (onnxruntime) against LiteRT running the "
        f"original file, on the sample photos (as MediaPipe prepares them) and on noise. "
        f"Tolerance {TOLERANCE}. Operators in the TFLite file: {ops} (DEQUANTIZE of float16 "
        "weights is folded into float32 constants).",
        "",
        "| input | output | max abs diff | max abs value | anchors above 0.5 (TFLite / ONNX) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['input']} | {r['output']} | {r['max abs diff']:.2e} | {r['max abs value']:.3g} "
        f"| {r['anchors above 0.5 (TFLite / ONNX)']} |"
        for r in rows
    ]
    lines += [
        "",
        "Faces found by the served graph (greedy NMS) against MediaPipe's post-processing "
        "(score >= 0.5, weighted NMS), written separately in numpy, on LiteRT's raw outputs "
        "for the full-size photos:",
        "",
        "| photo | faces (MediaPipe-style / ours) | lowest box IoU | max score diff |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['photo']} | {r['faces (MediaPipe-style / ours)']} "
        f"| {_number(r['lowest box IoU'], '.3f')} | {_number(r['max score diff'], '.1e')} |"
        for r in detection_rows
    ]
    return card + "\n".join(lines) + "\n"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
