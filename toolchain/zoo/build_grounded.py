"""Build `grounded_captioner` and `grounded_vqa`: captions and answers composed from real models.

No captioning or VQA weights trained on photos can be had here, so these two models compose
their output from what served models see: the COCO detector's objects (counts, positions),
the pose model's main person, the text reader's lines, and colours. Their own graph is the
colour namer: every pixel of the image (stretched to SIZE x SIZE) gets one of the basic
colour names below by a lookup table over RGB quantised to 32 levels a channel, and the
graph returns, for each region asked (x1, y1, x2, y2 as fractions of the width and height),
the share of its pixels of each colour. The server (service/tasks/grounding.py) asks for
the whole image and the middle of each object's box.

Colour rules, on hue h (degrees), saturation s and value v (0..1) of the bin's centre:
black v < 0.2; white s < 0.2 and v > 0.8; grey s < 0.2; brown 8 <= h < 45 and v < 0.6;
pink: red or purple hue with s < 0.5 and v > 0.7, or 310 <= h < 340; red h < 10 or
h >= 340; orange h < 40; yellow h < 70; green h < 165; blue h < 255; purple h < 310.

`python -m toolchain.zoo.build_grounded --out exported_models` writes both folders.
"""

from __future__ import annotations

import argparse
import colorsys
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from contract.metadata import Grounding, ImageInput, ModelMetadata
from toolchain.graphs import IR_VERSION, OPSET
from toolchain.model_folder import TensorSpec, write_model_folder
from toolchain.zoo._publish import image_tensor

log = logging.getLogger(__name__)

COLOURS = ["black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple",
           "pink", "brown"]
LEVELS = 32  # quantisation levels per channel of the lookup table
SIZE = 128  # the colour graph's input side
IMAGE = ImageInput((SIZE, SIZE), 3, "stretch")
DETECTOR = "centernet_coco"
POSE = "movenet_lightning"
TEXT = "ppocr_v4"  # built by `make ocr-model`; while it is not served, text is "I can't tell"


def colour_name(red: float, green: float, blue: float) -> str:
    """The basic colour name of an RGB colour (0..1 a channel), by the rules above."""
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    hue *= 360
    if value < 0.2:
        return "black"
    if saturation < 0.2:
        return "white" if value > 0.8 else "grey"
    if 8 <= hue < 45 and value < 0.6:
        return "brown"
    reddish = hue < 10 or hue >= 255
    if (reddish and saturation < 0.5 and value > 0.7) or 310 <= hue < 340:
        return "pink"
    for name, upper in (("red", 10), ("orange", 40), ("yellow", 70), ("green", 165),
                        ("blue", 255), ("purple", 310)):
        if hue < upper:
            return name
    return "red"


def colour_table() -> np.ndarray:
    """[LEVELS**3] uint8: the colour index of each quantised RGB bin (r major, then g, b)."""
    centres = (np.arange(LEVELS) + 0.5) / LEVELS
    return np.array([COLOURS.index(colour_name(r, g, b))
                     for r in centres for g in centres for b in centres], dtype=np.uint8)


def colour_graph() -> onnx.ModelProto:
    """image [SIZE, SIZE, 3] uint8 + regions [R, 4] -> colour_shares [R, len(COLOURS)]."""
    step = 256 // LEVELS
    columns, rows = np.meshgrid((np.arange(SIZE) + 0.5) / SIZE, (np.arange(SIZE) + 0.5) / SIZE)
    constants = {
        "table": colour_table(), "step": np.array(step, np.int32),
        "weights": np.array([LEVELS * LEVELS, LEVELS, 1], np.int32),
        "xs": columns.reshape(-1).astype(np.float32), "ys": rows.reshape(-1).astype(np.float32),
        "last_axis": np.array([2], np.int64), "pixel_axis": np.array([1], np.int64),
        "depth": np.array(len(COLOURS), np.int64), "on_off": np.array([0, 1], np.float32),
        "pixels_shape": np.array([-1], np.int64), "one": np.array(1.0, np.float32),
    }
    nodes = [
        helper.make_node("Cast", ["image"], ["wide"], to=TensorProto.INT32),
        helper.make_node("Div", ["wide", "step"], ["bins"]),
        helper.make_node("Mul", ["bins", "weights"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "last_axis"], ["codes"], keepdims=0),
        helper.make_node("Reshape", ["codes", "pixels_shape"], ["flat_codes"]),
        helper.make_node("Gather", ["table", "flat_codes"], ["names"]),
        helper.make_node("Cast", ["names"], ["names64"], to=TensorProto.INT64),
        helper.make_node("OneHot", ["names64", "depth", "on_off"], ["one_hot"], axis=-1),
        helper.make_node("Split", ["regions"], ["x1", "y1", "x2", "y2"], axis=1),
    ]
    for side, coordinate, op in (("x1", "xs", "GreaterOrEqual"), ("x2", "xs", "Less"),
                                 ("y1", "ys", "GreaterOrEqual"), ("y2", "ys", "Less")):
        nodes += [helper.make_node(op, [coordinate, side], [f"in_{side}_bool"]),
                  helper.make_node("Cast", [f"in_{side}_bool"], [f"in_{side}"],
                                   to=TensorProto.FLOAT)]
    nodes += [
        helper.make_node("Mul", ["in_x1", "in_x2"], ["in_x"]),
        helper.make_node("Mul", ["in_y1", "in_y2"], ["in_y"]),
        helper.make_node("Mul", ["in_x", "in_y"], ["inside"]),  # [R, P]
        helper.make_node("ReduceSum", ["inside", "pixel_axis"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["divisor"]),
        helper.make_node("MatMul", ["inside", "one_hot"], ["pixels_of"]),  # [R, K]
        helper.make_node("Div", ["pixels_of", "divisor"], ["colour_shares"]),
    ]
    graph = helper.make_graph(
        nodes, "grounded_colours",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [SIZE, SIZE, 3]),
         helper.make_tensor_value_info("regions", TensorProto.FLOAT, ["R", 4])],
        [helper.make_tensor_value_info("colour_shares", TensorProto.FLOAT, ["R", len(COLOURS)])],
        [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def grounding(object_score: float = 0.4) -> Grounding:
    """The component models and thresholds both grounded models name."""
    return Grounding(object_detector=DETECTOR, pose_estimator=POSE, text_reader=TEXT,
                     object_score=object_score)


def _parameters(task: str, description: str) -> dict[str, str]:
    """Only the sections a grounded model reads (not the neural decoder's or tokenizer's)."""
    metadata = ModelMetadata.build(task, IMAGE, grounding(), default=True,
                                   description=description)
    read = {"task", "default", "description"} | {
        name for section in (IMAGE, grounding()) for name in section.__dataclass_fields__}
    return {key: value for key, value in metadata.to_parameters().items() if key in read}


MODELS = {
    "grounded_captioner": ("captioning", "Captions composed from what the COCO detector, pose "
                                         "and text models see, with colours (photos)"),
    "grounded_vqa": ("vqa", "Answers from what the COCO detector, pose and text models see, "
                            "with colours, for a stated grammar of questions (photos)"),
}


def build(out_dir: Path) -> list[Path]:
    """Write both grounded model folders into `out_dir` (cards come from their files here)."""
    model = colour_graph()
    folders = []
    for name, (task, description) in MODELS.items():
        card = (Path(__file__).parent / "cards" / f"{name}.md").read_text()
        folders.append(write_model_folder(
            out_dir, name, model, parameters=_parameters(task, description), overwrite=True,
            inputs=[image_tensor(IMAGE), TensorSpec("regions", "FP32", [-1, 4])],
            outputs=[TensorSpec("colour_shares", "FP32", [-1, len(COLOURS)],
                                label_filename="colours.txt")],
            max_batch_size=0, card=card, files={"colours.txt": "\n".join(COLOURS) + "\n"},
        ))
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("exported_models"))
    logging.basicConfig(level=logging.INFO)
    for folder in build(parser.parse_args().out):
        log.info("wrote %s", folder)


if __name__ == "__main__":
    main()
