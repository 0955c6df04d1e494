"""A request that makes ONNX Runtime fail inside a batch fails alone; its neighbours succeed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tritonclient.grpc as triton

from tests.hardening.conftest import BATCHING_VQA

GOOD_REQUESTS = 7


def _vqa_inputs(question: np.ndarray) -> list[triton.InferInput]:
    image = triton.InferInput("image", [1, 64, 64, 3], "UINT8")
    image.set_data_from_numpy(np.full((1, 64, 64, 3), 128, np.uint8))
    tokens = triton.InferInput("question", [1, 12], "INT64")
    tokens.set_data_from_numpy(question.reshape(1, 12))
    return [image, tokens]


def _ask(url: str, question: np.ndarray):
    with triton.InferenceServerClient(url) as client:
        try:
            return client.infer(BATCHING_VQA, _vqa_inputs(question)).as_numpy("probabilities")
        except triton.InferenceServerException as error:
            return error


def test_out_of_range_token_fails_only_its_own_request(server):
    good = np.ones(12, np.int64)
    bad = good.copy()
    bad[3] = 10**9
    questions = [good] * 3 + [bad] + [good] * (GOOD_REQUESTS - 3)
    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(lambda q: _ask(server.grpc_url, q), questions))

    culprit = results.pop(3)
    assert isinstance(culprit, triton.InferenceServerException)
    assert culprit.status() == "StatusCode.INVALID_ARGUMENT"
    assert "out of data bounds" in culprit.message()
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, f"innocent requests failed: {errors}"
    assert all(r.shape == (1, 13) for r in results)
    assert server.process.poll() is None
    shared = f"model '{BATCHING_VQA}': a batch of"
    assert shared in server.log(), "the requests never shared a batch"
