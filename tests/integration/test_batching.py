"""Dynamic batching: concurrent callers each get exactly their own result."""

from __future__ import annotations

import asyncio

import numpy as np
import tritonclient.grpc.aio as triton_aio

from tests.integration.helpers import infer, infer_input


def test_64_concurrent_requests_each_get_their_own_result(server, client):
    rng = np.random.default_rng(7)
    pairs = [(rng.random((1, 16), dtype=np.float32), rng.random((1, 16), dtype=np.float32))
             for _ in range(64)]
    alone = [infer(client, "add_sub", a=a, b=b) for a, b in pairs[:4]]
    before = client.get_inference_statistics("add_sub").model_stats[0]

    async def send_all():
        async with triton_aio.InferenceServerClient(server.grpc_url) as aio_client:
            calls = [aio_client.infer("add_sub", [infer_input("a", a), infer_input("b", b)],
                                      request_id=str(i)) for i, (a, b) in enumerate(pairs)]
            return await asyncio.gather(*calls)

    results = asyncio.run(send_all())
    for index, ((a, b), result) in enumerate(zip(pairs, results)):
        assert result.get_response().id == str(index)
        np.testing.assert_array_equal(result.as_numpy("sum"), a + b)
        np.testing.assert_array_equal(result.as_numpy("diff"), a - b)
    for lone, result in zip(alone, results):
        np.testing.assert_array_equal(lone.as_numpy("sum"), result.as_numpy("sum"))
    after = client.get_inference_statistics("add_sub").model_stats[0]
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == 64
    assert executions < inferences
    assert any(b.batch_size > 1 for b in after.batch_stats)
