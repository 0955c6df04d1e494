"""fp16 and int8 variants of an exported classifier, each written as a sibling model folder.

- `<name>_fp16`: float16 weights and arithmetic, float32 inputs/outputs kept (for GPUs; no
  speed-up on CPUs). Verified against PyTorch with its own tolerance.
- `<name>_int8`: ONNX Runtime static quantisation (QDQ, uint8 activations, int8 per-channel
  weights), calibrated on the user's images. Verified by top-1 agreement and cosine similarity
  with the PyTorch model on those images.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from PIL import Image
from tqdm import tqdm

from contract.imaging import fit, for_input
from contract.metadata import ImageInput, parse_metadata
from toolchain.architectures import BuildOptions, Component, ExportError, get
from toolchain.exporter import (
    VERIFICATION_FILE,
    VerificationError,
    build_components,
    compare,
    latest_model_file,
    run_onnx,
    run_torch,
)
from toolchain.model_folder import ModelCard, onnx_facts, write_model_folder

log = logging.getLogger(__name__)

FP16_TOLERANCE = 5e-3  # max abs difference of probabilities
INT8_MIN_TOP1_AGREEMENT = 0.9
INT8_MIN_COSINE = 0.98
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
MAX_CALIBRATION_IMAGES = 256


def write_variants(
    folder: Path, *, fp16: bool, int8: bool, calibration: Path | None, overwrite: bool = False
) -> list[Path]:
    """Write the requested variants of the exported model in `folder`; returns their folders."""
    if not (fp16 or int8):
        return []
    record, component = _source(folder)
    if component.parameters.get("task") != "classification":
        raise ExportError("--fp16 and --int8 are available for classification models only")
    model = onnx.load_model(str(latest_model_file(folder)))
    written = []
    if fp16:
        written.append(write_fp16(folder, record, component, model, overwrite))
    if int8:
        if calibration is None:
            raise ExportError("--int8 needs --calibration DIR: a folder of typical input images")
        written.append(write_int8(folder, record, component, model, calibration, overwrite))
    return written


def write_fp16(
    folder: Path, record: dict, component: Component, model: onnx.ModelProto, overwrite: bool
) -> Path:
    """Convert to float16 (inputs and outputs stay as they are), verify, write `<name>_fp16`."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    half = convert_float_to_float16(model, keep_io_types=True)
    checks = fp16_checks(component, half, np.random.default_rng(record["seed"] + 3))
    return _write_variant(folder, "fp16", record, component, half, checks, overwrite)


def fp16_checks(component: Component, half: onnx.ModelProto | Path, rng) -> list[dict]:
    """Max abs difference with PyTorch (fp32) within FP16_TOLERANCE, or VerificationError."""
    inputs = component.make_inputs("verify", rng)
    checks = compare(component, run_torch(component, inputs), run_onnx(half, inputs))
    for check in checks:
        check["tolerance"] = FP16_TOLERANCE
        check["passed"] = check["metric"] == "max_abs_diff" and check["value"] <= FP16_TOLERANCE
    _raise_on_failure("fp16", checks)
    return checks


def verify_fp16(folder: Path, record: dict) -> list[dict]:
    """`verify` of an fp16 folder: rebuild the source model and compare again."""
    options = BuildOptions(**record["options"])
    (component,) = build_components(get(record["architecture"]), options, record["seed"])
    rng = np.random.default_rng(record["seed"] + 4)
    return fp16_checks(component, latest_model_file(Path(folder)), rng)


def write_int8(
    folder: Path,
    record: dict,
    component: Component,
    model: onnx.ModelProto,
    calibration: Path,
    overwrite: bool,
) -> Path:
    """Static QDQ quantisation calibrated on `calibration` images, verified, `<name>_int8`."""
    images = load_images(calibration, served_image(component))
    quantized = quantize_int8(model, images)
    checks = [agreement_check(component, quantized, images)]
    _raise_on_failure("int8", checks)
    return _write_variant(folder, "int8", record, component, quantized, checks, overwrite)


def quantize_int8(model: onnx.ModelProto, images: np.ndarray) -> onnx.ModelProto:
    """uint8 activations, int8 per-channel weights (the fast combination on AVX2 CPUs)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(tqdm(images, desc="calibrate int8", unit="image"))

        def get_next(self) -> dict | None:
            image = next(self.batches, None)
            return None if image is None else {"image": image[None]}

    with tempfile.TemporaryDirectory() as work:
        source, prepared, target = (Path(work) / f"{n}.onnx" for n in ("src", "pre", "int8"))
        onnx.save_model(model, str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        return onnx.load_model(str(target))


def agreement_check(component: Component, quantized: onnx.ModelProto, images: np.ndarray) -> dict:
    """Top-1 agreement and mean cosine similarity of probabilities with PyTorch."""
    expected = run_torch(component, {"image": images})["probabilities"]
    actual = run_onnx(quantized, {"image": images})["probabilities"]
    top1 = float(np.mean(expected.argmax(axis=1) == actual.argmax(axis=1)))
    cosine = np.sum(expected * actual, axis=1) / (
        np.linalg.norm(expected, axis=1) * np.linalg.norm(actual, axis=1) + 1e-12
    )
    return {
        "output": "probabilities",
        "metric": "top1_agreement / mean_cosine",
        "value": f"{top1:.3f} / {float(np.mean(cosine)):.4f}",
        "tolerance": f">= {INT8_MIN_TOP1_AGREEMENT} / >= {INT8_MIN_COSINE}",
        "inputs": f"{len(images)} calibration images",
        "top1_agreement": top1,
        "mean_cosine": float(np.mean(cosine)),
        "passed": top1 >= INT8_MIN_TOP1_AGREEMENT and float(np.mean(cosine)) >= INT8_MIN_COSINE,
    }


def served_image(component: Component) -> ImageInput:
    """How the server fits an image into the component's `image` input (its metadata)."""
    metadata = parse_metadata(component.parameters).section(ImageInput)
    return for_input(metadata, tuple(component.inputs[0].dims))


def load_images(folder: Path, image: ImageInput) -> np.ndarray:
    """The folder's images fitted as the server fits them (contract/imaging.py), uint8 NHWC."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ExportError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    mode = "L" if image.channels == 1 else "RGB"
    arrays = []
    for file in files[:MAX_CALIBRATION_IMAGES]:
        with Image.open(file) as picture:
            arrays.append(fit(picture.convert(mode), image)[0])
    return np.stack(arrays)


def _source(folder: Path) -> tuple[dict, Component]:
    record_file = Path(folder) / VERIFICATION_FILE
    if not record_file.is_file():
        raise ExportError(f"{folder} was not exported by this toolchain (no {VERIFICATION_FILE})")
    record = json.loads(record_file.read_text())
    options = BuildOptions(**record["options"])
    components = build_components(get(record["architecture"]), options, record["seed"])
    if len(components) != 1:
        raise ExportError("variants are written for single-graph models only")
    return record, components[0]


def _raise_on_failure(variant: str, checks: list[dict]) -> None:
    failed = [c for c in checks if not c["passed"]]
    if failed:
        details = "; ".join(f"{c['metric']} {c['value']} (needs {c['tolerance']})" for c in failed)
        raise VerificationError(f"the {variant} variant drifts from PyTorch: {details}")


def _write_variant(
    folder: Path,
    variant: str,
    record: dict,
    component: Component,
    model: onnx.ModelProto,
    checks: list[dict],
    overwrite: bool,
) -> Path:
    name = f"{Path(folder).name}_{variant}"
    parameters = dict(component.parameters)
    parameters["description"] = f"{parameters.get('description', '')} ({variant})".strip()
    facts = onnx_facts(model)
    variant_record = dict(record, variant=variant, source_model=Path(folder).name, checks=checks)
    card = ModelCard(
        title=name,
        description=f"The {variant} variant of {Path(folder).name}; see its MODEL_CARD.md.",
        source=f"{Path(folder).name}, converted by `python -m toolchain export --{variant}`",
        license=get(record["architecture"]).license,
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        verification=[{k: v for k, v in c.items() if k != "passed"} for c in checks],
        notes=VARIANT_NOTES[variant],
    )
    return write_model_folder(
        Path(folder).parent,
        name,
        model,
        inputs=component.inputs,
        outputs=component.outputs,
        max_batch_size=component.max_batch_size,
        parameters=parameters,
        labels=component.labels,
        files={VERIFICATION_FILE: json.dumps(variant_record, indent=2, default=str) + "\n"},
        card=card,
        overwrite=overwrite,
    )


VARIANT_NOTES = {
    "fp16": "Float16 weights and arithmetic for GPUs (CUDA execution provider); inputs and "
    "outputs keep their types. No speed-up on CPUs.",
    "int8": "Static quantisation with ONNX Runtime: QDQ format, uint8 activations, int8 "
    "per-channel weights, calibrated on the images given. For CPUs.",
}


def float16_storage(model: onnx.ModelProto, min_size: int = 256) -> onnx.ModelProto:
    """The same graph with its large float32 weights stored as float16, each cast back to
    float32 by a Cast node (ONNX Runtime folds the casts when the session loads, so it computes
    in float32 as before): half the bytes on disk, float16 rounding in the weights only."""
    from onnx import helper, numpy_helper

    stored = onnx.ModelProto()
    stored.CopyFrom(model)
    graph = stored.graph
    casts, kept = [], []
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        if array.dtype != np.float32 or array.size < min_size:
            kept.append(tensor)
            continue
        half_name = f"{tensor.name}__float16"
        kept.append(numpy_helper.from_array(array.astype(np.float16), half_name))
        casts.append(helper.make_node("Cast", [half_name], [tensor.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{tensor.name}__cast"))  # fmt: skip
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(stored)
    return stored
