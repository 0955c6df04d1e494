"""Model configuration: parse config.pbtxt, and complete it from the ONNX graph as Triton does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format

from contract.protocol import model_config_pb2 as mc

from .datatypes import config_type_name, datatype_from_config
from .errors import ModelLoadError

ModelConfig = mc.ModelConfig
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_QUEUE_DELAY_US = 1000
BATCHING_STATED = "batching_stated"  # internal marker, removed after completion


@dataclass(frozen=True)
class GraphTensor:
    """An input or output as the ONNX graph declares it. Dims: -1 where symbolic."""

    name: str
    datatype: str
    dims: tuple[int, ...]


def read_config(model_dir: Path) -> ModelConfig:
    """The folder's config.pbtxt parsed, or an empty config named after the folder.

    proto3 cannot tell `max_batch_size: 0` from no value; a config that states it gets the
    `batching_stated` parameter so that completion does not turn batching on.
    """
    config = ModelConfig()
    path = model_dir / "config.pbtxt"
    if path.exists():
        text = path.read_text()
        try:
            text_format.Parse(text, config)
            if re.search(r"^\s*max_batch_size\s*:", text, flags=re.M):
                config.parameters[BATCHING_STATED].string_value = "true"
        except text_format.ParseError as exc:
            raise ModelLoadError(f"{model_dir.name}/config.pbtxt is not a valid model config: "
                                 f"{exc}") from exc
    if config.name and config.name != model_dir.name:
        raise ModelLoadError(
            f"{model_dir.name}/config.pbtxt names the model '{config.name}' but its folder is "
            f"'{model_dir.name}'; make them agree"
        )
    config.name = model_dir.name
    return config


def _batchable(tensors: list[GraphTensor]) -> bool:
    return all(t.dims and t.dims[0] == -1 for t in tensors)


def complete_config(config: ModelConfig, inputs: list[GraphTensor],
                    outputs: list[GraphTensor]) -> ModelConfig:
    """Fill what the config leaves out from the graph, and check what it states against it.

    Without inputs/outputs in the config they come from the graph. Without max_batch_size,
    a graph whose every tensor has a symbolic first dimension is batched (with dynamic
    batching on), as Triton's auto-complete does.
    """
    completed = ModelConfig()
    completed.CopyFrom(config)
    completed.platform = completed.platform or "onnxruntime_onnx"
    completed.backend = completed.backend or "onnxruntime"
    stated = BATCHING_STATED in completed.parameters
    if stated:
        del completed.parameters[BATCHING_STATED]
    explicit_batch = stated or config.HasField("dynamic_batching") or config.max_batch_size > 0
    if not explicit_batch and not config.input and _batchable(inputs + outputs):
        completed.max_batch_size = DEFAULT_MAX_BATCH_SIZE
        completed.dynamic_batching.max_queue_delay_microseconds = DEFAULT_QUEUE_DELAY_US
    batch = completed.max_batch_size > 0
    if batch and not _batchable(inputs + outputs):
        raise ModelLoadError(
            f"model '{config.name}' sets max_batch_size {completed.max_batch_size} but its graph "
            "has a tensor without a variable first dimension; export with a dynamic batch "
            "axis or set max_batch_size: 0"
        )
    _complete_tensors(completed.name, completed.input, inputs, batch, "input")
    _complete_tensors(completed.name, completed.output, outputs, batch, "output")
    if not completed.instance_group:
        completed.instance_group.add(count=1)
    return completed


def _complete_tensors(model: str, declared, graph: list[GraphTensor], batch: bool,
                      kind: str) -> None:
    by_name = {t.name: t for t in graph}
    if not declared:
        for tensor in graph:
            declared.add(name=tensor.name, data_type=config_type_name(tensor.datatype),
                         dims=list(tensor.dims[1:] if batch else tensor.dims))
        return
    for entry in declared:
        tensor = by_name.get(entry.name)
        if tensor is None:
            raise ModelLoadError(
                f"model '{model}': config {kind} '{entry.name}' is not in the graph, whose "
                f"{kind}s are {sorted(by_name)}"
            )
        expected = tensor.datatype
        if entry.data_type == mc.TYPE_INVALID:
            entry.data_type = mc.DataType.Value(config_type_name(expected))
        stated = datatype_from_config(mc.DataType.Name(entry.data_type))
        if stated != expected:
            raise ModelLoadError(
                f"model '{model}': config says {kind} '{entry.name}' is {stated}, "
                f"the graph says {expected}"
            )
        if not entry.dims:
            entry.dims.extend(tensor.dims[1:] if batch else tensor.dims)
    if kind == "input":
        missing = set(by_name) - {e.name for e in declared}
        if missing:
            raise ModelLoadError(
                f"model '{model}': graph inputs {sorted(missing)} are missing from config.pbtxt"
            )


def config_text(config: ModelConfig) -> str:
    """The config in Triton's text format, as written to config.pbtxt."""
    return text_format.MessageToString(config)


def parameters_of(config: ModelConfig) -> dict[str, str]:
    """The config's parameters as plain strings (without the internal batching marker)."""
    return {key: value.string_value for key, value in config.parameters.items()
            if key != BATCHING_STATED}
