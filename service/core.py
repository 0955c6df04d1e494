"""The core every API shares: model lookup, input validation, scheduling, statistics, and
the repository's lifecycle (index, load, unload). Servicers go through it, never into the
repository."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from contract.datatypes import datatype_of

from .errors import InvalidInput, ModelNotFound, ModelNotReady, StriateError
from .names import check_model_name
from .repository import READY, UNAVAILABLE, LoadedModel, LoadOverride, ModelRepository
from .sequence import SequenceFlags
from .signature import InputRule
from .tensors import to_client_shapes, to_model_shapes


@dataclass(frozen=True)
class IndexEntry:
    """One row of the repository index: a model version and its state."""

    name: str
    version: str
    state: str
    reason: str

CACHE_INPUT_PREFIX = "past_key_values"
"""Inputs named so carry a decoder's key/value cache, empty (length 0) at the first step."""


class InferenceCore:
    """Runs inference requests against the repository's models, whichever API they came from."""

    def __init__(self, repository: ModelRepository) -> None:
        self.repository = repository

    def model(self, model_name: str, version: str = "") -> LoadedModel:
        """A ready model version (raises ModelNotFound or ModelNotReady)."""
        return self.repository.get(model_name, version)

    def is_ready(self, model_name: str, version: str = "") -> bool:
        """Whether the model (version) can take requests now."""
        try:
            self.model(model_name, version)
        except StriateError:
            return False
        return True

    def models(self) -> list[LoadedModel]:
        """The latest ready version of every ready model."""
        return self.repository.ready_models()

    def versions_of(self, model_name: str) -> list[str]:
        """Every version of a model the repository knows, ready or not, oldest first."""
        entry = self.repository.entries.get(model_name)
        return list(entry.known_versions) if entry else []

    def served(self, model_name: str = "", version: str = "") -> list[LoadedModel]:
        """One ready model version; every served version of a model when no version is
        given; every served version of every model when no name."""
        if model_name and version:
            return [self.model(model_name, version)]
        if model_name:
            self.model(model_name)  # raises for an unknown or unready model
            return list(self.repository.entries[model_name].versions.values())
        return [m for e in self.repository.entries.values() for m in e.versions.values()]

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        """Every model folder and loaded model with its state (only READY ones if asked).
        A model unloaded and then removed from the repository is no longer listed."""
        entries = self.repository.entries
        folders = set(self.repository.folder_names())
        loaded = {name for name, entry in entries.items() if entry.versions}
        rows = []
        for name in sorted(folders | loaded):
            entry = entries.get(name)
            if entry is None:
                if not ready_only:
                    rows.append(IndexEntry(name, "", UNAVAILABLE, "not loaded"))
                continue
            if ready_only and entry.state != READY:
                continue
            rows += [IndexEntry(name, version, entry.state, entry.reason)
                     for version in entry.known_versions or [""]]
        return rows

    async def load(self, model_name: str, override: LoadOverride | None = None) -> None:
        """Load (or reload) a model folder of the repository; an override may replace its
        config and its files (Triton's load parameters)."""
        check_model_name(model_name)
        if (override is None or override.config is None) and \
                model_name not in self.repository.folder_names():
            raise ModelNotFound(f"failed to load '{model_name}', failed to poll from model "
                                f"repository: no model folder '{model_name}'; "
                                f"{self.repository.some_names()}")
        await self.repository.load(model_name, override)

    async def unload(self, model_name: str) -> None:
        """Unload every version of a model; in-flight requests finish first."""
        await self.repository.unload(model_name)

    async def infer(self, model_name: str, inputs: dict[str, np.ndarray], *, version: str = "",
                    outputs: list[str] | None = None, timeout_s: float | None = None,
                    priority: int = 0, sequence: SequenceFlags | None = None,
                    model: LoadedModel | None = None) -> dict[str, np.ndarray]:
        """Validate, queue and run one request; returns the requested outputs by name.

        A sequence model's requests (`sequence` set) go through its sequence batcher first.
        A transport that looked the model up and checked the inputs' declared datatypes and
        shapes against it (check_input_specs) passes that `model`, and they are not checked
        again.
        """
        start = time.perf_counter_ns()
        checked = model is not None
        model = model or self.model(model_name, version)
        deadline = time.monotonic() + timeout_s if timeout_s else None
        try:
            if not checked:
                validate_inputs(model, inputs)
            validate_outputs(model, outputs)
            feed = to_model_shapes(model.config, inputs) if model.signature.reshapes else inputs
            try:
                result = await _run(model, feed, outputs, deadline, priority, sequence)
            except ModelNotReady:
                # a reload swapped this version out between lookup and submit: use the new one
                model = self.model(model_name, version)
                result = await _run(model, feed, outputs, deadline, priority, sequence)
            if model.signature.reshapes:
                result = to_client_shapes(model.config, result)
        except StriateError as exc:
            model.stats.request_done(time.perf_counter_ns() - start, exc.reason)
            raise
        except asyncio.CancelledError:
            model.stats.request_done(time.perf_counter_ns() - start, "cancelled")
            raise
        except Exception:
            model.stats.request_done(time.perf_counter_ns() - start, "internal")
            raise
        model.stats.request_done(time.perf_counter_ns() - start)
        return result


async def _run(model: LoadedModel, inputs: dict[str, np.ndarray], outputs: list[str] | None,
               deadline: float | None, priority: int,
               sequence: SequenceFlags | None) -> dict[str, np.ndarray]:
    def submit(feed, wanted):
        return model.scheduler.submit(feed, wanted, deadline, priority)

    if model.sequencer is not None:
        return await model.sequencer.run(sequence, inputs, outputs, submit)
    if sequence is not None and sequence.present:
        raise InvalidInput(f"model '{model.name}' is not a sequence model; send its requests "
                           "without sequence_id, sequence_start and sequence_end")
    return await submit(inputs, outputs)


def validate_inputs(model: LoadedModel, inputs: dict[str, np.ndarray]) -> None:
    """Check names, datatypes and shapes against the model's config; InvalidInput if wrong."""
    check_input_specs(model, {name: (datatype_of(array), tuple(array.shape))
                              for name, array in inputs.items()})


def check_input_specs(model: LoadedModel, specs: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """validate_inputs on (datatype, shape) per input name: a transport calls it with what a
    request's header declares, before decoding a byte of tensor data."""
    declared = model.signature.inputs
    if not specs.keys() <= declared.keys():
        raise InvalidInput(f"model '{model.name}' has no input {sorted(specs - declared.keys())}; "
                           f"its inputs are {sorted(declared)}")
    if len(specs) < len(declared):
        missing = [n for n, i in declared.items() if n not in specs and not i.optional]
        if missing:
            raise InvalidInput(f"model '{model.name}' needs input {missing}, which the request "
                               "does not carry")
    checked = [_check_input(model, declared[name], actual, shape)
               for name, (actual, shape) in specs.items()]
    batch_sizes = {size for size in checked if size is not None}
    if len(batch_sizes) > 1:
        raise InvalidInput(f"the inputs of one request must share their batch size; got "
                           f"{sorted(batch_sizes)}")


def _check_input(model: LoadedModel, rule: InputRule, actual: str,
                 full_shape: tuple[int, ...]) -> int | None:
    """Check one input's datatype and shape; returns its batch size (None: not batched)."""
    name, signature = rule.name, model.signature
    if actual != rule.datatype:
        raise InvalidInput(f"input '{name}' of model '{model.name}' must be {rule.datatype}, "
                           f"got {actual}")
    dims = rule.dims
    batch, shape = None, full_shape
    if signature.batched:
        if not shape:
            raise InvalidInput(f"input '{name}' needs a batch dimension first: shape "
                               f"[batch, {', '.join(map(str, dims))}]")
        batch, shape = shape[0], shape[1:]
        if not 1 <= batch <= signature.max_batch_size:
            raise InvalidInput(f"input '{name}' has batch size {batch}; model "
                               f"'{model.name}' takes 1 to {signature.max_batch_size}")
    if not _shape_matches(shape, dims):
        shown = ([-1] if signature.batched else []) + list(dims)
        raise InvalidInput(f"input '{name}' of model '{model.name}' has shape "
                           f"{list(full_shape)}, expected {shown} (-1: any size)")
    if -1 in dims and not name.startswith(CACHE_INPUT_PREFIX):
        _refuse_empty_free_dims(model.name, name, full_shape, dims)
    return batch


def validate_outputs(model: LoadedModel, outputs: list[str] | None) -> None:
    """Check requested output names against the model's config; InvalidInput if unknown."""
    if not outputs:
        return
    known = model.signature.output_datatypes.keys()
    repeated = sorted({n for n in outputs if outputs.count(n) > 1})
    if repeated:
        raise InvalidInput(f"output {repeated} is requested more than once; name each "
                           "requested output once")
    unknown = [n for n in outputs if n not in known]
    if unknown:
        raise InvalidInput(f"model '{model.name}' has no output {unknown}; its outputs are "
                           f"{sorted(known)}")


def _refuse_empty_free_dims(model_name: str, name: str, shape: tuple[int, ...],
                            dims: tuple[int, ...]) -> None:
    """A size-0 dimension where the config allows any size (-1) is refused: ONNX Runtime
    aborts the whole process on some graphs given one (e.g. an empty token sequence to a
    GRU). Cache inputs are exempt: decoders take an empty cache by design.
    `shape` is the whole request shape; `dims` the config's, without the batch axis."""
    first = len(shape) - len(dims)
    for axis, declared in enumerate(dims, start=first):
        if shape[axis] == 0 and declared == -1:
            raise InvalidInput(f"input '{name}' of model '{model_name}' has an empty dimension "
                               f"(shape {list(shape)}, axis {axis} is 0); send at least one "
                               "element along every variable-size axis")


def _shape_matches(shape: tuple[int, ...], dims: tuple[int, ...]) -> bool:
    return len(shape) == len(dims) and all(d == -1 or d == s for s, d in zip(shape, dims))
