"""Read (and, for tests, write) CTranslate2's `model.bin` without the ctranslate2 package.

The format (binary versions 4 to 6, little-endian):

```
uint32 binary_version
string spec_name; uint32 spec_revision
uint32 variable_count
  per variable: string name; uint8 rank; uint32 dims[rank]; uint8 dtype; uint32 byte_count; bytes
uint32 alias_count
  per alias: string alias; string variable_name
```

A `string` is a uint16 length (counting a trailing NUL) followed by the bytes and the NUL.
Scalars (flags such as `decoder/pre_norm`, counts such as `encoder/num_heads`) are rank-0
variables. Aliases share storage, e.g. Whisper's output projection is the token embedding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

SUPPORTED_VERSIONS = range(4, 7)
WRITTEN_VERSION = 6

# CTranslate2's DataType enum, in its order. bfloat16 is read into float32.
_DTYPES: dict[int, str] = {
    0: "float32",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "float16",
    5: "bfloat16",
}
_DTYPE_IDS = {name: code for code, name in _DTYPES.items()}


@dataclass
class CTranslate2Model:
    """The variables of a CTranslate2 model, by name; aliases resolve to their target."""

    spec: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variables[self.aliases.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str) -> int:
        """A rank-0 variable (a flag or a count) as a Python int."""
        return int(self[name].reshape(()))


class CTranslate2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader understands."""


def _read(stream: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize("<" + fmt)
    data = stream.read(size)
    if len(data) != size:
        raise CTranslate2FormatError("the file ends in the middle of a record (truncated?)")
    return struct.unpack("<" + fmt, data)


def _read_string(stream: BinaryIO) -> str:
    (length,) = _read(stream, "H")
    raw = stream.read(length)
    if len(raw) != length:
        raise CTranslate2FormatError("the file ends in the middle of a name (truncated?)")
    return raw.rstrip(b"\0").decode("utf-8")


def _decode_array(raw: bytes, dtype_id: int, dims: tuple[int, ...]) -> np.ndarray:
    dtype = _DTYPES.get(dtype_id)
    if dtype is None:
        raise CTranslate2FormatError(f"unknown data type id {dtype_id}")
    if dtype == "bfloat16":
        upper = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return upper.view(np.float32).reshape(dims)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims).copy()


def _read_variable(stream: BinaryIO) -> tuple[str, np.ndarray]:
    name = _read_string(stream)
    (rank,) = _read(stream, "B")
    dims = _read(stream, f"{rank}I") if rank else ()
    dtype_id, byte_count = _read(stream, "BI")
    raw = stream.read(byte_count)
    if len(raw) != byte_count:
        raise CTranslate2FormatError(f"variable {name!r} is truncated")
    return name, _decode_array(raw, dtype_id, dims)


def read_model_bin(path: str | Path) -> CTranslate2Model:
    """Parse a CTranslate2 `model.bin` into numpy arrays (dtypes as stored)."""
    with open(path, "rb") as stream:
        (version,) = _read(stream, "I")
        if version not in SUPPORTED_VERSIONS:
            raise CTranslate2FormatError(
                f"{path}: binary version {version} is not supported (this reader handles "
                f"{SUPPORTED_VERSIONS.start}-{SUPPORTED_VERSIONS.stop - 1}); re-convert the "
                "model with a recent ctranslate2"
            )
        spec = _read_string(stream)
        (revision,) = _read(stream, "I")
        (count,) = _read(stream, "I")
        variables = dict(_read_variable(stream) for _ in range(count))
        (alias_count,) = _read(stream, "I")
        aliases = {}
        for _ in range(alias_count):
            alias = _read_string(stream)
            aliases[alias] = _read_string(stream)
    return CTranslate2Model(spec, revision, variables, aliases)


def _write_string(stream: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8") + b"\0"
    stream.write(struct.pack("<H", len(raw)) + raw)


def write_model_bin(path: str | Path, model: CTranslate2Model) -> None:
    """Write `model` in binary version 6 (used by tests to build tiny models)."""
    with open(path, "wb") as stream:
        stream.write(struct.pack("<I", WRITTEN_VERSION))
        _write_string(stream, model.spec)
        stream.write(struct.pack("<II", model.spec_revision, len(model.variables)))
        for name, array in model.variables.items():
            dtype_id = _DTYPE_IDS.get(array.dtype.name)
            if dtype_id is None:
                raise CTranslate2FormatError(f"{name}: dtype {array.dtype} cannot be written")
            _write_string(stream, name)
            stream.write(struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape))
            raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            stream.write(struct.pack("<BI", dtype_id, len(raw)) + raw)
        stream.write(struct.pack("<I", len(model.aliases)))
        for alias, target in model.aliases.items():
            _write_string(stream, alias)
            _write_string(stream, target)
