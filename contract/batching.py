"""Batching: the one set of defaults, and the one answer to "is this model batched".

The server's auto-complete of a bare ONNX file and the toolchain's model folders batch the
same way: `max_batch_size` 8 (when the graph allows a batch), a dynamic batcher with
preferred size min(8, max_batch_size) and a 2 ms bound on the wait for it. The queue bound
is the server's `--max-queue-size` unless a config states its own.
"""

from __future__ import annotations

from .protocol import model_config_pb2 as mc

DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_QUEUE_DELAY_US = 2000
DEFAULT_MAX_QUEUE_SIZE = 1024  # requests queued per model (the server's --max-queue-size)


def is_batched(config: mc.ModelConfig) -> bool:
    """Whether the first dimension of every input and output is the batch (Triton's rule)."""
    return config.max_batch_size > 0


def preferred_batch_sizes(max_batch_size: int) -> list[int]:
    return [min(DEFAULT_MAX_BATCH_SIZE, max_batch_size)] if max_batch_size > 0 else []


def default_dynamic_batching(max_batch_size: int) -> mc.ModelDynamicBatching:
    """The dynamic batcher a config gets when it states none."""
    return mc.ModelDynamicBatching(max_queue_delay_microseconds=DEFAULT_QUEUE_DELAY_US,
                                   preferred_batch_size=preferred_batch_sizes(max_batch_size))
