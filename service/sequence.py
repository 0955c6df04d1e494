"""Sequence batching (Triton's `sequence_batching`), beside the dynamic batcher.

A stateful model's requests carry a correlation id and start/end flags. Requests of one
sequence run one after the other, in the order they arrived; requests of different sequences
go through the model's ordinary scheduler, so they batch together (Triton's "oldest"
strategy; "direct" is accepted and served the same way, without pinning a sequence to a
batch slot). Before each request runs, the control inputs the config declares (START, END,
READY, CORRID) are added as tensors, and every implicit state input gets the state output of
the sequence's previous request (zeros at the start). A sequence that sends nothing for
`max_sequence_idle_microseconds` (default 1 s, as Triton) is dropped with its state; at most
`max_candidate_sequences` (oldest) or max_batch_size x instances (direct) sequences are
active at once, and further starts wait for a free slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from contract.batching import is_batched
from contract.datatypes import NUMPY_BY_DATATYPE
from contract.protocol import model_config_pb2 as mc

from .errors import InvalidInput, ModelLoadError
from .signature import config_datatype

log = logging.getLogger(__name__)

DEFAULT_IDLE_S = 1.0
Control = mc.ModelSequenceBatching.Control
Submit = Callable[[dict[str, np.ndarray], list[str] | None], Awaitable[dict[str, np.ndarray]]]


@dataclass(frozen=True)
class SequenceFlags:
    """What a request says about its sequence (protocol parameters sequence_*)."""

    correlation_id: int | str = 0
    start: bool = False
    end: bool = False

    @property
    def present(self) -> bool:
        return self.correlation_id not in (0, "")


@dataclass
class _Sequence:
    state: dict[str, np.ndarray] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    pending: int = 0


class SequenceBatcher:
    """Orders, decorates and carries state for the sequences of one model version."""

    def __init__(self, model_name: str, config: mc.ModelConfig) -> None:
        batching = config.sequence_batching
        self.model_name = model_name
        self.batched = is_batched(config)
        self.controls = [(c.name, control) for c in batching.control_input
                         for control in c.control]
        self.states = list(batching.state)
        self.idle_s = (batching.max_sequence_idle_microseconds / 1e6) or DEFAULT_IDLE_S
        instances = sum(g.count or 1 for g in config.instance_group) or 1
        if batching.WhichOneof("strategy_choice") == "oldest" and \
                batching.oldest.max_candidate_sequences > 0:
            self.max_sequences = batching.oldest.max_candidate_sequences
        else:
            self.max_sequences = max(1, config.max_batch_size) * instances
        self._sequences: dict[int | str, _Sequence] = {}
        self._slot_freed = asyncio.Condition()

    @property
    def active(self) -> int:
        return len(self._sequences)

    async def run(self, flags: SequenceFlags | None, inputs: dict[str, np.ndarray],
                  outputs: list[str] | None, submit: Submit) -> dict[str, np.ndarray]:
        """Run one request of a sequence through `submit` (the model's scheduler)."""
        if flags is None or not flags.present:
            raise InvalidInput(f"inference request to model '{self.model_name}' must specify a "
                               "non-zero or non-empty correlation ID (the sequence_id "
                               "parameter): it is a sequence model")
        sequence = await self._sequence_for(flags)
        sequence.pending += 1
        try:
            async with sequence.lock:
                batch = next(iter(inputs.values())).shape[0] if self.batched and inputs else 1
                feed = {**inputs, **self._control_tensors(flags, batch),
                        **self._state_tensors(sequence, batch)}
                wanted = None if outputs is None else \
                    outputs + [s.output_name for s in self.states if s.output_name not in outputs]
                result = await submit(feed, wanted)
                sequence.state = {s.input_name: result[s.output_name] for s in self.states}
                sequence.last_used = time.monotonic()
        finally:
            sequence.pending -= 1
        if flags.end:
            await self._release(flags.correlation_id, sequence)
        hidden = {s.output_name for s in self.states} - set(outputs or [])
        return {name: array for name, array in result.items() if name not in hidden}

    async def _sequence_for(self, flags: SequenceFlags) -> _Sequence:
        sequence = self._sequences.get(flags.correlation_id)
        if flags.start:
            if sequence is None:
                await self._wait_for_slot()
                sequence = self._sequences[flags.correlation_id] = _Sequence()
            else:
                sequence.state = {}
            sequence.last_used = time.monotonic()
            return sequence
        if sequence is not None and self._idle(sequence):
            del self._sequences[flags.correlation_id]
            sequence = None
        if sequence is None:
            raise InvalidInput(
                f"inference request for sequence {flags.correlation_id} to model "
                f"'{self.model_name}' must specify the START flag on the first request of the "
                "sequence (or the sequence was idle longer than "
                f"{self.idle_s:g}s and was released)")
        sequence.last_used = time.monotonic()
        return sequence

    async def _wait_for_slot(self) -> None:
        async with self._slot_freed:
            while True:
                self._drop_idle()
                if len(self._sequences) < self.max_sequences:
                    return
                oldest = min(s.last_used for s in self._sequences.values())
                wait = max(0.01, oldest + self.idle_s - time.monotonic())
                try:
                    await asyncio.wait_for(self._slot_freed.wait(), wait)
                except TimeoutError:
                    pass

    def _idle(self, sequence: _Sequence) -> bool:
        return not sequence.pending and time.monotonic() - sequence.last_used > self.idle_s

    def _drop_idle(self) -> None:
        for key, sequence in list(self._sequences.items()):
            if self._idle(sequence):
                log.info("model '%s': sequence %s idle for over %gs, released",
                         self.model_name, key, self.idle_s)
                del self._sequences[key]

    async def _release(self, key: int | str, sequence: _Sequence) -> None:
        if self._sequences.get(key) is sequence and not sequence.pending:
            del self._sequences[key]
            async with self._slot_freed:
                self._slot_freed.notify_all()

    def _control_tensors(self, flags: SequenceFlags, batch: int) -> dict[str, np.ndarray]:
        shape = [batch, 1] if self.batched else [1]
        tensors = {}
        for name, control in self.controls:
            if control.kind == Control.CONTROL_SEQUENCE_CORRID:
                datatype = config_datatype(control.data_type)
                value = flags.correlation_id
                if datatype == "BYTES":
                    tensors[name] = np.full(shape, str(value).encode(), dtype=object)
                    continue
                tensors[name] = np.full(shape, _integer_id(value, self.model_name),
                                        dtype=NUMPY_BY_DATATYPE[datatype])
                continue
            on = {Control.CONTROL_SEQUENCE_START: flags.start,
                  Control.CONTROL_SEQUENCE_END: flags.end,
                  Control.CONTROL_SEQUENCE_READY: True}[control.kind]
            tensors[name] = np.full(shape, *_false_true(control, on))
        return tensors

    def _state_tensors(self, sequence: _Sequence, batch: int) -> dict[str, np.ndarray]:
        tensors = {}
        for state in self.states:
            previous = sequence.state.get(state.input_name)
            if previous is not None and (not self.batched or previous.shape[0] == batch):
                tensors[state.input_name] = previous
                continue
            dtype = NUMPY_BY_DATATYPE[config_datatype(state.data_type)]
            dims = [d if d > 0 else 1 for d in state.dims]
            tensors[state.input_name] = np.zeros(([batch] if self.batched else []) + dims,
                                                 dtype=dtype)
        return tensors


def _false_true(control, on: bool) -> tuple[object, np.dtype]:
    """The value and dtype a START/END/READY control takes, from its *_false_true pair."""
    if len(control.int32_false_true) == 2:
        return control.int32_false_true[int(on)], np.dtype(np.int32)
    if len(control.fp32_false_true) == 2:
        return control.fp32_false_true[int(on)], np.dtype(np.float32)
    if len(control.bool_false_true) == 2:
        return control.bool_false_true[int(on)], np.dtype(np.bool_)
    return int(on), np.dtype(np.int32)


def _integer_id(value: int | str, model: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInput(f"model '{model}' takes integer correlation IDs; got "
                           f"'{value}'") from exc


def check_sequence_config(config: mc.ModelConfig) -> None:
    """Refuse at load what a sequence config gets wrong (unknown kinds, missing pairs)."""
    for control_input in config.sequence_batching.control_input:
        for control in control_input.control:
            if control.kind == Control.CONTROL_SEQUENCE_CORRID:
                if control.data_type == mc.TYPE_INVALID:
                    raise ModelLoadError(
                        f"model '{config.name}': control input '{control_input.name}' "
                        "(CONTROL_SEQUENCE_CORRID) needs a data_type")
            elif not (len(control.int32_false_true) == 2 or len(control.fp32_false_true) == 2
                      or len(control.bool_false_true) == 2):
                raise ModelLoadError(
                    f"model '{config.name}': control input '{control_input.name}' needs "
                    "exactly two values in int32_false_true, fp32_false_true or "
                    "bool_false_true")
