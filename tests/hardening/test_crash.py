"""Requests that used to crash the server now get INVALID_ARGUMENT, and it serves on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.support.server import running_server

ZOO = Path(__file__).resolve().parents[2] / "exported_models"
DECODER = "shapes_captioner_decoder"


@pytest.fixture(scope="module")
def decoder_server():
    with running_server(ZOO, "--model-control-mode", "explicit",
                        "--load-model", DECODER) as server:
        yield server


def _decoder_request(tokens: np.ndarray) -> list[triton.InferInput]:
    features = triton.InferInput("features", [1, 128], "FP32")
    features.set_data_from_numpy(np.zeros((1, 128), np.float32))
    token_input = triton.InferInput("tokens", list(tokens.shape), "INT64")
    token_input.set_data_from_numpy(tokens)
    return [features, token_input]


def test_empty_token_sequence_is_refused_not_fatal(decoder_server):
    with triton.InferenceServerClient(decoder_server.grpc_url) as client:
        with pytest.raises(triton.InferenceServerException) as error:
            client.infer(DECODER, _decoder_request(np.zeros((1, 0), np.int64)))
        assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert "empty dimension" in error.value.message()
        assert decoder_server.process.poll() is None, "the server process died"
        result = client.infer(DECODER, _decoder_request(np.ones((1, 3), np.int64)))
        assert result.as_numpy("logits").shape == (1, 3, 15)
