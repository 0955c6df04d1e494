"""Batching: the one set of defaults, and the one answer to "is this model batched".

The server's auto-complete of a bare ONNX file and the toolchain's model folders batch the
same way: `max_batch_size` 8 (when the graph allows a batch) and a dynamic batcher with no
preferred size, so an idle model runs a request at once and batches form from load (see
service/scheduler.py); `max_queue_delay` 2 ms bounds the wait should a config add preferred
sizes. The queue bound is the server's `--max-queue-size` unless a config states its own.
"""

from __future__ import annotations

from .protocol import model_config_pb2 as mc

DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_QUEUE_DELAY_US = 2000
DEFAULT_MAX_QUEUE_SIZE = 1024  # requests queued per model (the server's --max-queue-size)


def is_batched(config: mc.ModelConfig) -> bool:
    """Whether the first dimension of every input and output is the batch (Triton's rule)."""
    return config.max_batch_size > 0


def default_dynamic_batching() -> mc.ModelDynamicBatching:
    """The dynamic batcher a config gets when it states none: no preferred size, so no
    request is ever held back on purpose."""
    return mc.ModelDynamicBatching(max_queue_delay_microseconds=DEFAULT_QUEUE_DELAY_US)
