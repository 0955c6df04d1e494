"""A model version's request signature, read from its config once at load.

Every request is checked against the config's inputs and typed by its outputs. Walking the
protobuf config for that costs a few microseconds per field, and on a small model the whole
execution is a few hundred, so requests read this plain copy instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.batching import is_batched
from contract.datatypes import datatype_from_config
from contract.protocol import model_config_pb2 as mc


@dataclass(frozen=True)
class InputRule:
    name: str
    datatype: str
    """The protocol's name ("FP32", "BYTES")."""
    dims: tuple[int, ...]
    """Without the batch axis; -1 takes any size."""
    optional: bool


@dataclass(frozen=True)
class Signature:
    batched: bool
    max_batch_size: int
    inputs: dict[str, InputRule]
    output_datatypes: dict[str, str]
    output_labels: dict[str, str]
    """Output name -> its label file ("" for none)."""
    reshapes: bool
    """Whether any input or output has a `reshape` (most have none, and skip the reshaping)."""
    default_timeout_s: float | None
    """default_queue_policy's timeout; None for none."""
    timeout_overridable: bool


def config_datatype(type_enum: int) -> str:
    """A config's TYPE_* enum value -> the protocol's datatype name."""
    return datatype_from_config(mc.DataType.Name(type_enum))


def signature_of(config: mc.ModelConfig) -> Signature:
    policy = config.dynamic_batching.default_queue_policy
    return Signature(
        batched=is_batched(config),
        max_batch_size=config.max_batch_size,
        inputs={i.name: InputRule(i.name, config_datatype(i.data_type), tuple(i.dims),
                                  i.optional)
                for i in config.input},
        output_datatypes={o.name: config_datatype(o.data_type) for o in config.output},
        output_labels={o.name: o.label_filename for o in config.output},
        reshapes=any(t.HasField("reshape") for t in [*config.input, *config.output]),
        default_timeout_s=(policy.default_timeout_microseconds / 1e6
                           if policy.default_timeout_microseconds else None),
        timeout_overridable=policy.allow_timeout_override,
    )
