"""Small helpers shared by the integration tests (tritonclient only: no `service` imports)."""

from __future__ import annotations

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import np_to_triton_dtype


def infer_input(name: str, array: np.ndarray) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    tensor.set_data_from_numpy(array)
    return tensor


def infer(client, model: str, **arrays: np.ndarray) -> triton.InferResult:
    return client.infer(model, [infer_input(n, a) for n, a in arrays.items()])


def assert_serving(client) -> None:
    """The server still answers a good request correctly."""
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    result = infer(client, "scale_fp32", x=x)
    np.testing.assert_array_equal(result.as_numpy("y"), x * 2)
