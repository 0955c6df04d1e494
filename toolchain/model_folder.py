"""The one writer of model folders (see docs/model-folders.md).

Exporters and the zoo's training and import scripts all call `write_model_folder`, so every
folder the project produces has the same layout:

    <repository>/<name>/config.pbtxt      Triton text format
    <repository>/<name>/labels.txt        when labels are given
    <repository>/<name>/MODEL_CARD.md
    <repository>/<name>/<version>/model.onnx
    <repository>/<name>/<extra files>     tokenizer.json, vocabulary.txt, verification.json ...

The folder is assembled in a temporary folder beside the target and renamed into place, so a
failure never leaves a half-written model behind.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from google.protobuf import text_format

from contract.batching import default_dynamic_batching
from contract.datatypes import DATATYPES, config_type_name
from contract.metadata import MetadataError, ModelMetadata, parse_metadata
from contract.onnx_limits import MAX_IR_VERSION, MAX_OPSET
from contract.protocol import model_config_pb2 as mc

log = logging.getLogger(__name__)

TWO_GB = 2**31 - 1


class ModelFolderError(Exception):
    """A model folder cannot be written as asked; the message says what to change."""


@dataclass
class TensorSpec:
    """One input or output in config.pbtxt.

    `datatype` uses protocol names ("UINT8", "FP32", "INT64", "BYTES"). `dims` leave out the
    batch dimension when the model's max_batch_size > 0; -1 marks a variable dimension.
    """

    name: str
    datatype: str
    dims: list[int]
    label_filename: str | None = None
    format: str | None = None  # "NHWC" or "NCHW" for image inputs, None otherwise

    def __post_init__(self) -> None:
        if self.datatype not in DATATYPES:
            raise ModelFolderError(
                f"tensor {self.name!r}: datatype {self.datatype!r} is not one the server "
                f"serves: {sorted(DATATYPES)}"
            )


@dataclass
class ModelCard:
    """What MODEL_CARD.md says about a model; `render()` gives the markdown."""

    title: str
    description: str = ""
    source: str = ""  # where the architecture and weights come from
    license: str = ""  # license of the weights
    training: str = ""  # data and procedure, or "random weights (tests only)"
    parameters: int | None = None
    size_bytes: int | None = None
    opset: int | None = None
    metrics: dict[str, str] = field(default_factory=dict)  # held-out metrics, name -> value
    verification: list[dict] = field(default_factory=list)  # rows of checks against the original
    notes: str = ""
    verified_against: str = "PyTorch"  # what the verification rows compare with

    def render(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.description:
            lines += [self.description, ""]
        facts = [
            ("Source", self.source),
            ("License of the weights", self.license),
            ("Training", self.training),
            ("Parameters", f"{self.parameters:,}" if self.parameters is not None else ""),
            ("Size", _human_size(self.size_bytes) if self.size_bytes is not None else ""),
            ("ONNX opset", str(self.opset) if self.opset is not None else ""),
        ]
        lines += [f"- **{key}**: {value}" for key, value in facts if value]
        if self.metrics:
            lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
            lines += [f"| {name} | {value} |" for name, value in self.metrics.items()]
        if self.verification:
            lines += ["", f"## Verification against {self.verified_against}", ""]
            lines += _markdown_table(self.verification)
        if self.notes:
            lines += ["", "## Notes", "", self.notes]
        return "\n".join(lines) + "\n"


def onnx_facts(model: onnx.ModelProto) -> dict[str, int]:
    """Parameter count (initializer elements), serialized size in bytes and default opset."""
    parameters = 0
    for tensor in model.graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= dim
        parameters += count
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return {"parameters": parameters, "size_bytes": model.ByteSize(), "opset": opset}


def write_model_folder(
    repository: Path,
    name: str,
    model: onnx.ModelProto | Path,
    *,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    max_batch_size: int,
    parameters: ModelMetadata | dict[str, str],
    labels: list[str] | None = None,
    files: dict[str, bytes | str | Path] | None = None,
    card: ModelCard | str = "",
    version: int = 1,
    dynamic_batching: mc.ModelDynamicBatching | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a complete model folder `repository/name` and return its path.

    `model` is an ONNX model or the path of an .onnx file; it is saved with IR version <= 10
    as one file (external data only beyond 2 GB). `labels` become labels.txt; `files` maps
    file names (relative to the folder) to contents or source paths. `parameters` is the
    model's metadata (contract/metadata.py), checked as the server will check it when it
    loads the folder. `dynamic_batching` replaces the default batcher (contract/batching.py,
    written when max_batch_size > 0). An existing folder is an error unless `overwrite`.
    """
    repository = Path(repository)
    target = repository / name
    if target.exists() and not overwrite:
        raise ModelFolderError(
            f"{target} already exists; choose another --name or --out, or remove it first"
        )
    proto = _load(model)
    _check_graph(proto, inputs, outputs)
    config = config_text(
        model_config(name, inputs, outputs, max_batch_size, parameters, dynamic_batching)
    )
    repository.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=repository))
    try:
        (staging / "config.pbtxt").write_text(config)
        if labels is not None:
            (staging / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
        for relative, content in (files or {}).items():
            _write_file(staging / relative, content)
        card_text = card.render() if isinstance(card, ModelCard) else card
        (staging / "MODEL_CARD.md").write_text(card_text or f"# {name}\n")
        save_onnx(proto, staging / str(version) / "model.onnx")
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote model folder %s", target)
    return target


def save_onnx(model: onnx.ModelProto, path: Path) -> Path:
    """Save with IR version capped at 10; one file unless the model is over 2 GB."""
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    path.parent.mkdir(parents=True, exist_ok=True)
    large = model.ByteSize() > TWO_GB
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=large,
        all_tensors_to_one_file=True,
        location=f"{path.name}.data" if large else None,
    )
    return path


def model_config(
    name: str,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    max_batch_size: int,
    parameters: ModelMetadata | dict[str, str],
    dynamic_batching: mc.ModelDynamicBatching | None = None,
) -> mc.ModelConfig:
    """The config message of a folder (schema: protos/model_config.proto)."""
    config = mc.ModelConfig(name=name, platform="onnxruntime_onnx", backend="onnxruntime",
                            max_batch_size=max_batch_size)
    config.input.extend(_tensor(mc.ModelInput, t) for t in inputs)
    config.output.extend(_tensor(mc.ModelOutput, t) for t in outputs)
    if dynamic_batching is not None:
        config.dynamic_batching.CopyFrom(dynamic_batching)
    elif max_batch_size > 0:
        config.dynamic_batching.CopyFrom(default_dynamic_batching())
    for key, value in checked_parameters(parameters).items():
        config.parameters[key].string_value = value
    return config


def checked_parameters(parameters: ModelMetadata | dict[str, str]) -> dict[str, str]:
    """The parameters as config.pbtxt strings, refused as the server would refuse them."""
    if isinstance(parameters, ModelMetadata):
        return parameters.to_parameters()
    strange = {k: v for k, v in parameters.items() if not isinstance(v, str)}
    if strange:
        raise ModelFolderError(f"parameters must be strings, got {strange}")
    try:
        parse_metadata(parameters)
    except MetadataError as exc:
        raise ModelFolderError(f"the server would refuse this folder: {exc}") from exc
    return dict(parameters)


def _tensor(kind: type, spec: TensorSpec):
    tensor = kind(name=spec.name, data_type=mc.DataType.Value(config_type_name(spec.datatype)),
                  dims=[int(d) for d in spec.dims])
    if spec.format:
        tensor.format = kind.Format.Value(f"FORMAT_{spec.format}")
    if spec.label_filename:
        tensor.label_filename = spec.label_filename
    return tensor


def read_parameters(folder: Path) -> dict[str, str]:
    """A written folder's config parameters ({} without a config.pbtxt)."""
    path = Path(folder) / "config.pbtxt"
    if not path.is_file():
        return {}
    config = text_format.Parse(path.read_text(), mc.ModelConfig())
    return {key: value.string_value for key, value in config.parameters.items()}


def read_metadata(folder: Path) -> ModelMetadata:
    """A written folder's typed metadata, as the server parses it."""
    return parse_metadata(read_parameters(folder))


def config_text(config: mc.ModelConfig) -> str:
    """config.pbtxt in protobuf text format: one line per field, per tensor, per parameter
    (`task` first, then the others by name)."""
    lines = []
    for descriptor, value in config.ListFields():
        if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
            items = [{key: value[key]} for key in sorted(value, key=lambda k: (k != "task", k))]
        else:
            items = list(value) if descriptor.is_repeated else [value]
        for item in items:
            single = mc.ModelConfig()
            if isinstance(item, dict):
                for key, entry in item.items():
                    single.parameters[key].CopyFrom(entry)
            elif descriptor.is_repeated:
                getattr(single, descriptor.name).append(item)
            elif descriptor.message_type is not None:
                getattr(single, descriptor.name).CopyFrom(item)
            else:
                setattr(single, descriptor.name, item)
            lines.append(text_format.MessageToString(single, as_one_line=True))
    return "\n".join(lines) + "\n"


def _load(model: onnx.ModelProto | Path) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise ModelFolderError(f"ONNX file {path} does not exist")
    return onnx.load_model(str(path))


def _check_graph(
    model: onnx.ModelProto, inputs: list[TensorSpec], outputs: list[TensorSpec]
) -> None:
    initializers = {tensor.name for tensor in model.graph.initializer}
    graph_inputs = {v.name for v in model.graph.input if v.name not in initializers}
    graph_outputs = {v.name for v in model.graph.output}
    missing_in = [t.name for t in inputs if t.name not in graph_inputs]
    missing_out = [t.name for t in outputs if t.name not in graph_outputs]
    if missing_in or missing_out:
        raise ModelFolderError(
            f"config names tensors the graph lacks: inputs {missing_in}, outputs {missing_out}; "
            f"the graph has inputs {sorted(graph_inputs)} and outputs {sorted(graph_outputs)}"
        )
    opset = onnx_facts(model)["opset"]
    if opset > MAX_OPSET:
        raise ModelFolderError(
            f"the graph uses opset {opset}; onnxruntime 1.31 needs <= {MAX_OPSET}: export again "
            f"with a lower opset"
        )


def _write_file(path: Path, content: bytes | str | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        shutil.copyfile(content, path)


def _move_into_place(staging: Path, target: Path) -> None:
    staging.chmod(0o755)
    if not target.exists():
        staging.rename(target)
        return
    retired = target.with_name(f".{target.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _markdown_table(rows: list[dict]) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return lines


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1000
    return f"{size} B"
