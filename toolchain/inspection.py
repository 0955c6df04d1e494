"""What `python -m toolchain inspect` reports about a model folder or an architecture."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch

from toolchain.architectures import BuildOptions, ExportError, get
from toolchain.exporter import VERIFICATION_FILE, latest_model_file
from toolchain.model_folder import onnx_facts, read_parameters

ONNX_TYPES = {value: key for key, value in onnx.TensorProto.DataType.items()}


def inspect_target(target: str) -> dict:
    """A report on a model folder (when `target` is a folder) or a registered architecture."""
    path = Path(target)
    if path.is_dir():
        return inspect_folder(path)
    if path.exists():
        raise ExportError(f"{path} is not a model folder")
    return inspect_architecture(target)


def inspect_architecture(name: str) -> dict:
    """Parameter counts of the full-size architecture, built with random weights."""
    architecture = get(name)
    torch.manual_seed(0)
    components = architecture.build(BuildOptions(weights="none"))
    counts = {
        c.suffix or "model": sum(p.numel() for p in c.module.parameters()) for c in components
    }
    return {
        "architecture": name,
        "task": architecture.task,
        "description": architecture.description,
        "source": architecture.source,
        "license": architecture.license,
        "parameters": sum(counts.values()),
        "parameters_by_component": counts,
        "published_parameters": architecture.published_parameters,
        "inputs": {c.suffix or "model": [_spec(s) for s in c.inputs] for c in components},
        "outputs": {c.suffix or "model": [_spec(s) for s in c.outputs] for c in components},
    }


def inspect_folder(folder: Path) -> dict:
    """Parameters, size, tensors, opset and provenance of an exported model folder."""
    model_file = latest_model_file(folder)
    model = onnx.load_model(str(model_file), load_external_data=False)
    facts = onnx_facts(model)
    report = {
        "folder": str(folder),
        "model_file": str(model_file.relative_to(folder)),
        "size_bytes": sum(f.stat().st_size for f in model_file.parent.iterdir()),
        "parameters_onnx": facts["parameters"],
        "opset": facts["opset"],
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": [_value_info(v) for v in _graph_inputs(model)],
        "outputs": [_value_info(v) for v in model.graph.output],
        "parameters": read_parameters(folder),
    }
    record_file = folder / VERIFICATION_FILE
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        report["provenance"] = {
            key: record[key]
            for key in ("architecture", "options", "variant", "source_model", "versions")
            if key in record
        }
        if "parameters" in record:
            report["parameters_pytorch"] = record["parameters"]
        report["checks"] = record.get("checks", [])
    return report


def format_report(report: dict) -> str:
    """Human-readable lines for the terminal."""
    lines = []
    for key, value in report.items():
        if isinstance(value, int) and "parameters" in key:
            lines.append(f"{key}: {value:,} ({value / 1e6:.2f} M)")
        elif isinstance(value, int) and key == "size_bytes":
            lines.append(f"{key}: {value:,} ({value / 1e6:.1f} MB)")
        elif isinstance(value, list | dict):
            lines.append(f"{key}: {json.dumps(value, default=str)}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def _graph_inputs(model: onnx.ModelProto) -> list:
    initializers = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def _value_info(value: onnx.ValueInfoProto) -> dict:
    tensor = value.type.tensor_type
    dims = [d.dim_param or d.dim_value for d in tensor.shape.dim]
    return {"name": value.name, "type": ONNX_TYPES.get(tensor.elem_type, "?"), "shape": dims}


def _spec(spec) -> dict:
    return {"name": spec.name, "datatype": spec.datatype, "dims": spec.dims}



