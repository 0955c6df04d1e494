"""The config's `model_warmup` samples, as feeds the runtime can run at load time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from contract.batching import is_batched
from contract.datatypes import NUMPY_BY_DATATYPE
from contract.protocol import model_config_pb2 as mc

from .errors import ModelLoadError
from .signature import config_datatype
from .tensors import to_model_shapes


def warmup_feeds(config: mc.ModelConfig,
                 directory: Path) -> list[tuple[str, dict[str, np.ndarray], int]]:
    """(sample name, feed, count) for every warm-up sample. File data is read from
    `<model folder>/warmup/<input_data_file>`, raw bytes in the tensor's datatype."""
    rng = np.random.default_rng(0)
    feeds = []
    for sample in config.model_warmup:
        batch = [max(1, sample.batch_size)] if is_batched(config) else []
        feed = {}
        for name, spec in sample.inputs.items():
            datatype = config_datatype(spec.data_type)
            shape = batch + list(spec.dims)
            feed[name] = _sample_data(config.name, sample.name, name, datatype, shape, spec,
                                      directory, rng)
        feeds.append((sample.name, to_model_shapes(config, feed), max(1, sample.count)))
    return feeds


def _sample_data(model: str, sample: str, name: str, datatype: str, shape: list[int], spec,
                 directory: Path, rng: np.random.Generator) -> np.ndarray:
    if datatype == "BYTES":
        return np.full(shape, b"", dtype=object)
    dtype = NUMPY_BY_DATATYPE[datatype]
    choice = spec.WhichOneof("input_data_type")
    if choice == "random_data":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if choice == "input_data_file":
        path = directory / "warmup" / spec.input_data_file
        if not path.is_file():
            raise ModelLoadError(f"model '{model}': warm-up sample '{sample}' input '{name}' "
                                 f"reads {path}, which does not exist")
        data = np.frombuffer(path.read_bytes(), dtype=dtype)
        if data.size != int(np.prod(shape)):
            raise ModelLoadError(f"model '{model}': warm-up file {path} holds {data.size} "
                                 f"{datatype} values; shape {shape} needs {int(np.prod(shape))}")
        return data.reshape(shape)
    return np.zeros(shape, dtype=dtype)
