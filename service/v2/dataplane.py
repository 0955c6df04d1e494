"""The v2 protocol's logic, once, for both transports.

The gRPC servicer and the REST routes convert their requests into the types here
(`InferRequest`, plain names and values), call a `DataPlane` method, and convert what comes
back (an `InferResult`, or the protocol's own messages, which REST writes as JSON).
Shared memory, classification, sequence flags, model control overrides and the live
settings all live here, so both transports behave the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import grpc
import numpy as np
from google.protobuf import json_format

from contract.batching import is_batched
from contract.datatypes import NUMPY_BY_DATATYPE, deserialize_bytes
from contract.datatypes import serialize_bytes as _serialize_bytes
from contract.protocol import grpc_service_pb2 as pb

from .. import __version__
from ..config import ModelConfig
from ..core import InferenceCore, check_input_specs
from ..errors import (
    InvalidInput,
    ModelLoadError,
    RepositoryPollError,
    StriateError,
)
from ..live_settings import LogSettings, TraceSettings
from ..names import check_model_name
from ..repository import LoadedModel, LoadOverride
from ..sequence import SequenceFlags
from ..shm import SharedMemoryRegistry, ShmRef, cuda_unavailable
from ..signature import Signature, config_datatype

log = logging.getLogger(__name__)

EXTENSIONS = ["classification", "sequence", "model_repository", "schedule_policy",
              "model_configuration", "system_shared_memory", "binary_tensor_data",
              "parameters", "statistics", "trace", "logging"]
DEFAULT_PRIORITY = 1 << 30
INLINE_ELEMENTS = 1 << 16
"""Requests with more elements to decode one by one (typed values, BYTES) than this are
decoded off the event loop; raw numeric data becomes an array without a copy, inline."""
_CHUNK = 1 << 14
NAME_MAX = 255


@dataclass
class InputTensor:
    """One input as a transport received it, not decoded yet: raw bytes (binary form), typed
    values (a flat sequence), or where it lies in shared memory."""

    name: str
    datatype: str
    shape: list[int]
    raw: bytes | memoryview | None = None
    values: Sequence | None = None
    shm: ShmRef | None = None


@dataclass
class RequestedOutput:
    name: str
    class_count: int = 0
    shm: ShmRef | None = None


@dataclass
class InferRequest:
    model_name: str
    model_version: str = ""
    id: str = ""
    inputs: list[InputTensor] = field(default_factory=list)
    outputs: list[RequestedOutput] = field(default_factory=list)
    priority: int = 0
    timeout_s: float | None = None
    sequence: SequenceFlags | None = None


@dataclass
class OutputTensor:
    """One output: its array, or (data None) the shared memory it was written to."""

    name: str
    datatype: str
    shape: list[int]
    data: np.ndarray | None = None
    shm: ShmRef | None = None


@dataclass
class InferResult:
    model_name: str
    model_version: str
    id: str
    outputs: list[OutputTensor]


@dataclass
class ControlSettings:
    """Server flags the model control API obeys."""

    explicit: bool = False
    allow_file_overrides: bool = False
    max_override_bytes: int = 256 << 20
    override_root: Path | None = None


class _Precondition(InvalidInput):
    code = grpc.StatusCode.FAILED_PRECONDITION


def tensor_from_bytes(name: str, datatype: str, shape: list[int], data) -> np.ndarray:
    """Raw tensor bytes (the binary form both transports and shared memory use) -> array."""
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input '{name}' has shape {list(shape)}; dimensions must not be "
                           "negative")
    if datatype not in NUMPY_BY_DATATYPE:
        raise InvalidInput(f"input '{name}' has unknown datatype '{datatype}'; use one of "
                           f"{sorted(NUMPY_BY_DATATYPE)}")
    count = math.prod(shape)
    if datatype == "BYTES":
        items = deserialize_bytes(bytes(data), count)
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


def tensor_from_values(name: str, datatype: str, shape: list[int],
                       values: Sequence) -> np.ndarray:
    """Typed values, flat in row-major order (gRPC contents, REST JSON data) -> array."""
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidInput(f"input '{name}' has {len(values)} values; shape {list(shape)} "
                           f"needs {count}")
    dtype = object if datatype == "BYTES" else NUMPY_BY_DATATYPE[datatype]
    try:
        array = np.empty(count, dtype)
        for begin in range(0, count, _CHUNK):
            array[begin:begin + _CHUNK] = values[begin:begin + _CHUNK]
            time.sleep(0)  # hand the GIL to the event loop between chunks
        return array.reshape(shape)
    except (OverflowError, ValueError, TypeError) as exc:
        raise InvalidInput(f"input '{name}': a value is not a {datatype}") from exc


def input_specs(inputs: list[InputTensor]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each input's datatype and shape as the request declares them, checked for consistency
    without touching the tensor data."""
    specs = {}
    for tensor in inputs:
        if tensor.name in specs:
            raise InvalidInput(f"input '{tensor.name}' appears twice in the request")
        shape = tuple(tensor.shape)
        if any(d < 0 for d in shape):
            raise InvalidInput(f"input '{tensor.name}' has shape {list(shape)}; dimensions "
                               "must not be negative")
        if tensor.datatype not in NUMPY_BY_DATATYPE:
            raise InvalidInput(f"input '{tensor.name}' has unknown datatype '{tensor.datatype}'; "
                               f"use one of {sorted(NUMPY_BY_DATATYPE)}")
        specs[tensor.name] = (tensor.datatype, shape)
    return specs


def tensor_to_bytes(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        return _serialize_bytes(array)
    return np.ascontiguousarray(array).tobytes()


def shm_ref(name: str, params: dict) -> ShmRef | None:
    """The shared_memory_* parameters of a tensor (plain values), or None."""
    region = params.get("shared_memory_region")
    if not region:
        return None
    if "shared_memory_byte_size" not in params:
        raise InvalidInput(f"tensor '{name}' names shared memory region '{region}' without "
                           "shared_memory_byte_size")
    return ShmRef(str(region), int(params.get("shared_memory_offset", 0)),
                  int(params["shared_memory_byte_size"]))


def sequence_flags(params: dict) -> SequenceFlags | None:
    if "sequence_id" not in params and "sequence_start" not in params:
        return None
    return SequenceFlags(params.get("sequence_id", 0), bool(params.get("sequence_start")),
                         bool(params.get("sequence_end")))


def priority_timeout(params: dict) -> tuple[int, float | None]:
    """The `priority` and `timeout` (microseconds, as Triton) parameters. Priority 1 is the
    most urgent; requests without one queue after every explicit level."""
    priority = _whole_number(params, "priority")
    timeout_us = _whole_number(params, "timeout")
    return priority or DEFAULT_PRIORITY, (timeout_us / 1e6 if timeout_us else None)


def _whole_number(params: dict, key: str) -> int:
    """A non-negative integer parameter, sent as a number (int64, uint64) or a digit string."""
    value = params.get(key, 0)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"the '{key}' parameter must be a whole number (int64, uint64 or a "
                           f"string of digits); got {value!r}")
    if value < 0:
        raise InvalidInput(f"the '{key}' parameter must not be negative; got {value}")
    return value


class DataPlane:
    """Every v2 operation, transport-free."""

    def __init__(self, core: InferenceCore, state, control: ControlSettings) -> None:
        self.core = core
        self.state = state  # .ready: startup done and not shutting down
        self.control = control
        self.shm = SharedMemoryRegistry()
        self.log_settings = LogSettings()
        self.trace_settings = TraceSettings()
        self._override_dirs: dict[str, Path] = {}

    # health and metadata
    def server_ready(self) -> bool:
        return self.state.ready

    def model_ready(self, name: str, version: str = "") -> bool:
        return self.core.is_ready(name, version)

    def server_metadata(self) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="striate", version=__version__,
                                         extensions=EXTENSIONS)

    def model_metadata(self, name: str, version: str = "") -> pb.ModelMetadataResponse:
        model = self.core.model(name, version)
        batched = is_batched(model.config)

        def tensors(specs):
            return [pb.ModelMetadataResponse.TensorMetadata(
                name=t.name, datatype=config_datatype(t.data_type),
                shape=([-1] if batched else []) + list(t.dims)) for t in specs]

        return pb.ModelMetadataResponse(
            name=model.name, versions=self.core.versions_of(model.name),
            platform=model.config.platform,
            inputs=tensors(model.config.input), outputs=tensors(model.config.output))

    def model_config(self, name: str, version: str = "") -> ModelConfig:
        return self.core.model(name, version).config

    def statistics(self, name: str = "", version: str = "") -> pb.ModelStatisticsResponse:
        """Statistics of every loaded version (of one model, or of all)."""
        models = self.core.served(name, version)
        return pb.ModelStatisticsResponse(
            model_stats=[_statistics(m) for m in sorted(models, key=_version_order)])

    # model repository
    def repository_index(self, ready_only: bool = False) -> pb.RepositoryIndexResponse:
        return pb.RepositoryIndexResponse(models=[
            pb.RepositoryIndexResponse.ModelIndex(name=row.name, version=row.version,
                                                  state=row.state, reason=row.reason)
            for row in self.core.index(ready_only)])

    async def load(self, name: str, config_json: str | None = None,
                   files: dict[str, bytes] | None = None) -> None:
        """Load or reload a model, with Triton's `config` override and `file:` contents.
        The folder written for `file:` contents lives until the model is reloaded or unloaded."""
        self._require_explicit("load")
        check_model_name(name)
        config = None if config_json is None else _parse_config_override(name, config_json)
        if files and config is None:
            raise InvalidInput(f"failed to load '{name}': file: overrides need a config "
                               "override too (the 'config' parameter)")
        directory = self._write_override_files(name, files) if files else None
        try:
            await self.core.load(name, LoadOverride(config, directory))
        except StriateError as exc:
            _remove(directory)
            if not exc.message.startswith("failed to load"):
                exc.message = f"failed to load '{name}': {exc.message}"
            raise
        _remove(self._override_dirs.pop(name, None))
        if directory is not None:
            self._override_dirs[name] = directory

    async def unload(self, name: str) -> None:
        self._require_explicit("unload")
        await self.core.unload(name)
        _remove(self._override_dirs.pop(name, None))

    def close(self) -> None:
        """Release shared memory mappings and the folders written for `file:` overrides."""
        self.shm.close()
        for directory in self._override_dirs.values():
            _remove(directory)
        self._override_dirs.clear()

    def _require_explicit(self, action: str) -> None:
        if not self.control.explicit:
            raise _Precondition(f"cannot {action} models: the server runs with "
                                "--model-control-mode none; restart it with "
                                "--model-control-mode explicit")

    def _write_override_files(self, name: str, files: dict[str, bytes]) -> Path:
        """`file:<path>` contents into a private folder outside the repository."""
        refuse = f"failed to load '{name}', failed to poll from model repository"
        if not self.control.allow_file_overrides:
            raise RepositoryPollError(f"{refuse}: file: overrides are refused; start the "
                                      "server with --allow-file-overrides to accept them")
        total = sum(len(data) for data in files.values())
        if total > self.control.max_override_bytes:
            raise RepositoryPollError(f"{refuse}: the file: overrides hold {total} bytes, over "
                                      f"the limit of {self.control.max_override_bytes}")
        paths = {}
        for key, data in files.items():
            relative = PurePosixPath(key.removeprefix("file:"))
            if (relative.is_absolute() or ".." in relative.parts or not relative.parts
                    or any(len(part.encode()) > NAME_MAX for part in relative.parts)):
                raise RepositoryPollError(f"{refuse}: file: override path '{key[:80]}' must "
                                          "be relative, without '..', each part at most "
                                          f"{NAME_MAX} bytes")
            paths[relative] = data
        root = self.control.override_root or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = Path(tempfile.mkdtemp(prefix=f"{name[:40]}-", dir=root))
        for relative, data in paths.items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return directory

    # shared memory
    def shm_register(self, name: str, key: str, offset: int, byte_size: int) -> None:
        self.shm.register(name, key, offset, byte_size)

    def shm_unregister(self, name: str = "") -> None:
        self.shm.unregister(name)

    def shm_status(self, name: str = "") -> pb.SystemSharedMemoryStatusResponse:
        response = pb.SystemSharedMemoryStatusResponse()
        for region in self.shm.status(name):
            response.regions[region.name].CopyFrom(
                pb.SystemSharedMemoryStatusResponse.RegionStatus(
                    name=region.name, key=region.key, offset=region.offset,
                    byte_size=region.byte_size))
        return response

    def cuda_shm(self, what: str):
        raise cuda_unavailable(what)

    def cuda_shm_status(self, name: str = "") -> pb.CudaSharedMemoryStatusResponse:
        if name:
            raise cuda_unavailable(f"status of '{name}'")
        return pb.CudaSharedMemoryStatusResponse()

    # live settings
    def update_log_settings(self, changes: dict) -> dict:
        return self.log_settings.update(changes)

    def update_trace_settings(self, model: str, changes: dict[str, list[str]]) -> dict:
        if model:
            self.core.model(model)
        return self.trace_settings.update(model, changes)

    # inference
    async def infer(self, request: InferRequest, time_left: float | None = None) -> InferResult:
        model = self.core.model(request.model_name, request.model_version)
        specs = input_specs(request.inputs)
        check_input_specs(model, specs)  # before a byte of tensor data is decoded
        # a sequence's requests decode inline: they must reach its sequencer in arrival order
        if model.sequencer is None and elementwise_count(request.inputs) > INLINE_ELEMENTS:
            inputs = await asyncio.to_thread(decode_inputs, request.inputs, self.shm)
        else:
            inputs = decode_inputs(request.inputs, self.shm)
        timeout_s = _queue_timeout(model.signature, request.timeout_s)
        if time_left is not None:
            timeout_s = min(timeout_s or time_left, time_left)
        wanted = [o.name for o in request.outputs] or None
        arrays = await self.core.infer(model.name, inputs, version=model.version,
                                       outputs=wanted, timeout_s=timeout_s,
                                       priority=request.priority, sequence=request.sequence,
                                       model=model)
        return InferResult(model.name, model.version, request.id,
                           self._outputs(model, request.outputs, arrays))

    def _outputs(self, model: LoadedModel, requested: list[RequestedOutput],
                 arrays: dict[str, np.ndarray]) -> list[OutputTensor]:
        by_name = {o.name: o for o in requested}
        signature = model.signature
        results = []
        for name, array in arrays.items():
            spec = by_name.get(name)
            datatype = signature.output_datatypes[name]
            if spec is not None and spec.class_count:
                array = classify(array, spec.class_count, signature.batched,
                                 _labels(model, signature.output_labels[name]))
                datatype = "BYTES"
            tensor = OutputTensor(name, datatype, list(array.shape), array)
            if spec is not None and spec.shm is not None:
                self.shm.write(spec.shm, tensor_to_bytes(array, datatype))
                tensor.data, tensor.shm = None, spec.shm
            results.append(tensor)
        return results


def decode_inputs(inputs: list[InputTensor],
                  shm: SharedMemoryRegistry) -> dict[str, np.ndarray]:
    """Decode every input. Long loops run in chunks, so that in a worker thread they leave
    the event loop running."""
    arrays = {}
    for tensor in inputs:
        if tensor.shm is not None:
            view = shm.view(tensor.shm, _shm_size(tensor, tensor.shm))
            arrays[tensor.name] = tensor_from_bytes(tensor.name, tensor.datatype, tensor.shape,
                                                    view)
        elif tensor.raw is not None:
            arrays[tensor.name] = tensor_from_bytes(tensor.name, tensor.datatype, tensor.shape,
                                                    tensor.raw)
        else:
            arrays[tensor.name] = tensor_from_values(tensor.name, tensor.datatype,
                                                     tensor.shape, tensor.values or [])
    return arrays


def elementwise_count(inputs: list[InputTensor]) -> int:
    """How many elements decoding handles one by one: typed values and BYTES. Raw numeric
    data, inline or in shared memory, is viewed in place (np.frombuffer), whatever its size."""
    return sum(math.prod(tensor.shape) for tensor in inputs
               if tensor.datatype == "BYTES" or (tensor.shm is None and tensor.raw is None))


def _queue_timeout(signature: Signature, requested: float | None) -> float | None:
    """The request's timeout, or the config's default_queue_policy.default_timeout_microseconds
    when the request names none or may not override it."""
    if signature.default_timeout_s and (requested is None or not signature.timeout_overridable):
        return signature.default_timeout_s
    return requested


def _shm_size(tensor: InputTensor, region: ShmRef) -> int:
    if tensor.datatype == "BYTES":
        return region.byte_size
    dtype = NUMPY_BY_DATATYPE.get(tensor.datatype)
    if dtype is None:
        raise InvalidInput(f"input '{tensor.name}' has unknown datatype '{tensor.datatype}'")
    return math.prod(tensor.shape) * dtype.itemsize


def classify(array: np.ndarray, count: int, batched: bool, labels: list[str]) -> np.ndarray:
    """Triton's classification extension: the top `count` entries of each batch item as
    "score:index" or "score:index:label" BYTES, highest first."""
    if array.dtype == object:
        raise InvalidInput("class_count asks for a classification of a BYTES output; "
                           "only numeric outputs can be classified")
    rows = array.reshape(array.shape[0], -1) if batched else array.reshape(1, -1)
    count = min(count, rows.shape[1])
    result = []
    for row in rows:
        top = np.argsort(-row.astype(np.float64), kind="stable")[:count]
        result.append([_class_entry(row[i], int(i), labels) for i in top])
    out = np.array(result, dtype=object)
    return out if batched else out.reshape(count)


def _class_entry(score, index: int, labels: list[str]) -> bytes:
    text = f"{float(score):f}:{index}"
    if index < len(labels):
        text += f":{labels[index]}"
    return text.encode()


_LABEL_CACHE: dict[Path, list[str]] = {}


def _labels(model: LoadedModel, filename: str) -> list[str]:
    if not filename:
        return []
    path = model.directory / filename
    if path not in _LABEL_CACHE:
        try:
            _LABEL_CACHE[path] = path.read_text().splitlines()
        except OSError as exc:
            raise ModelLoadError(f"model '{model.name}': label file {path} cannot be read "
                                 f"({exc.strerror})") from exc
    return _LABEL_CACHE[path]


def _remove(directory: Path | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def _parse_config_override(name: str, text: str) -> ModelConfig:
    config = ModelConfig()
    try:
        json_format.Parse(text, config)
    except (json_format.ParseError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"failed to load '{name}': the config override is not a JSON "
                           f"model config ({str(exc)[:200]})") from exc
    return config


def _version_order(model: LoadedModel) -> tuple[str, int]:
    return model.name, int(model.version)


def _duration(d) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=d.count, ns=d.ns)


def _statistics(model: LoadedModel) -> pb.ModelStatistics:
    s = model.stats
    return pb.ModelStatistics(
        name=model.name, version=model.version, last_inference=s.last_inference_ms,
        inference_count=s.inference_count, execution_count=s.execution_count,
        inference_stats=pb.InferStatistics(
            success=_duration(s.success), fail=_duration(s.fail), queue=_duration(s.queue),
            compute_input=_duration(s.compute_input), compute_infer=_duration(s.compute_infer),
            compute_output=_duration(s.compute_output)),
        batch_stats=[pb.InferBatchStatistics(batch_size=size, compute_infer=_duration(d))
                     for size, d in sorted(s.batches.items())])
