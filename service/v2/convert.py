"""Conversions between v2 protocol messages and numpy tensors (proto <-> internal types)."""

from __future__ import annotations

import math
import time

import numpy as np

from contract.protocol import grpc_service_pb2 as pb

from ..datatypes import NUMPY_BY_DATATYPE, deserialize_bytes, serialize_bytes
from ..errors import InvalidInput

DEFAULT_PRIORITY = 1 << 30

# typed-contents field of each datatype (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "INT8": "int_contents",
    "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


INLINE_ELEMENTS = 1 << 16
"""Requests with more elements than this are decoded off the event loop."""
_CHUNK = 1 << 14


def input_specs(request: pb.ModelInferRequest) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each input's datatype and shape as the header declares them, checked for consistency
    without touching the tensor data (so a transport can check them against the model first)."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries for "
                           f"{len(request.inputs)} inputs; send one per input, in order")
    specs = {}
    for tensor in request.inputs:
        if tensor.name in specs:
            raise InvalidInput(f"input '{tensor.name}' appears twice in the request")
        shape = tuple(tensor.shape)
        if any(d < 0 for d in shape):
            raise InvalidInput(f"input '{tensor.name}' has shape {list(shape)}; dimensions "
                               "must not be negative")
        if tensor.datatype not in NUMPY_BY_DATATYPE:
            raise InvalidInput(f"input '{tensor.name}' has unknown datatype '{tensor.datatype}'; "
                               f"use one of {sorted(NUMPY_BY_DATATYPE)}")
        if raw and tensor.HasField("contents"):
            raise InvalidInput(f"input '{tensor.name}' has typed contents while the "
                               "request uses raw_input_contents; use one form")
        specs[tensor.name] = (tensor.datatype, shape)
    return specs


def element_count(specs: dict[str, tuple[str, tuple[int, ...]]]) -> int:
    return sum(math.prod(shape) for _, shape in specs.values())


def inputs_from_request(request: pb.ModelInferRequest) -> dict[str, np.ndarray]:
    """Decode every input tensor of a request, raw or typed; InvalidInput when they don't add up.
    Long loops run in chunks, so that in a worker thread they leave the event loop running."""
    specs = input_specs(request)
    raw = request.raw_input_contents
    tensors = {}
    for index, tensor in enumerate(request.inputs):
        datatype, shape = specs[tensor.name]
        if raw:
            tensors[tensor.name] = _from_raw(tensor.name, datatype, shape, raw[index])
        else:
            tensors[tensor.name] = _from_contents(tensor, datatype, shape)
    return tensors


def _from_raw(name: str, datatype: str, shape: tuple[int, ...], data: bytes) -> np.ndarray:
    count = math.prod(shape)
    if datatype == "BYTES":
        items = deserialize_bytes(data, count)
        if items is None:
            raise InvalidInput(f"input '{name}': the BYTES data is not {count} elements each "
                               "framed by a 4-byte little-endian length")
        return np.array(items, dtype=object).reshape(shape)
    dtype = NUMPY_BY_DATATYPE[datatype]
    expected = count * dtype.itemsize
    if len(data) != expected:
        raise InvalidInput(f"input '{name}' has {len(data)} bytes of raw data; shape "
                           f"{list(shape)} of {datatype} needs {expected}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _from_contents(tensor, datatype: str, shape: tuple[int, ...]) -> np.ndarray:
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"input '{tensor.name}' is {datatype}, which has no typed contents; "
                           "send it in raw_input_contents")
    values = getattr(tensor.contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidInput(f"input '{tensor.name}' has {len(values)} values in {field}; shape "
                           f"{list(shape)} needs {count}")
    dtype = object if datatype == "BYTES" else NUMPY_BY_DATATYPE[datatype]
    try:
        array = np.empty(count, dtype)
        for begin in range(0, count, _CHUNK):
            array[begin:begin + _CHUNK] = values[begin:begin + _CHUNK]
            time.sleep(0)  # hand the GIL to the event loop between chunks
        return array.reshape(shape)
    except OverflowError as exc:
        raise InvalidInput(f"input '{tensor.name}': a value does not fit {datatype}") from exc


def fill_response(response: pb.ModelInferResponse, outputs: dict[str, np.ndarray],
                  datatypes: dict[str, str]) -> None:
    """Put every output in raw_output_contents (the only form tritonclient decodes)."""
    for name, array in outputs.items():
        datatype = datatypes[name]
        response.outputs.add(name=name, datatype=datatype, shape=list(array.shape))
        if datatype == "BYTES":
            response.raw_output_contents.append(serialize_bytes(array))
        else:
            response.raw_output_contents.append(np.ascontiguousarray(array).tobytes())


def request_options(request: pb.ModelInferRequest) -> tuple[int, float | None]:
    """The request's `priority` and `timeout` (microseconds, as Triton) parameters.

    Priority 1 is the most urgent; requests without one queue after every explicit level.
    """
    priority = _whole_number(request.parameters, "priority")
    timeout_us = _whole_number(request.parameters, "timeout")
    return priority or DEFAULT_PRIORITY, (timeout_us / 1e6 if timeout_us else None)


def _whole_number(params, key: str) -> int:
    """A non-negative integer parameter sent as int64, uint64 (tritonclient) or a string."""
    if key not in params:
        return 0
    param = params[key]
    kind = param.WhichOneof("parameter_choice")
    value = getattr(param, kind) if kind else None
    if kind == "string_param" and value.strip().isdigit():
        value = int(value)
    if kind not in ("int64_param", "uint64_param", "string_param") or not isinstance(value, int):
        raise InvalidInput(f"the '{key}' parameter must be a whole number (int64, uint64 or a "
                           f"string of digits); got {kind or 'no value'}")
    if value < 0:
        raise InvalidInput(f"the '{key}' parameter must not be negative; got {value}")
    return value
