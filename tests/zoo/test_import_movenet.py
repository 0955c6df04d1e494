"""MoveNet through toolchain/tfjs: the operators its decoding needs, each against its numpy twin,
and both translated graphs against TF.js in node on a real photo.

Tests that need the original files or TF.js skip, saying why, when npm cannot fetch them.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from tests.zoo.test_import_tfjs import original_or_skip
from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs import TfjsGraph, read_tfjs, run_tfjs, translate
from toolchain.tfjs.converter import FOLDERS
from toolchain.tfjs.reader import Node
from toolchain.tflite.photos import photo
from toolchain.zoo import import_movenet


def _run_one_op(op: str, data: np.ndarray, constants: list[np.ndarray], attr: dict) -> np.ndarray:
    """One TF node on a graph input `data` and constant operands, translated and run."""
    names = [f"c{i}" for i in range(len(constants))]
    nodes = {"x": Node("x", "Placeholder", [], {})}
    nodes.update({name: Node(name, "Const", [], {}) for name in names})
    nodes["op"] = Node("op", op, [("x", 0)] + [(name, 0) for name in names], attr)
    graph = TfjsGraph(nodes, dict(zip(names, constants)), ["x"], ["op"])
    b = GraphBuilder("one_op")
    x = b.input("x", data.dtype.type, list(data.shape))
    (out,) = translate(graph, b, {"x": x}, ["op"]).values()
    shape = list(_fold(op, data, constants, attr).shape)  # numpy's answer sets the shape
    b.output(out, "y", data.dtype.type, shape)
    return ort.InferenceSession(b.model().SerializeToString()).run(None, {"x": data})[0]


def _fold(op: str, data: np.ndarray, constants: list[np.ndarray], attr: dict) -> np.ndarray:
    return FOLDERS[op](Node("op", op, [], attr), [data, *constants])[0]


@pytest.mark.parametrize("masks", [
    {"shrink_axis_mask": {"i": "1"}},
    {"begin_mask": {"i": "3"}, "end_mask": {"i": "3"}, "new_axis_mask": {"i": "4"}},
    {"begin_mask": {"i": "5"}, "end_mask": {"i": "1"}, "new_axis_mask": {"i": "2"}},
])
def test_strided_slice_masks_translate_as_numpy_slices(masks):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    spec = [np.array([1, 0, 1], np.int32), np.array([2, 0, 4], np.int32),
            np.array([1, 1, 1], np.int32)]
    ours = _run_one_op("StridedSlice", data, spec, masks)
    expected = _fold("StridedSlice", data, spec, masks)
    assert ours.shape == expected.shape and np.array_equal(ours, expected)


def test_floor_division_of_negative_integers_floors_as_tensorflow():
    data = np.array([[-7, -6, -1, 0, 5, 7]], np.int32)
    divisor = [np.array(3, np.int32)]
    ours = _run_one_op("FloorDiv", data, divisor, {"T": {"type": "DT_INT32"}})
    assert ours.tolist() == np.floor_divide(data, 3).tolist() == [[-3, -2, -1, 0, 1, 2]]


def test_unpack_and_pack_round_trip():
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    nodes = {
        "x": Node("x", "Placeholder", [], {}),
        "parts": Node("parts", "Unpack", [("x", 0)], {"num": {"i": "3"}, "axis": {"i": "0"}}),
        "back": Node("back", "Pack", [("parts", 2), ("parts", 0), ("parts", 1)],
                     {"axis": {"i": "1"}}),
    }
    graph = TfjsGraph(nodes, {}, ["x"], ["back"])
    b = GraphBuilder("pack")
    x = b.input("x", np.float32, [3, 4])
    (out,) = translate(graph, b, {"x": x}, ["back"]).values()
    b.output(out, "y", np.float32, [4, 3])
    ours = ort.InferenceSession(b.model().SerializeToString()).run(None, {"x": data})[0]
    assert np.array_equal(ours, np.stack([data[2], data[0], data[1]], axis=1))


@pytest.mark.parametrize("variant", [import_movenet.LIGHTNING, import_movenet.MULTIPOSE],
                         ids=lambda v: v.name)
def test_translated_movenet_matches_tfjs_on_a_photo(variant):
    model_json = original_or_skip(variant.source_model)
    graph = read_tfjs(model_json)
    session = ort.InferenceSession(
        import_movenet.raw_network(graph, variant).SerializeToString())
    image = import_movenet.model_input(photo("grace_hopper"), variant)
    ours = session.run(None, {"x": image})[0]
    theirs = next(iter(run_tfjs(model_json, {graph.inputs[0]: image}, graph.outputs).values()))
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < import_movenet.TOLERANCE
    nose_score = theirs.reshape(-1)[2]  # first person's nose: (y, x, score)
    assert nose_score > 0.3  # a person is there
