"""Import MediaPipe's selfie segmentation model (Apache-2.0) as `selfie_segmenter`.

The TFLite file comes from the mediapipe 0.10.21 wheel; our importer (toolchain/tflite)
translates it op by op into ONNX (HARD_SWISH and MediaPipe's custom
Convolution2DTransposeBias included). The served graph takes uint8 images, scales them to
[0, 1] as MediaPipe's SelfieSegmentation graph does, and thresholds the person probability at
0.5 into a class map (0 background, 1 person). Verified against LiteRT running the original.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from contract.imaging import fit_array
from contract.metadata import ImageInput, ModelMetadata
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.tflite import TfliteGraph, read_tflite, tflite_to_onnx, translate
from toolchain.tflite.mediapipe import LICENSE, SELFIE_SEGMENTATION, mediapipe_file
from toolchain.tflite.photos import photo, save_sample
from toolchain.tflite.reference import run_tflite
from toolchain.zoo._publish import (
    image_tensor,
    json_text,
    photo_size,
    publish,
    worst_difference,
    write_expected,
)

log = logging.getLogger(__name__)

NAME = "selfie_segmenter"
DESCRIPTION = "MediaPipe selfie segmentation (Apache-2.0): person vs background, 256x256"

SIZE = 256
IMAGE = ImageInput((SIZE, SIZE), resize="stretch")  # stretched, as the server fits photos
THRESHOLD = 0.5
MAX_BATCH_SIZE = 8
LABELS = ["background", "person"]
SAMPLES = ("astronaut", "grace_hopper")  # photos with a person
VERIFY_PHOTOS = ("astronaut", "grace_hopper", "coffee", "chelsea")
SHARE_MARGIN = 0.1  # expected person share: measured +- this
TOLERANCE = 1e-3  # max abs difference of the person probability against LiteRT


def build_graph(graph: TfliteGraph) -> onnx.ModelProto:
    """image UINT8 [B, 256, 256, 3] -> class_map UINT8 [B, 256, 256] (1 where person > 0.5)."""
    b = GraphBuilder(NAME)
    image = b.input("image", np.uint8, ["batch", SIZE, SIZE, 3])
    scaled = b.op("Mul", b.op("Cast", image, to=1), b.const(np.float32(1 / 255)))
    (probability,) = translate(graph, b, {graph.inputs[0]: scaled}).values()  # [B, H, W, 1]
    person = b.op("Squeeze", probability, b.const(np.array([3], np.int64)))
    is_person = b.op("Greater", person, b.const(np.float32(THRESHOLD)))
    b.output(b.op("Cast", is_person, to=2), "class_map", np.uint8, ["batch", SIZE, SIZE])
    return b.model(doc=DESCRIPTION)


def model_input(image: np.ndarray) -> np.ndarray:
    """What MediaPipe feeds the network: stretched to 256x256, scaled to [0, 1], batch 1."""
    return (fit_array(image, IMAGE)[0].astype(np.float32) / 255)[np.newaxis]


def verify_translation(tflite_path: Path, images: dict[str, np.ndarray]) -> list[dict]:
    """Person probability of our ONNX translation against LiteRT, and mask disagreement."""
    graph = read_tflite(tflite_path)
    session = ort.InferenceSession(tflite_to_onnx(graph, "raw").SerializeToString())
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    inputs = {name: model_input(image) for name, image in images.items()}
    inputs["uniform noise"] = np.random.default_rng(0).random((1, SIZE, SIZE, 3), np.float32)
    rows = []
    for name, array in inputs.items():
        reference = run_tflite(tflite_path, {input_name: array})[output_name]
        ours = session.run(None, {input_name: array})[0]
        rows.append({
            "input": name,
            "max abs diff": float(np.abs(ours - reference).max()),
            "person share (TFLite)": float((reference > THRESHOLD).mean()),
            "pixels whose class differs": int(((ours > THRESHOLD) ^ (reference > THRESHOLD)).sum()),
        })  # fmt: skip
    return rows


def person_share(session: ort.InferenceSession, image: np.ndarray) -> float:
    """Share of the photo's pixels the served graph calls person (server-style stretch)."""
    class_map = session.run(["class_map"], {"image": fit_array(image, IMAGE)[0][np.newaxis]})[0]
    return float(class_map.mean())


def write_samples(session: ort.InferenceSession, samples_dir: Path) -> dict:
    """Sample photos (downscaled JPEGs) and expected.json with the person share range."""
    expected = {"model": NAME, "task": "segmentation", "labels": LABELS, "images": {}}
    for name in SAMPLES:
        saved = save_sample(photo(name), samples_dir / f"{name}.jpg")
        share = person_share(session, saved)
        expected["images"][f"{name}.jpg"] = {
            "person_share": round(share, 4),
            "person_share_range": [
                round(max(0.0, share - SHARE_MARGIN), 3),
                round(min(1.0, share + SHARE_MARGIN), 3),
            ],
            **photo_size(saved),
        }
    return write_expected(samples_dir, expected)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write exported_models-style `out_dir/selfie_segmenter` and `out_dir/samples/...`.

    Import takes seconds, so `quick` changes nothing.
    """
    out_dir = Path(out_dir)
    tflite_path = mediapipe_file(SELFIE_SEGMENTATION)
    graph = read_tflite(tflite_path)
    model = build_graph(graph)
    rows = verify_translation(tflite_path, {name: photo(name) for name in VERIFY_PHOTOS})
    worst = worst_difference(rows, "LiteRT", TOLERANCE)
    session = ort.InferenceSession(model.SerializeToString())
    expected = write_samples(session, out_dir / "samples" / NAME)
    folder = publish(
        out_dir,
        NAME,
        model,
        metadata=ModelMetadata.build("segmentation", IMAGE, description=DESCRIPTION),
        inputs=[image_tensor(IMAGE)],
        outputs=[TensorSpec("class_map", "UINT8", [SIZE, SIZE], label_filename="labels.txt")],
        max_batch_size=MAX_BATCH_SIZE,
        labels=LABELS,
        files={"LICENSE": mediapipe_file(LICENSE), "verification.json": json_text(rows)},
        card=_card(model, graph, rows, expected),
    )
    log.info("worst probability difference against LiteRT: %.3g", worst)
    return folder


def _card(model: onnx.ModelProto, graph: TfliteGraph, rows: list[dict], expected: dict) -> str:
    facts = onnx_facts(model)
    shares = ", ".join(
        f"{name}: {info['person_share']:.1%}" for name, info in expected["images"].items()
    )
    card = ModelCard(
        title=f"{NAME}: MediaPipe selfie segmentation",
        description=(
            "Separates a person from the background (class map: 0 background, 1 person). "
            "Made for selfies and video calls: one or two people close to the camera."
        ),
        source=(
            "MediaPipe `selfie_segmentation.tflite` (general model, 256x256) from the "
            "`mediapipe==0.10.21` wheel on PyPI (Google), translated op by op to ONNX by "
            "toolchain/tflite; pre-processing as MediaPipe's SelfieSegmentation graph "
            "(stretch to 256x256, [0, 1])"
        ),
        license="Apache-2.0 (MediaPipe; LICENSE beside this card)",
        training="pretrained by Google (MobileNetV3-style encoder-decoder); not retrained here",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics={"person share on the sample photos": shares},
        notes=(
            f"- The graph thresholds the person probability at {THRESHOLD}; the soft mask "
            "(useful for blending) is not output.\n"
            "- The mask is 256x256; the server stretches it back to the photo's size, so edges "
            "are coarse on large photos.\n"
            "- Not good for: people far from the camera or many people, telling people apart "
            "(no instances), any class other than person; it was trained on selfie-like "
            "images and calls much else 'person' too: in the verification table below the "
            "coffee cup photo comes out partly person and the cat photo (chelsea) mostly person."
        ),
    ).render()
    ops = ", ".join(f"{kind} x{count}" for kind, count in sorted(graph.op_counts.items()))
    lines = [
        "",
        "## Verification against the TFLite original (LiteRT, ai-edge-litert)",
        "",
        "Person probability from our ONNX translation (onnxruntime) against LiteRT running the "
        "original file, on photos prepared as MediaPipe does and on noise; then how many of the "
        f"65,536 pixels change class at {THRESHOLD}. Tolerance {TOLERANCE}. Operators in the "
        f"TFLite file: {ops} (DEQUANTIZE of float16 weights is folded into float32 constants).",
        "",
        "| input | max abs diff | person share (TFLite) | pixels whose class differs |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['input']} | {r['max abs diff']:.2e} | {r['person share (TFLite)']:.1%} "
        f"| {r['pixels whose class differs']} |"
        for r in rows
    ]
    return card + "\n".join(lines) + "\n"
