"""KServe's own Python REST client against a Striate server: live, ready, metadata, infer with
JSON and with binary tensors. Runs in its own venv (kserve pins pandas and python-dateutil
below what the shared venv holds): `make kserve-venv`, then
`.venv-kserve/bin/python tests/protocol/kserve_client_check.py http://127.0.0.1:8000 MODEL`,
where MODEL takes FP32 x [batch, 4] and answers y = 2 x. Exits non-zero on any mismatch."""

from __future__ import annotations

import asyncio
import sys

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.rest.v2_datamodels import ModelMetadataResponse


async def check(base_url: str, model: str) -> None:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    try:
        assert await client.is_server_live(base_url), "server not live"
        assert await client.is_server_ready(base_url), "server not ready"
        assert await client.is_model_ready(base_url, model), "model not ready"
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{base_url}/v2/models/{model}")
        metadata = ModelMetadataResponse.model_validate(answer.json())
        assert metadata.name == model and metadata.inputs[0].shape == [-1, 4], metadata
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        for binary in (False, True):
            tensor = InferInput("x", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x, binary_data=binary)
            request = InferRequest(model_name=model, infer_inputs=[tensor],
                                   request_id=f"kserve-{binary}")
            response = await client.infer(base_url, request, model_name=model)
            y = response.outputs[0].as_numpy()
            np.testing.assert_array_equal(y, x * 2)
            print(f"infer ({'binary' if binary else 'JSON'}): ok, id {response.id}")
    finally:
        await client.close()
    print("PASS: KServe REST client")


if __name__ == "__main__":
    asyncio.run(check(sys.argv[1], sys.argv[2]))
