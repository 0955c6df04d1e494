"""A graph that runs only on some sizes of a free dimension: the other sizes are the caller's
mistake (INVALID_ARGUMENT naming the shapes), not the server's (INTERNAL)."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.support import models
from tests.support.server import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("repository")
    models.save(models.pairs_model(), repository, "pairs", config="max_batch_size: 4\n")
    with running_server(repository) as running:
        yield running


def _infer(client, row: np.ndarray):
    x = triton.InferInput("x", list(row.shape), "FP32")
    x.set_data_from_numpy(row)
    return client.infer("pairs", [x]).as_numpy("y")


def test_a_size_the_graph_cannot_take_is_invalid_argument(server):
    with triton.InferenceServerClient(server.grpc_url) as client:
        with pytest.raises(triton.InferenceServerException) as error:
            _infer(client, np.ones((1, 5), np.float32))
        assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert "[1, 5]" in error.value.message() and "broadcast" in error.value.message()
        assert "onnxruntime_src" not in error.value.message()
        assert _infer(client, np.arange(4, dtype=np.float32)[None]).tolist() == [[1.0, 5.0]]
