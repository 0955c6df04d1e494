"""Model configuration: parse config.pbtxt, and complete it from the ONNX graph as Triton does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format

from contract.batching import DEFAULT_MAX_BATCH_SIZE, default_dynamic_batching, is_batched
from contract.datatypes import config_type_name
from contract.protocol import model_config_pb2 as mc

from .errors import ModelLoadError
from .signature import config_datatype

ModelConfig = mc.ModelConfig


@dataclass(frozen=True)
class GraphTensor:
    """An input or output as the ONNX graph declares it. Dims: -1 where symbolic."""

    name: str
    datatype: str
    dims: tuple[int, ...]


def read_config(model_dir: Path) -> ModelConfig:
    """The folder's config.pbtxt parsed, or an empty config named after the folder.

    `max_batch_size` is `optional` in the schema, so a config that states 0 (no batching) is
    told from one that leaves it to completion by `HasField`.
    """
    config = ModelConfig()
    path = model_dir / "config.pbtxt"
    if path.exists():
        try:
            text_format.Parse(path.read_text(), config)
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
    a graph whose every tensor has a symbolic first dimension is batched with the defaults of
    contract/batching.py (the toolchain's), as Triton's auto-complete does.
    """
    completed = ModelConfig()
    completed.CopyFrom(config)
    completed.platform = completed.platform or "onnxruntime_onnx"
    completed.backend = completed.backend or "onnxruntime"
    explicit_batch = config.HasField("max_batch_size") or config.HasField("dynamic_batching")
    if not explicit_batch and not config.input and _batchable(inputs + outputs):
        completed.max_batch_size = DEFAULT_MAX_BATCH_SIZE
        completed.dynamic_batching.CopyFrom(default_dynamic_batching())
    batch = is_batched(completed)
    if batch and not _batchable(inputs + outputs):
        raise ModelLoadError(
            f"model '{config.name}' sets max_batch_size {completed.max_batch_size} but its graph "
            "has a tensor without a variable first dimension; export with a dynamic batch "
            "axis or set max_batch_size: 0"
        )
    implicit = implicit_inputs(completed)
    _complete_tensors(completed.name, completed.input,
                      [t for t in inputs if t.name not in implicit], batch, "input")
    state_outputs = {s.output_name for s in completed.sequence_batching.state}
    _complete_tensors(completed.name, completed.output,
                      [t for t in outputs if t.name not in state_outputs], batch, "output")
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
        found = by_name.get(entry.name)
        if found is None:
            raise ModelLoadError(
                f"model '{model}': config {kind} '{entry.name}' is not in the graph, whose "
                f"{kind}s are {sorted(by_name)}"
            )
        expected = found.datatype
        if entry.data_type == mc.TYPE_INVALID:
            entry.data_type = mc.DataType.Value(config_type_name(expected))
        stated = config_datatype(entry.data_type)
        if stated != expected:
            raise ModelLoadError(
                f"model '{model}': config says {kind} '{entry.name}' is {stated}, "
                f"the graph says {expected}"
            )
        if not entry.dims and not entry.HasField("reshape"):
            entry.dims.extend(found.dims[1:] if batch else found.dims)
    if kind == "input":
        missing = set(by_name) - {e.name for e in declared}
        if missing:
            raise ModelLoadError(
                f"model '{model}': graph inputs {sorted(missing)} are missing from config.pbtxt"
            )


def implicit_inputs(config: ModelConfig) -> set[str]:
    """Graph inputs the server fills itself: sequence control inputs and implicit state."""
    batching = config.sequence_batching
    return ({c.name for c in batching.control_input}
            | {s.input_name for s in batching.state})


# Config fields Striate parses but does not serve: (field, test, what to do instead).
UNSERVED = [
    ("ensemble_scheduling", lambda c: c.HasField("ensemble_scheduling"),
     "ensembles are not built; call the models one after the other from the client"),
    ("batch_input", lambda c: len(c.batch_input) > 0, "ragged batch inputs are not built"),
    ("batch_output", lambda c: len(c.batch_output) > 0, "ragged batch outputs are not built"),
    ("model_operations", lambda c: len(c.model_operations.op_library_filename) > 0,
     "custom operator libraries are not loaded"),
    ("model_transaction_policy.decoupled", lambda c: c.model_transaction_policy.decoupled,
     "decoupled (many responses per request) models are not served"),
    ("model_repository_agents", lambda c: len(c.model_repository_agents.agents) > 0,
     "repository agents are not run"),
    ("response_cache", lambda c: c.response_cache.enable, "the response cache is not built"),
    ("sequence_batching.iterative_sequence",
     lambda c: c.sequence_batching.iterative_sequence, "iterative sequences are not built"),
    ("dynamic_batching.default_queue_policy.timeout_action",
     lambda c: c.dynamic_batching.default_queue_policy.timeout_action == mc.ModelQueuePolicy.DELAY,
     "expired requests are rejected (REJECT), not delayed"),
    ("dynamic_batching.priority_queue_policy",
     lambda c: len(c.dynamic_batching.priority_queue_policy) > 0,
     "one queue policy serves every priority level"),
    ("input.is_shape_tensor", lambda c: any(i.is_shape_tensor for i in c.input),
     "shape tensors are a TensorRT feature"),
    ("input.allow_ragged_batch", lambda c: any(i.allow_ragged_batch for i in c.input),
     "ragged batching is not built"),
    ("input.is_non_linear_format_io", lambda c: any(i.is_non_linear_format_io for i in c.input),
     "non-linear formats are a TensorRT feature"),
    ("output.is_shape_tensor", lambda c: any(o.is_shape_tensor for o in c.output),
     "shape tensors are a TensorRT feature"),
    ("output.is_non_linear_format_io",
     lambda c: any(o.is_non_linear_format_io for o in c.output),
     "non-linear formats are a TensorRT feature"),
    ("sequence_batching.state.initial_state.data_file",
     lambda c: any(i.HasField("data_file") for s in c.sequence_batching.state
                   for i in s.initial_state), "only zero_data initial states are built"),
]


def check_served(config: ModelConfig) -> None:
    """Refuse, by field name, a config that asks for what Striate does not serve."""
    for name, asks, instead in UNSERVED:
        if asks(config):
            raise ModelLoadError(f"model '{config.name}': config field '{name}' is not "
                                 f"served by Striate ({instead}); remove it to load the model")


def config_text(config: ModelConfig) -> str:
    """The config in Triton's text format, as written to config.pbtxt."""
    return text_format.MessageToString(config)


def parameters_of(config: ModelConfig) -> dict[str, str]:
    """The config's parameters as plain strings (without the internal batching marker)."""
    return {key: value.string_value for key, value in config.parameters.items()}
