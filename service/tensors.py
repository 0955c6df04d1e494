"""The config's `reshape`: the shape clients send and see (`dims`) versus the shape the model
takes and gives (`reshape.shape`), both without the batch axis. Triton's quickstart models
depend on it (densenet_onnx takes [3,224,224] from clients and [1,3,224,224] in the graph)."""

from __future__ import annotations

import numpy as np

from contract.batching import is_batched
from contract.protocol import model_config_pb2 as mc

from .errors import InvalidInput


def _leading(config: mc.ModelConfig, array: np.ndarray) -> list[int]:
    return [array.shape[0]] if is_batched(config) and array.ndim else []


def to_model_shapes(config: mc.ModelConfig,
                    inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Client-shaped inputs -> the shapes the graph takes, where an input has a reshape."""
    reshaped = dict(inputs)
    for spec in config.input:
        array = inputs.get(spec.name)
        if array is None or not spec.HasField("reshape"):
            continue
        target = _leading(config, array) + list(spec.reshape.shape)
        try:
            reshaped[spec.name] = array.reshape(target)
        except ValueError as exc:
            raise InvalidInput(f"input '{spec.name}' of shape {list(array.shape)} cannot take "
                               f"the model's reshape {list(spec.reshape.shape)}") from exc
    return reshaped


def to_client_shapes(config: mc.ModelConfig,
                     outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Model-shaped outputs -> the config's dims, where an output has a reshape."""
    reshaped = dict(outputs)
    for spec in config.output:
        array = outputs.get(spec.name)
        if array is not None and spec.HasField("reshape"):
            reshaped[spec.name] = array.reshape(_leading(config, array) + list(spec.dims))
    return reshaped
