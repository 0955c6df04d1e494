"""Tiny deterministic ONNX models built in the tests, saved in Triton's layout."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from toolchain.graphs import IR_VERSION as IR_VERSION
from toolchain.graphs import OPSET as OPSET
from toolchain.graphs import graph, tensor
from toolchain.graphs import save as save


def scale_model(elem_type: int = TensorProto.FLOAT, width: int = 4,
                factor: float = 2.0) -> onnx.ModelProto:
    """y = x * factor (cast to x's type), x of shape [batch, width], batch dynamic."""
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.DOUBLE),
        helper.make_node("Mul", ["xf", "factor"], ["yf"]),
        helper.make_node("Cast", ["yf"], ["y"], to=elem_type),
    ]
    factor_init = helper.make_tensor("factor", TensorProto.DOUBLE, [], [factor])
    return graph(nodes, [tensor("x", elem_type, ["batch", width])],
                 [tensor("y", elem_type, ["batch", width])], [factor_init])


def add_sub_model() -> onnx.ModelProto:
    """Two FP32 inputs a, b [batch, 16] -> sum = a + b, diff = a - b (the Triton classic)."""
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Sub", ["a", "b"], ["diff"])]
    fp32 = TensorProto.FLOAT
    shape = ["batch", 16]
    return graph(nodes, [tensor("a", fp32, shape), tensor("b", fp32, shape)],
                 [tensor("sum", fp32, shape), tensor("diff", fp32, shape)])


def echo_bytes_model() -> onnx.ModelProto:
    """BYTES in, BYTES out: text [batch, 2] -> echo, the same strings."""
    nodes = [helper.make_node("Identity", ["text"], ["echo"])]
    return graph(nodes, [tensor("text", TensorProto.STRING, ["batch", 2])],
                 [tensor("echo", TensorProto.STRING, ["batch", 2])])


def slow_model(width: int = 1024, rows: int = 64, depth: int = 24) -> onnx.ModelProto:
    """x [batch, rows, width] FP32 -> y: `depth` chained MatMuls, slow enough to queue behind
    (each MatMul about 0.1 ms per item on an idle 2-core machine: choose `depth`)."""
    import numpy as np

    weight = helper.make_tensor("w", TensorProto.FLOAT, [width, width],
                                (np.eye(width, dtype=np.float32)).reshape(-1).tolist())
    nodes, previous = [], "x"
    for index in range(depth):
        out = "y" if index == depth - 1 else f"h{index}"
        nodes.append(helper.make_node("MatMul", [previous, "w"], [out]))
        previous = out
    shape = ["batch", rows, width]
    return graph(nodes, [tensor("x", TensorProto.FLOAT, shape)],
                 [tensor("y", TensorProto.FLOAT, shape)], [weight])


def reshape_model() -> onnx.ModelProto:
    """x FP32 [6], shape INT64 [2] -> y = reshape(x, shape): a bad shape fails at run time."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"])]
    return graph(nodes, [tensor("x", TensorProto.FLOAT, [6]),
                         tensor("shape", TensorProto.INT64, [2])],
                 [tensor("y", TensorProto.FLOAT, ["r", "c"])])


def pairs_model() -> onnx.ModelProto:
    """x [batch, n] -> y = even + odd elements [batch, n / 2]: runs only on an even n, as a
    detector whose sides must be multiples of 32 runs only on some sizes (ONNX Runtime fails
    to broadcast the two halves of an odd row)."""
    ints = TensorProto.INT64
    nodes = [
        helper.make_node("Slice", ["x", "start0", "end", "axis", "step"], ["even"]),
        helper.make_node("Slice", ["x", "start1", "end", "axis", "step"], ["odd"]),
        helper.make_node("Add", ["even", "odd"], ["y"]),
    ]
    constants = [helper.make_tensor(name, ints, [1], [value]) for name, value in (
        ("start0", 0), ("start1", 1), ("end", 1 << 30), ("axis", 1), ("step", 2))]
    return graph(nodes, [tensor("x", TensorProto.FLOAT, ["batch", "n"])],
                 [tensor("y", TensorProto.FLOAT, ["batch", "half"])], constants)
