"""Small helpers shared by the integration tests (tritonclient only: no `service` imports)."""

from __future__ import annotations

import time
import urllib.request

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


def pending(server, model: str) -> float:
    """The server's pending-request gauge for a model (queued or running)."""
    text = urllib.request.urlopen(server.http_url + "/metrics").read().decode()
    prefix = f'striate_inference_pending_request_count{{model="{model}",version="1"}} '
    line = next((line for line in text.splitlines() if line.startswith(prefix)), None)
    return float(line.split()[-1]) if line else 0.0


def wait_for_pending(server, model: str, condition, timeout: float = 30) -> None:
    """Wait until `condition(pending count)` holds."""
    deadline = time.monotonic() + timeout
    while not condition(pending(server, model)):
        assert time.monotonic() < deadline, f"{model}'s pending count never settled"
        time.sleep(0.005)
