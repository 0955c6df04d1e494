"""Tensor datatypes: protocol names, config enums, ONNX type strings and numpy dtypes.

The one table of the datatypes Striate serves: the server converts tensors with it and the
toolchain writes only these (no BF16: numpy has no bfloat16, so the server could not load it).
"""

from __future__ import annotations

import numpy as np

# protocol name -> numpy dtype. BYTES tensors are numpy object arrays of `bytes`.
NUMPY_BY_DATATYPE: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}

DATATYPES: tuple[str, ...] = tuple(NUMPY_BY_DATATYPE)

# ONNX Runtime's type strings ("tensor(float)") -> protocol name
DATATYPE_BY_ONNX: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


def config_type_name(datatype: str) -> str:
    """Protocol name -> model config enum name ("FP32" -> "TYPE_FP32", "BYTES" -> "TYPE_STRING")."""
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


def datatype_from_config(type_name: str) -> str:
    """Model config enum name -> protocol name ("TYPE_STRING" -> "BYTES")."""
    name = type_name.removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def datatype_of(array: np.ndarray) -> str:
    """The protocol name of a numpy array's dtype."""
    if array.dtype.kind in "OSU":
        return "BYTES"
    for name, dtype in NUMPY_BY_DATATYPE.items():
        if dtype == array.dtype:
            return name
    raise TypeError(f"numpy dtype {array.dtype} has no protocol datatype")


def serialize_bytes(array: np.ndarray) -> bytes:
    """BYTES tensor -> raw form: each element as a 4-byte little-endian length and its bytes."""
    parts = []
    for item in array.reshape(-1):
        data = item if isinstance(item, bytes) else str(item).encode()
        parts.append(len(data).to_bytes(4, "little"))
        parts.append(data)
    return b"".join(parts)


def deserialize_bytes(raw: bytes, count: int) -> list[bytes] | None:
    """Raw BYTES form -> `count` elements, or None when the framing does not add up."""
    items, offset = [], 0
    for _ in range(count):
        if offset + 4 > len(raw):
            return None
        size = int.from_bytes(raw[offset : offset + 4], "little")
        offset += 4
        if offset + size > len(raw):
            return None
        items.append(raw[offset : offset + size])
        offset += size
    return items if offset == len(raw) else None
