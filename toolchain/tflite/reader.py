"""Read a TFLite flatbuffer into plain Python objects (tensors as numpy arrays).

Only what an op-by-op translation needs: the first subgraph's tensors (name, shape, dtype,
constant data), its operators in execution order (kind, inputs, outputs, options) and the
graph's inputs and outputs. Float16 weights stored behind DEQUANTIZE operators are folded
into float32 constants here, so translators only see constants and computed tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

TENSOR_DTYPES = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
    tflite.TensorType.INT64: np.int64,
    tflite.TensorType.UINT8: np.uint8,
    tflite.TensorType.INT8: np.int8,
    tflite.TensorType.BOOL: np.bool_,
}
OPTIONS_CLASS_NAMES = {
    number: name for name, number in vars(tflite.BuiltinOptions).items() if not name.startswith("_")
}


class TfliteFormatError(Exception):
    """The file is not a TFLite model this reader understands; the message says why."""


@dataclass
class Tensor:
    """One tensor of the subgraph; `data` is set for constants (weights, shapes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None = None


@dataclass
class Operator:
    """One operator: `kind` is the builtin name ("CONV_2D") or the custom code.

    `options` is the parsed builtin options table (e.g. `tflite.Conv2DOptions`), None when the
    operator has none; `custom_options` holds a custom operator's raw option bytes.
    """

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: object | None = None
    custom_options: bytes = b""


@dataclass
class TfliteGraph:
    """The first subgraph of a TFLite model."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    op_counts: dict[str, int] = field(default_factory=dict)

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


def read_tflite(source: Path | bytes) -> TfliteGraph:
    """Parse a .tflite file (path or bytes) and fold its DEQUANTIZE-of-constant operators."""
    buffer = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        model = tflite.Model.GetRootAsModel(buffer, 0)
        subgraph = model.Subgraphs(0)
    except Exception as error:  # flatbuffers raises assorted errors on garbage input
        raise TfliteFormatError(f"not a TFLite flatbuffer: {error}") from error
    if subgraph is None:
        raise TfliteFormatError("the TFLite model has no subgraph")
    tensors = [_read_tensor(model, subgraph, i) for i in range(subgraph.TensorsLength())]
    operators = [
        _read_operator(model, subgraph.Operators(i)) for i in range(subgraph.OperatorsLength())
    ]
    counts: dict[str, int] = {}
    for operator in operators:
        counts[operator.kind] = counts.get(operator.kind, 0) + 1
    graph = TfliteGraph(
        tensors=tensors,
        operators=operators,
        inputs=[int(i) for i in subgraph.InputsAsNumpy()],
        outputs=[int(i) for i in subgraph.OutputsAsNumpy()],
        description=(model.Description() or b"").decode(errors="replace"),
        op_counts=counts,
    )
    _fold_dequantize(graph)
    return graph


def _read_tensor(model: tflite.Model, subgraph: tflite.SubGraph, index: int) -> Tensor:
    raw = subgraph.Tensors(index)
    if raw.Type() not in TENSOR_DTYPES:
        raise TfliteFormatError(f"tensor {index} has unsupported TFLite type {raw.Type()}")
    dtype = TENSOR_DTYPES[raw.Type()]
    shape = tuple(int(d) for d in raw.ShapeAsNumpy()) if raw.ShapeLength() else ()
    data = None
    buffer = model.Buffers(raw.Buffer())
    if buffer is not None and buffer.DataLength() > 0:
        data = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape).copy()
    return Tensor(index, raw.Name().decode(), shape, dtype, data)


def _read_operator(model: tflite.Model, raw: tflite.Operator) -> Operator:
    code = model.OperatorCodes(raw.OpcodeIndex())
    number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    kind = BUILTIN_OPCODE2NAME.get(number, f"BUILTIN_{number}")
    if kind == "CUSTOM":
        kind = code.CustomCode().decode()
    options = None
    table = raw.BuiltinOptions()
    if table is not None:
        options = getattr(tflite, OPTIONS_CLASS_NAMES[raw.BuiltinOptionsType()])()
        options.Init(table.Bytes, table.Pos)
    custom = raw.CustomOptionsAsNumpy().tobytes() if raw.CustomOptionsLength() else b""
    return Operator(
        kind=kind,
        inputs=[int(i) for i in raw.InputsAsNumpy()],
        outputs=[int(i) for i in raw.OutputsAsNumpy()],
        options=options,
        custom_options=custom,
    )


def _fold_dequantize(graph: TfliteGraph) -> None:
    kept = []
    for operator in graph.operators:
        source = graph.tensor(operator.inputs[0])
        if operator.kind == "DEQUANTIZE" and source.data is not None and source.dtype == np.float16:
            target = graph.tensor(operator.outputs[0])
            target.data = source.data.astype(np.float32)
        else:
            kept.append(operator)
    graph.operators = kept
