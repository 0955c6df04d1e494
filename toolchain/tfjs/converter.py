"""Translate a TF.js graph model into ONNX, node by node.

Tensors keep TensorFlow's layout (NHWC images) in the ONNX graph; the few layout-sensitive
operators (convolutions, pooling, resizing) transpose to NCHW and back around themselves, and
ONNX Runtime's transpose optimiser removes the pairs that cancel. Nodes whose inputs are all
constants are computed here with numpy when the operator has a `@folds` function (shape
arithmetic that converters leave behind), so the ONNX graph holds only the network.

Adding an operator: write a function decorated with `@translates("TfOp")` that takes the
`Translation` and the `Node` and returns the ONNX value names of the node's outputs (a list),
and, when it can appear on constants only, a `@folds("TfOp")` numpy twin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import onnx

from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs.reader import Node, TfjsGraph

log = logging.getLogger(__name__)

NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
FLOAT16_STORAGE_MIN_SIZE = 256  # float32 constants exactly representable in float16 are stored so

Value = str | np.ndarray
Translator = Callable[["Translation", Node], list[str]]
Folder = Callable[[Node, list[np.ndarray]], list[np.ndarray]]
TRANSLATORS: dict[str, Translator] = {}
FOLDERS: dict[str, Folder] = {}


class UnsupportedOperator(Exception):
    """The graph uses an operator (or an option of one) the translator does not handle."""


def translates(*ops: str) -> Callable[[Translator], Translator]:
    """Register an ONNX translation for TensorFlow op names."""

    def register(function: Translator) -> Translator:
        for op in ops:
            TRANSLATORS[op] = function
        return function

    return register


def folds(*ops: str) -> Callable[[Folder], Folder]:
    """Register a numpy evaluation used when all of a node's inputs are constants."""

    def register(function: Folder) -> Folder:
        for op in ops:
            FOLDERS[op] = function
        return function

    return register


class Translation:
    """State of one translation: the value (ONNX name or numpy constant) of each tensor."""

    def __init__(self, graph: TfjsGraph, builder: GraphBuilder) -> None:
        self.graph = graph
        self.builder = builder
        self.values: dict[tuple[str, int], Value] = {}

    def constant(self, node: Node, position: int) -> np.ndarray:
        """Input `position` of `node`, which must be a constant (a shape, an axis, ...)."""
        value = self.values[node.inputs[position]]
        if isinstance(value, str):
            raise UnsupportedOperator(
                f"{node.op} {node.name!r}: input {position} must be a constant here"
            )
        return value

    def value(self, node: Node, position: int) -> str:
        """Input `position` of `node` as an ONNX value (constants become initializers)."""
        return self.onnx_value(self.values[node.inputs[position]], node.inputs[position][0])

    def onnx_value(self, value: Value, hint: str) -> str:
        if isinstance(value, str):
            return value
        return self.weight(value, hint)

    def weight(self, array: np.ndarray, hint: str) -> str:
        """A constant; large float32 arrays that float16 holds exactly are stored as float16
        (the TF.js files quantise weights so) and cast back when the session loads."""
        array = np.asarray(array)
        if array.dtype == np.float32 and array.size >= FLOAT16_STORAGE_MIN_SIZE:
            half = array.astype(np.float16)
            if np.array_equal(half.astype(np.float32), array):
                return self.builder.op("Cast", self.builder.const(half, hint), to=1, hint=hint)
        return self.builder.const(array, hint)

    def op(self, op_type: str, *inputs: str, **attributes: object) -> str:
        return self.builder.op(op_type, *inputs, **attributes)

    def nchw(self, value: str) -> str:
        return self.op("Transpose", value, perm=NHWC_TO_NCHW)

    def nhwc(self, value: str) -> str:
        return self.op("Transpose", value, perm=NCHW_TO_NHWC)


def translate(
    graph: TfjsGraph, builder: GraphBuilder, inputs: dict[str, str], outputs: list[str]
) -> dict[str, str]:
    """Add the nodes `outputs` depend on to `builder`.

    `inputs` maps Placeholder names to ONNX values (TensorFlow's layout and dtype); `outputs`
    are tensor names ("node" or "node:k"). Returns the ONNX value of each output.
    """
    translation = Translation(graph, builder)
    for name, value in inputs.items():
        translation.values[(name, 0)] = value
    wanted = [_tensor_ref(name) for name in outputs]
    for name in _execution_order(graph, [node for node, _ in wanted], set(inputs)):
        _translate_node(translation, graph.nodes[name])
    return {
        name: translation.onnx_value(translation.values[ref], ref[0])
        for name, ref in zip(outputs, wanted)
    }


def _tensor_ref(name: str) -> tuple[str, int]:
    node, _, index = name.partition(":")
    return node, int(index) if index else 0


def _execution_order(graph: TfjsGraph, targets: list[str], given: set[str]) -> list[str]:
    """Nodes needed for `targets`, each after its inputs (depth first, no recursion)."""
    order, done, stack = [], set(given), [(name, False) for name in reversed(targets)]
    while stack:
        name, expanded = stack.pop()
        if name in done:
            continue
        if expanded:
            done.add(name)
            order.append(name)
            continue
        if name not in graph.nodes:
            raise UnsupportedOperator(f"tensor {name!r} is used but no node computes it")
        stack.append((name, True))
        stack += [(source, False) for source, _ in graph.nodes[name].inputs if source not in done]
    return order


def _translate_node(t: Translation, node: Node) -> None:
    if node.op == "Const":
        t.values[(node.name, 0)] = t.graph.constants[node.name]
        return
    if node.op == "Placeholder":
        raise UnsupportedOperator(f"graph input {node.name!r} was not given a value")
    inputs = [t.values[ref] for ref in node.inputs]
    if node.op in FOLDERS and all(isinstance(v, np.ndarray) for v in inputs):
        results: list[Value] = list(FOLDERS[node.op](node, inputs))
    else:
        translator = TRANSLATORS.get(node.op)
        if translator is None:
            raise UnsupportedOperator(
                f"TensorFlow op {node.op} ({node.name!r}) has no ONNX translation; "
                f"supported: {sorted(TRANSLATORS)}"
            )
        results = list(translator(t, node))
    for index, value in enumerate(results):
        t.values[(node.name, index)] = value


def _onnx_type(dtype: type) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


# --- structure -------------------------------------------------------------------------------


@translates("Identity", "StopGradient", "Snapshot")
def _identity(t: Translation, node: Node) -> list[str]:
    return [t.value(node, 0)]


@folds("Identity", "StopGradient", "Snapshot")
def _fold_identity(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [inputs[0]]


@translates("Reshape")
def _reshape(t: Translation, node: Node) -> list[str]:
    shape = t.constant(node, 1).astype(np.int64)
    return [t.op("Reshape", t.value(node, 0), t.weight(shape, "shape"))]


@translates("Transpose")
def _transpose(t: Translation, node: Node) -> list[str]:
    return [t.op("Transpose", t.value(node, 0), perm=[int(p) for p in t.constant(node, 1)])]


@translates("ConcatV2")
def _concat(t: Translation, node: Node) -> list[str]:
    axis = int(t.constant(node, len(node.inputs) - 1))
    parts = [t.value(node, i) for i in range(len(node.inputs) - 1)]
    return [t.op("Concat", *parts, axis=axis)]


@folds("ConcatV2")
def _fold_concat(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate(inputs[:-1], axis=int(inputs[-1]))]


@translates("SplitV")
def _split_v(t: Translation, node: Node) -> list[str]:
    sizes = t.constant(node, 1).astype(np.int64)
    axis = int(t.constant(node, 2))
    outputs = t.builder.op_multi(
        "Split", t.value(node, 0), t.weight(sizes, "split"), axis=axis, outputs=len(sizes)
    )
    return outputs


@translates("Split")
def _split(t: Translation, node: Node) -> list[str]:
    axis = int(t.constant(node, 0))
    count = int(node.attribute("num_split"))
    return t.builder.op_multi("Split", t.value(node, 1), axis=axis, outputs=count)


@translates("ExpandDims")
def _expand_dims(t: Translation, node: Node) -> list[str]:
    axis = np.array([int(t.constant(node, 1))], np.int64)
    return [t.op("Unsqueeze", t.value(node, 0), t.weight(axis, "axis"))]


@translates("Squeeze")
def _squeeze(t: Translation, node: Node) -> list[str]:
    axes = node.attribute("squeeze_dims") or []
    if not axes:
        return [t.op("Squeeze", t.value(node, 0))]
    return [t.op("Squeeze", t.value(node, 0), t.weight(np.array(axes, np.int64), "axes"))]


@translates("Pad", "PadV2", "MirrorPad")
def _pad(t: Translation, node: Node) -> list[str]:
    paddings = t.constant(node, 1).astype(np.int64)
    pads = t.weight(np.concatenate([paddings[:, 0], paddings[:, 1]]), "pads")
    if node.op == "MirrorPad":
        mode = node.attribute("mode").lower()
        return [t.op("Pad", t.value(node, 0), pads, mode=mode)]
    inputs = [t.value(node, 0), pads]
    if node.op == "PadV2":
        inputs.append(t.value(node, 2))
    return [t.op("Pad", *inputs)]


@folds("SparseToDense")
def _fold_sparse_to_dense(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    indices, shape, values, default = inputs
    dtype = node.attribute("T", values.dtype)
    dense = np.full(shape.astype(np.int64), default, dtype=dtype)
    indices = np.atleast_2d(indices.T).T.astype(np.int64)  # [N] or [N, rank] -> [N, rank]
    if len(indices):
        dense[tuple(indices.T)] = values
    return [dense]


@translates("Cast")
def _cast(t: Translation, node: Node) -> list[str]:
    return [t.op("Cast", t.value(node, 0), to=_onnx_type(node.attribute("DstT")))]


@folds("Cast")
def _fold_cast(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [inputs[0].astype(node.attribute("DstT"))]


# --- arithmetic ------------------------------------------------------------------------------

BINARY = {
    "Add": ("Add", np.add),
    "AddV2": ("Add", np.add),
    "BiasAdd": ("Add", np.add),
    "Sub": ("Sub", np.subtract),
    "Mul": ("Mul", np.multiply),
    "RealDiv": ("Div", np.divide),
    "Maximum": ("Max", np.maximum),
    "Minimum": ("Min", np.minimum),
}


@translates(*BINARY)
def _binary(t: Translation, node: Node) -> list[str]:
    return [t.op(BINARY[node.op][0], t.value(node, 0), t.value(node, 1))]


@folds(*BINARY)
def _fold_binary(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    result = BINARY[node.op][1](inputs[0], inputs[1])
    return [result.astype(np.result_type(inputs[0], inputs[1]))]


UNARY = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Sqrt": "Sqrt"}


@translates(*UNARY)
def _unary(t: Translation, node: Node) -> list[str]:
    return [t.op(UNARY[node.op], t.value(node, 0))]


@translates("Relu6")
def _relu6(t: Translation, node: Node) -> list[str]:
    return [_activation(t, t.value(node, 0), "Relu6", node)]


@translates("LeakyRelu")
def _leaky_relu(t: Translation, node: Node) -> list[str]:
    return [t.op("LeakyRelu", t.value(node, 0), alpha=float(node.attribute("alpha", 0.2)))]


def _activation(t: Translation, value: str, name: str, node: Node) -> str:
    """A fused or standalone activation by its TensorFlow name."""
    if name == "Relu":
        return t.op("Relu", value)
    if name == "Relu6":
        return t.op("Clip", value, t.weight(np.float32(0), "zero"), t.weight(np.float32(6), "six"))
    if name == "LeakyRelu":
        return t.op("LeakyRelu", value, alpha=float(node.attribute("leakyrelu_alpha", 0.2)))
    if name == "Sigmoid":
        return t.op("Sigmoid", value)
    if name == "Elu":
        return t.op("Elu", value)
    raise UnsupportedOperator(f"{node.op} {node.name!r}: fused activation {name} not supported")


# --- convolution, pooling, resizing (NHWC outside, NCHW inside) ------------------------------


def _spatial(values: list[int] | None, default: int = 1) -> list[int]:
    """[1, h, w, 1] (NHWC attribute lists) -> [h, w]."""
    return [int(v) for v in values[1:3]] if values else [default, default]


def _conv_padding(node: Node) -> dict:
    padding = node.attribute("padding")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "VALID":
        return {"pads": [0, 0, 0, 0]}
    if padding == "EXPLICIT":
        explicit = node.attribute("explicit_paddings")
        (top, bottom), (left, right) = explicit[2:4], explicit[4:6]
        return {"pads": [top, left, bottom, right]}
    raise UnsupportedOperator(f"{node.op} {node.name!r}: padding {padding!r}")


def _check_nhwc(node: Node) -> None:
    data_format = node.attribute("data_format", "NHWC")
    if data_format != "NHWC":
        raise UnsupportedOperator(f"{node.op} {node.name!r}: data_format {data_format}")


@translates("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedDepthwiseConv2dNative")
def _convolution(t: Translation, node: Node) -> list[str]:
    _check_nhwc(node)
    kernel = t.constant(node, 1)  # [H, W, in, out] or depthwise [H, W, in, multiplier]
    depthwise = "Depthwise" in node.op
    if depthwise:
        height, width, channels, multiplier = kernel.shape
        weights = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
        group = channels
    else:
        weights, group = kernel.transpose(3, 2, 0, 1), 1
    inputs = [t.nchw(t.value(node, 0)), t.weight(np.ascontiguousarray(weights), node.name)]
    fused = node.attribute("fused_ops") or []
    if fused and fused[0] == "BiasAdd":
        inputs.append(t.weight(t.constant(node, 2), f"{node.name}/bias"))
        fused = fused[1:]
    elif fused:
        raise UnsupportedOperator(f"{node.op} {node.name!r}: fused ops {fused}")
    conv = t.op(
        "Conv",
        *inputs,
        strides=_spatial(node.attribute("strides")),
        dilations=_spatial(node.attribute("dilations")),
        group=group,
        **_conv_padding(node),
    )
    for activation in fused:
        conv = _activation(t, conv, activation, node)
    return [t.nhwc(conv)]


@translates("MaxPool", "AvgPool")
def _pool(t: Translation, node: Node) -> list[str]:
    _check_nhwc(node)
    pooled = t.op(
        "MaxPool" if node.op == "MaxPool" else "AveragePool",
        t.nchw(t.value(node, 0)),
        kernel_shape=_spatial(node.attribute("ksize")),
        strides=_spatial(node.attribute("strides")),
        **_conv_padding(node),
    )
    return [t.nhwc(pooled)]


@translates("ResizeBilinear", "ResizeNearestNeighbor")
def _resize(t: Translation, node: Node) -> list[str]:
    height, width = (int(v) for v in t.constant(node, 1))
    if node.attribute("align_corners"):
        mode = "align_corners"
    elif node.attribute("half_pixel_centers"):
        mode = "half_pixel" if node.op == "ResizeBilinear" else "tf_half_pixel_for_nn"
    else:
        mode = "asymmetric"
    image = t.nchw(t.value(node, 0))
    batch_and_channels = t.op(
        "Slice",
        t.op("Shape", image),
        t.weight(np.array([0], np.int64), "start"),
        t.weight(np.array([2], np.int64), "end"),
    )
    sizes = t.op(
        "Concat", batch_and_channels, t.weight(np.array([height, width], np.int64), "hw"), axis=0
    )
    extra = {"nearest_mode": "floor"} if node.op == "ResizeNearestNeighbor" else {}
    resized = t.op(
        "Resize",
        image,
        "",
        "",
        sizes,
        mode="linear" if node.op == "ResizeBilinear" else "nearest",
        coordinate_transformation_mode=mode,
        **extra,
    )
    return [t.nhwc(resized)]


@translates("Mean")
def _mean(t: Translation, node: Node) -> list[str]:
    axes = np.atleast_1d(t.constant(node, 1)).astype(np.int64)
    keep = int(bool(node.attribute("keep_dims", False)))
    return [t.op("ReduceMean", t.value(node, 0), axes=axes.tolist(), keepdims=keep)]  # opset 17


# --- packing, indexing and arg-max (MoveNet's keypoint decoding) ------------------------------


@translates("Pack")
def _pack(t: Translation, node: Node) -> list[str]:
    axis = np.array([int(node.attribute("axis", 0))], np.int64)
    parts = [t.op("Unsqueeze", t.value(node, i), t.weight(axis, "axis"))
             for i in range(len(node.inputs))]
    return [t.op("Concat", *parts, axis=int(axis[0]))]


@folds("Pack")
def _fold_pack(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(inputs, axis=int(node.attribute("axis", 0)))]


@translates("Unpack")
def _unpack(t: Translation, node: Node) -> list[str]:
    axis, count = int(node.attribute("axis", 0)), int(node.attribute("num"))
    axes = t.weight(np.array([axis], np.int64), "axis")
    if count == 1:
        return [t.op("Squeeze", t.value(node, 0), axes)]
    parts = t.builder.op_multi("Split", t.value(node, 0), t.weight(np.ones(count, np.int64),
                                                                    "split"),
                               axis=axis, outputs=count)
    return [t.op("Squeeze", part, axes) for part in parts]


@folds("Unpack")
def _fold_unpack(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return list(np.moveaxis(inputs[0], int(node.attribute("axis", 0)), 0))


@translates("ArgMax")
def _arg_max(t: Translation, node: Node) -> list[str]:
    axis = int(t.constant(node, 1))
    index = t.op("ArgMax", t.value(node, 0), axis=axis, keepdims=0)  # int64, first maximum
    dtype = node.attribute("output_type", np.int64)
    return [index if dtype == np.int64 else t.op("Cast", index, to=_onnx_type(dtype))]


@translates("FloorDiv")
def _floor_div(t: Translation, node: Node) -> list[str]:
    a, b = t.value(node, 0), t.value(node, 1)
    dtype = node.attribute("T", np.float32)
    if np.issubdtype(dtype, np.floating):
        return [t.op("Floor", t.op("Div", a, b))]
    # integer Div truncates towards zero; subtracting Python's remainder (fmod=0) first makes
    # the division exact, so the quotient is floored as TensorFlow's for negatives too
    return [t.op("Div", t.op("Sub", a, t.op("Mod", a, b, fmod=0)), b)]


@folds("FloorDiv")
def _fold_floor_div(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.floor_divide(inputs[0], inputs[1])]


@translates("SquaredDifference")
def _squared_difference(t: Translation, node: Node) -> list[str]:
    difference = t.op("Sub", t.value(node, 0), t.value(node, 1))
    return [t.op("Mul", difference, difference)]


@translates("GatherNd")
def _gather_nd(t: Translation, node: Node) -> list[str]:
    indices = t.op("Cast", t.value(node, 1), to=onnx.TensorProto.INT64)
    return [t.op("GatherND", t.value(node, 0), indices)]


# --- shapes, comparisons, reductions, selection (MoveNet MultiPose) ---------------------------


def static_shape(t: Translation, value: str) -> tuple[int, ...]:
    """The shape `value` takes when the graph's inputs have their declared (fixed) shapes,
    found by running the graph built so far on zeros. Shape nodes fold with it, so a model
    translated for one input size holds no shape arithmetic."""
    import onnxruntime as ort

    feeds = {}
    for spec in t.builder.inputs:
        dims = [d.dim_value for d in spec.type.tensor_type.shape.dim]
        if not all(dims):
            raise UnsupportedOperator(f"Shape of {value!r} needs fixed input shapes, not {dims}")
        dtype = onnx.helper.tensor_dtype_to_np_dtype(spec.type.tensor_type.elem_type)
        feeds[spec.name] = np.zeros(dims, dtype)
    probe = onnx.helper.make_graph(t.builder.nodes, "probe", t.builder.inputs,
                                   [onnx.helper.make_empty_tensor_value_info(value)],
                                   t.builder.initializers)
    model = onnx.helper.make_model(probe, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 10)
    session = ort.InferenceSession(model.SerializeToString())
    return tuple(session.run(None, feeds)[0].shape)


@translates("Shape")
def _shape(t: Translation, node: Node) -> list[Value]:
    dtype = node.attribute("out_type", np.int32)
    return [np.array(static_shape(t, t.value(node, 0)), dtype)]


@folds("Shape")
def _fold_shape(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.array(inputs[0].shape, node.attribute("out_type", np.int32))]


@folds("Size")
def _fold_size(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.array(inputs[0].size, node.attribute("out_type", np.int32))]


@folds("Range")
def _fold_range(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    start, limit, delta = inputs
    return [np.arange(start, limit, delta).astype(np.result_type(start, limit, delta))]


@folds("Fill")
def _fold_fill(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full(inputs[0].astype(np.int64), inputs[1], dtype=inputs[1].dtype)]


@folds("Tile")
def _fold_tile(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.tile(inputs[0], inputs[1].astype(np.int64))]


@translates("Tile")
def _tile(t: Translation, node: Node) -> list[str]:
    multiples = t.weight(t.constant(node, 1).astype(np.int64), "multiples")
    return [t.op("Tile", t.value(node, 0), multiples)]


def _slice_plan(node: Node, rank: int, begin: np.ndarray, end: np.ndarray,
                strides: np.ndarray) -> tuple[list[slice], list[int], list[int]]:
    """StridedSlice's spec -> a slice per input axis, the input axes to squeeze (shrunk) and
    the output positions of new axes."""
    if int(node.attribute("ellipsis_mask", 0) or 0):
        raise UnsupportedOperator(f"StridedSlice {node.name!r}: ellipsis_mask is not supported")
    masks = {key: int(node.attribute(key, 0) or 0)
             for key in ("begin_mask", "end_mask", "shrink_axis_mask", "new_axis_mask")}
    slices, squeeze, new_axes = [slice(None)] * rank, [], []
    axis = position = 0
    for i in range(len(begin)):
        if masks["new_axis_mask"] >> i & 1:
            new_axes.append(position)
            position += 1
            continue
        start = None if masks["begin_mask"] >> i & 1 else int(begin[i])
        stop = None if masks["end_mask"] >> i & 1 else int(end[i])
        if masks["shrink_axis_mask"] >> i & 1:
            stop = start + 1 if start != -1 else None
            squeeze.append(axis)
        else:
            position += 1
        slices[axis] = slice(start, stop, int(strides[i]))
        axis += 1
    return slices, squeeze, new_axes


@folds("StridedSlice")
def _fold_strided_slice(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    data, begin, end, strides = inputs
    slices, squeeze, new_axes = _slice_plan(node, data.ndim, begin, end, strides)
    result = np.squeeze(data[tuple(slices)], axis=tuple(squeeze))
    return [np.expand_dims(result, tuple(new_axes)) if new_axes else result]


@translates("StridedSlice")
def _strided_slice(t: Translation, node: Node) -> list[str]:
    rank = len(static_shape(t, t.value(node, 0)))
    begin, end, strides = (t.constant(node, i) for i in (1, 2, 3))
    slices, squeeze, new_axes = _slice_plan(node, rank, begin, end, strides)
    big = np.iinfo(np.int64).max
    starts, ends, axes, steps = [], [], [], []
    for axis, part in enumerate(slices):
        if part == slice(None):
            continue
        step = part.step or 1
        starts.append(part.start if part.start is not None else (0 if step > 0 else -1))
        ends.append(part.stop if part.stop is not None else (big if step > 0 else -big))
        axes.append(axis)
        steps.append(step)
    value = t.value(node, 0)
    if axes:
        value = t.op("Slice", value, *(t.weight(np.array(v, np.int64), "slice")
                                       for v in (starts, ends, axes, steps)))
    if squeeze:
        value = t.op("Squeeze", value, t.weight(np.array(squeeze, np.int64), "axes"))
    if new_axes:
        value = t.op("Unsqueeze", value, t.weight(np.array(new_axes, np.int64), "axes"))
    return [value]


COMPARISONS = {
    "Equal": ("Equal", np.equal), "Less": ("Less", np.less), "Greater": ("Greater", np.greater),
    "GreaterEqual": ("GreaterOrEqual", np.greater_equal), "LogicalAnd": ("And", np.logical_and),
}


@translates(*COMPARISONS)
def _comparison(t: Translation, node: Node) -> list[str]:
    return [t.op(COMPARISONS[node.op][0], t.value(node, 0), t.value(node, 1))]


@folds(*COMPARISONS)
def _fold_comparison(node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return [COMPARISONS[node.op][1](inputs[0], inputs[1])]


@translates("Select", "SelectV2")
def _select(t: Translation, node: Node) -> list[str]:
    return [t.op("Where", t.value(node, 0), t.value(node, 1), t.value(node, 2))]


@translates("AddN")
def _add_n(t: Translation, node: Node) -> list[str]:
    return [t.op("Sum", *(t.value(node, i) for i in range(len(node.inputs))))]


@translates("Abs", "Reciprocal")
def _more_unary(t: Translation, node: Node) -> list[str]:
    return [t.op(node.op, t.value(node, 0))]


@translates("Max", "Sum")
def _reduce(t: Translation, node: Node) -> list[str]:
    axes = np.atleast_1d(t.constant(node, 1)).astype(np.int64)
    keep = int(bool(node.attribute("keep_dims", False)))
    if node.op == "Sum":  # opset 13+: axes as an input
        return [t.op("ReduceSum", t.value(node, 0), t.weight(axes, "axes"), keepdims=keep)]
    return [t.op("ReduceMax", t.value(node, 0), axes=axes.tolist(), keepdims=keep)]


@translates("TopKV2")
def _top_k(t: Translation, node: Node) -> list[str]:
    if not node.attribute("sorted", True):
        raise UnsupportedOperator(f"TopKV2 {node.name!r}: unsorted")
    k = t.weight(np.atleast_1d(t.constant(node, 1)).astype(np.int64), "k")
    values, indices = t.builder.op_multi("TopK", t.value(node, 0), k, axis=-1, outputs=2)
    return [values, t.op("Cast", indices, to=onnx.TensorProto.INT32)]
