"""Read a TF.js graph model (model.json + weight shards) into plain Python objects.

A graph model is a TensorFlow GraphDef written as JSON (`modelTopology.node`: name, op,
inputs, attributes) with the constants' values in binary shards described by
`weightsManifest`. Quantised weights (float16, or uint8/uint16 with scale and min) are
dequantised to float32 here, so translators only see float32, int32 and bool arrays.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "int64": np.int64}
QUANTIZED_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}
TF_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
    "DT_UINT8": np.uint8,
}


@dataclass
class Node:
    """One GraphDef node: `inputs` are (node name, output index); control inputs dropped."""

    name: str
    op: str
    inputs: list[tuple[str, int]]
    attr: dict

    def attribute(self, key: str, default: object = None) -> object:
        """An attribute as a Python value: int, float, bool, str, list, numpy dtype or shape."""
        if key not in self.attr:
            return default
        return _attribute_value(self.attr[key])


@dataclass
class TfjsGraph:
    """Nodes by name (in file order), constant values, and the signature's inputs/outputs."""

    nodes: dict[str, Node]
    constants: dict[str, np.ndarray]
    inputs: list[str]  # Placeholder node names
    outputs: list[str]  # tensor names "node" or "node:k"
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    input_dtypes: dict[str, type] = field(default_factory=dict)

    @property
    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts


def read_tfjs(model_json: Path) -> TfjsGraph:
    """Parse `model.json` and its weight shards (found beside it)."""
    model_json = Path(model_json)
    document = json.loads(model_json.read_text())
    if document.get("format", "graph-model") != "graph-model":
        raise ValueError(f"{model_json} is a {document['format']}, not a TF.js graph model")
    nodes = {}
    for raw in document["modelTopology"]["node"]:
        inputs = [_input_ref(text) for text in raw.get("input", []) if not text.startswith("^")]
        nodes[raw["name"]] = Node(raw["name"], raw["op"], inputs, raw.get("attr", {}))
    constants = read_weights(model_json.parent, document["weightsManifest"])
    placeholders = [name for name, node in nodes.items() if node.op == "Placeholder"]
    graph = TfjsGraph(nodes, constants, placeholders, _signature_outputs(document, nodes))
    for name in placeholders:
        node = nodes[name]
        graph.input_shapes[name] = node.attribute("shape")
        graph.input_dtypes[name] = node.attribute("dtype")
    return graph


def _input_ref(text: str) -> tuple[str, int]:
    name, _, index = text.partition(":")
    return name, int(index) if index.isdigit() else 0


def _signature_outputs(document: dict, nodes: dict[str, Node]) -> list[str]:
    signature = document.get("signature") or {}
    outputs = [spec["name"] for spec in (signature.get("outputs") or {}).values()]
    if outputs:
        return [name[:-2] if name.endswith(":0") else name for name in outputs]
    consumed = {name for node in nodes.values() for name, _ in node.inputs}
    return [name for name, node in nodes.items() if name not in consumed and node.op != "Const"]


def read_weights(folder: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """The weights of a weightsManifest by name (dequantised to their declared dtype)."""
    constants = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            array, offset = _read_weight(data, offset, spec)
            constants[spec["name"]] = array
    return constants


def _read_weight(data: bytes, offset: int, spec: dict) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    count = int(np.prod(shape, dtype=np.int64))
    quantization = spec.get("quantization")
    if quantization:
        stored = np.dtype(QUANTIZED_DTYPES[quantization["dtype"]])
        raw = np.frombuffer(data, stored, count, offset)
        if stored == np.float16:
            values = raw.astype(np.float32)
        else:
            values = raw.astype(np.float32) * quantization["scale"] + quantization["min"]
        values = values.astype(DTYPES[spec["dtype"]])
    else:
        stored = np.dtype(DTYPES[spec["dtype"]])
        values = np.frombuffer(data, stored, count, offset).copy()
    return values.reshape(shape), offset + count * stored.itemsize


def _text(encoded: str) -> str:
    return base64.b64decode(encoded).decode()


# attribute value kinds, in the order they are looked for
_SCALARS: dict[str, Callable[[Any], object]] = {"i": int, "f": float, "b": bool, "s": _text}


def _attribute_value(value: dict) -> object:
    if "list" in value:
        items = value["list"]
        kind = next((k for k in ("i", "f", "s") if k in items), None)
        return [_SCALARS[kind](v) for v in items[kind]] if kind else []
    for kind, convert in _SCALARS.items():
        if kind in value:
            return convert(value[kind])
    if "type" in value:
        return TF_DTYPES.get(value["type"], value["type"])
    if "shape" in value:
        return [int(d.get("size", -1)) for d in value["shape"].get("dim", [])]
    return None
