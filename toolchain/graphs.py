"""Small ONNX graphs built in code and saved in Triton's layout: the tiny models of the tests
and the synthetic models of the benchmarks (`bench/`)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper

from contract.onnx_limits import MAX_IR_VERSION

IR_VERSION = MAX_IR_VERSION
OPSET = 17


def save(model: onnx.ModelProto, repository: Path, name: str, version: int = 1,
         config: str | None = None) -> Path:
    """Write `model` as `<repository>/<name>/<version>/model.onnx` (+ config.pbtxt if given)."""
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    folder = repository / name
    (folder / str(version)).mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / str(version) / "model.onnx")
    if config is not None:
        (folder / "config.pbtxt").write_text(config)
    return folder


def graph(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    """A model of one graph, at the opset the tests and benchmarks build for."""
    return helper.make_model(
        helper.make_graph(nodes, "test", inputs, outputs, list(initializers)),
        opset_imports=[helper.make_opsetid("", OPSET)],
    )


def tensor(name: str, elem_type: int, shape: list) -> onnx.ValueInfoProto:
    """A graph input or output: name, element type, shape (names for dynamic axes)."""
    return helper.make_tensor_value_info(name, elem_type, shape)
