"""Translate a TFLite graph into ONNX, operator by operator.

TFLite keeps images as NHWC; ONNX convolutions want NCHW. Every computed 4-D tensor is held
as NCHW inside the ONNX graph: graph inputs are transposed once on the way in and outputs once
on the way out, constant operands are transposed when used, and layout-sensitive operators
(RESHAPE, CONCATENATION, PAD) map their axes.

Adding an operator means writing one function decorated with `@translates("KIND")`; it gets
the `Translation` (values so far, the builder) and the `Operator`, and returns the ONNX value
of the operator's output (NCHW when the output is 4-D).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

import numpy as np
import onnx

from toolchain.onnx_builder import GraphBuilder
from toolchain.tflite.reader import Operator, TfliteGraph

log = logging.getLogger(__name__)

NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_AXIS_IN_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
PADDING_SAME, PADDING_VALID = 0, 1  # tflite.Padding
CUSTOM_PADDING_SAME = 1  # TfLitePadding in a custom op's raw options (0 is "unknown")

Translator = Callable[["Translation", Operator], str]
TRANSLATORS: dict[str, Translator] = {}


class UnsupportedOperator(Exception):
    """The graph uses an operator (or an option of one) the translator does not handle."""


def translates(*kinds: str) -> Callable[[Translator], Translator]:
    """Register a translator for TFLite operator kinds (builtin names or custom codes)."""

    def register(function: Translator) -> Translator:
        for kind in kinds:
            TRANSLATORS[kind] = function
        return function

    return register


class Translation:
    """State of one translation: which ONNX value holds each TFLite tensor."""

    def __init__(self, graph: TfliteGraph, builder: GraphBuilder) -> None:
        self.graph = graph
        self.builder = builder
        self.values: dict[int, str] = {}

    def shape(self, index: int) -> tuple[int, ...]:
        return self.graph.tensor(index).shape

    def constant(self, index: int) -> np.ndarray:
        data = self.graph.tensor(index).data
        if data is None:
            raise UnsupportedOperator(
                f"tensor {self.graph.tensor(index).name!r} must be a constant for this operator"
            )
        return data

    def value(self, index: int, like: int | None = None) -> str:
        """ONNX value of a tensor. A constant used beside 4-D tensor `like` becomes NCHW."""
        if index in self.values:
            return self.values[index]
        tensor = self.graph.tensor(index)
        if tensor.data is None:
            raise UnsupportedOperator(f"tensor {tensor.name!r} is used before it is computed")
        data = tensor.data
        if like is not None and len(self.shape(like)) == 4:
            data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(NHWC_TO_NCHW)
        return self.builder.const(data, tensor.name)

    def activation(self, value: str, code: int) -> str:
        """Apply a fused activation (tflite.ActivationFunctionType) to `value`."""
        if code == 0:
            return value
        if code == 1:
            return self.builder.op("Relu", value)
        if code == 3:
            return self.builder.op(
                "Clip", value, self.builder.const(np.float32(0)), self.builder.const(np.float32(6))
            )
        if code == 2:
            return self.builder.op(
                "Clip", value, self.builder.const(np.float32(-1)), self.builder.const(np.float32(1))
            )
        if code == 4:
            return self.builder.op("Tanh", value)
        raise UnsupportedOperator(f"fused activation {code} is not supported")


def translate(graph: TfliteGraph, builder: GraphBuilder, inputs: dict[int, str]) -> dict[int, str]:
    """Add `graph`'s operators to `builder`.

    `inputs` maps each TFLite input tensor index to the ONNX value that holds it in TFLite's
    layout (NHWC for images). Returns the ONNX value of each TFLite output, also in TFLite's
    layout.
    """
    translation = Translation(graph, builder)
    for index, value in inputs.items():
        if len(graph.tensor(index).shape) == 4:
            value = builder.op("Transpose", value, perm=NHWC_TO_NCHW, hint="nchw")
        translation.values[index] = value
    for operator in graph.operators:
        translator = TRANSLATORS.get(operator.kind)
        if translator is None:
            raise UnsupportedOperator(
                f"TFLite operator {operator.kind} has no ONNX translation; supported: "
                f"{sorted(TRANSLATORS)}"
            )
        translation.values[operator.outputs[0]] = translator(translation, operator)
    results = {}
    for index in graph.outputs:
        value = translation.values[index]
        if len(graph.tensor(index).shape) == 4:
            value = builder.op("Transpose", value, perm=NCHW_TO_NHWC, hint="nhwc")
        results[index] = value
    return results


def tflite_to_onnx(graph: TfliteGraph, name: str, batch: int | str = 1) -> onnx.ModelProto:
    """The TFLite graph as an ONNX model with the same input and output names and layouts.

    `batch` names the first dimension of inputs and outputs ("batch" makes it dynamic, which
    works for graphs whose reshapes keep the batch first).
    """
    builder = GraphBuilder(name)
    inputs = {}
    for index in graph.inputs:
        tensor = graph.tensor(index)
        inputs[index] = builder.input(tensor.name, tensor.dtype, [batch, *tensor.shape[1:]])
    for index, value in translate(graph, builder, inputs).items():
        tensor = graph.tensor(index)
        builder.output(value, tensor.name, tensor.dtype, [batch, *tensor.shape[1:]])
    return builder.model(doc=f"translated from TFLite: {graph.description}")


def _same_pads(size_in: int, size_out: int, kernel: int, stride: int, dilation: int = 1):
    total = max((size_out - 1) * stride + (kernel - 1) * dilation + 1 - size_in, 0)
    return total // 2, total - total // 2


def _spatial_pads(
    t: Translation,
    op: Operator,
    padding: int,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int] = (1, 1),
) -> list[int]:
    if padding == PADDING_VALID:
        return [0, 0, 0, 0]
    _, in_h, in_w, _ = t.shape(op.inputs[0])
    _, out_h, out_w, _ = t.shape(op.outputs[0])
    top, bottom = _same_pads(in_h, out_h, kernel[0], strides[0], dilations[0])
    left, right = _same_pads(in_w, out_w, kernel[1], strides[1], dilations[1])
    return [top, left, bottom, right]


@translates("CONV_2D", "DEPTHWISE_CONV_2D")
def _convolution(t: Translation, op: Operator) -> str:
    options = op.options
    weights = t.constant(op.inputs[1])
    depthwise = op.kind == "DEPTHWISE_CONV_2D"
    # TFLite: CONV [out, kh, kw, in]; DEPTHWISE [1, kh, kw, out]. ONNX: [out, in/group, kh, kw].
    kernel = weights.transpose(3, 0, 1, 2) if depthwise else weights.transpose(0, 3, 1, 2)
    strides = (options.StrideH(), options.StrideW())
    dilations = (options.DilationHFactor(), options.DilationWFactor())
    inputs = [t.value(op.inputs[0]), t.builder.const(np.ascontiguousarray(kernel), "weights")]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        inputs.append(t.value(op.inputs[2]))
    result = t.builder.op(
        "Conv",
        *inputs,
        strides=list(strides),
        dilations=list(dilations),
        pads=_spatial_pads(t, op, options.Padding(), kernel.shape[2:], strides, dilations),
        group=t.shape(op.inputs[0])[3] if depthwise else 1,
    )
    return t.activation(result, options.FusedActivationFunction())


@translates("Convolution2DTransposeBias")
def _transposed_convolution_with_bias(t: Translation, op: Operator) -> str:
    """MediaPipe's custom op: raw options are TfLiteTransposeConvParams (padding, stride w, h)."""
    padding, stride_w, stride_h = struct.unpack("<3i", op.custom_options[:12])
    weights = t.constant(op.inputs[1])  # [out, kh, kw, in] -> ONNX [in, out, kh, kw]
    kernel = np.ascontiguousarray(weights.transpose(3, 0, 1, 2))
    _, in_h, in_w, _ = t.shape(op.inputs[0])
    _, out_h, out_w, _ = t.shape(op.outputs[0])
    pads, extra = [], []
    for size_in, size_out, k, s in (
        (in_h, out_h, kernel.shape[2], stride_h),
        (in_w, out_w, kernel.shape[3], stride_w),
    ):
        total = s * (size_in - 1) + k - size_out
        if padding != CUSTOM_PADDING_SAME:
            total = 0
        pads.append((max(total, 0) // 2, max(total, 0) - max(total, 0) // 2))
        extra.append(max(-total, 0))
    return t.builder.op(
        "ConvTranspose",
        t.value(op.inputs[0]),
        t.builder.const(kernel, "weights"),
        t.value(op.inputs[2]),
        strides=[stride_h, stride_w],
        pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]],
        output_padding=extra,
    )


@translates("MAX_POOL_2D", "AVERAGE_POOL_2D")
def _pool(t: Translation, op: Operator) -> str:
    options = op.options
    kernel = (options.FilterHeight(), options.FilterWidth())
    strides = (options.StrideH(), options.StrideW())
    result = t.builder.op(
        "MaxPool" if op.kind == "MAX_POOL_2D" else "AveragePool",
        t.value(op.inputs[0]),
        kernel_shape=list(kernel),
        strides=list(strides),
        pads=_spatial_pads(t, op, options.Padding(), kernel, strides),
    )
    return t.activation(result, options.FusedActivationFunction())


@translates("ADD", "MUL", "SUB", "DIV")
def _elementwise(t: Translation, op: Operator) -> str:
    first, second = op.inputs[:2]
    operands = [t.value(first, like=second), t.value(second, like=first)]
    kind = {"ADD": "Add", "MUL": "Mul", "SUB": "Sub", "DIV": "Div"}[op.kind]
    result = t.builder.op(kind, *operands)
    activation = op.options.FusedActivationFunction() if op.options is not None else 0
    return t.activation(result, activation)


@translates("RELU", "RELU6", "LOGISTIC", "HARD_SWISH", "TANH")
def _unary(t: Translation, op: Operator) -> str:
    value = t.value(op.inputs[0])
    if op.kind == "RELU6":
        return t.activation(value, 3)
    kind = {"RELU": "Relu", "LOGISTIC": "Sigmoid", "HARD_SWISH": "HardSwish", "TANH": "Tanh"}
    return t.builder.op(kind[op.kind], value)


@translates("PAD")
def _pad(t: Translation, op: Operator) -> str:
    paddings = t.constant(op.inputs[1]).astype(np.int64)  # [rank, 2] in TFLite's axis order
    if len(t.shape(op.inputs[0])) == 4:
        paddings = paddings[NHWC_TO_NCHW]
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    return t.builder.op("Pad", t.value(op.inputs[0]), t.builder.const(pads, "pads"))


@translates("RESHAPE")
def _reshape(t: Translation, op: Operator) -> str:
    source_shape, target_shape = t.shape(op.inputs[0]), list(t.shape(op.outputs[0]))
    value = t.value(op.inputs[0])
    if len(source_shape) == 4:
        value = t.builder.op("Transpose", value, perm=NCHW_TO_NHWC)
    if target_shape and source_shape and target_shape[0] == source_shape[0]:
        target_shape[0] = 0  # keep the batch dimension whatever it is at run time
    result = t.builder.op("Reshape", value, t.builder.const(np.array(target_shape, np.int64)))
    if len(target_shape) == 4:
        result = t.builder.op("Transpose", result, perm=NHWC_TO_NCHW)
    return result


@translates("CONCATENATION")
def _concatenation(t: Translation, op: Operator) -> str:
    rank = len(t.shape(op.outputs[0]))
    axis = op.options.Axis() % rank
    if rank == 4:
        axis = NHWC_AXIS_IN_NCHW[axis]
    values = [t.value(i, like=op.outputs[0]) for i in op.inputs]
    result = t.builder.op("Concat", *values, axis=axis)
    return t.activation(result, op.options.FusedActivationFunction())


@translates("RESIZE_BILINEAR")
def _resize_bilinear(t: Translation, op: Operator) -> str:
    _, in_h, in_w, _ = t.shape(op.inputs[0])
    _, out_h, out_w, _ = t.shape(op.outputs[0])
    options = op.options
    if options.AlignCorners():
        mode = "align_corners"
    elif options.HalfPixelCenters():
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    scales = np.array([1.0, 1.0, out_h / in_h, out_w / in_w], np.float32)
    return t.builder.op(
        "Resize",
        t.value(op.inputs[0]),
        "",
        t.builder.const(scales, "scales"),
        mode="linear",
        coordinate_transformation_mode=mode,
    )
