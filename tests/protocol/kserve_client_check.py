"""KServe's own Python REST client against a Striate server: live, ready, metadata, and
inference with JSON and with binary tensors. Runs in its own venv (kserve pins pandas and
python-dateutil below what the shared venv holds): `make kserve-venv`, then

    .venv-kserve/bin/python tests/protocol/kserve_client_check.py http://127.0.0.1:8000 MODEL...

Each model gets zeros shaped by its metadata (batch 1, free dimensions 8); the JSON and the
binary answers must agree. With `--double` the model must answer y = 2 x for FP32 x [batch, 4].
Exits non-zero on any mismatch."""

from __future__ import annotations

import argparse
import asyncio

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.rest.v2_datamodels import ModelMetadataResponse
from kserve.utils.numpy_codec import to_np_dtype


async def check_model(client: InferenceRESTClient, base_url: str, model: str,
                      double: bool) -> None:
    assert await client.is_model_ready(base_url, model), f"{model} not ready"
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{base_url}/v2/models/{model}")
    metadata = ModelMetadataResponse.model_validate(answer.json())
    assert metadata.name == model, metadata
    arrays = {t.name: np.zeros([1 if i == 0 and d == -1 else (8 if d == -1 else d)
                                for i, d in enumerate(t.shape)], to_np_dtype(t.datatype))
              for t in metadata.inputs}
    if double:
        arrays = {"x": np.arange(8, dtype=np.float32).reshape(2, 4)}
    answers = []
    for binary in (False, True):
        tensors = []
        for spec in metadata.inputs:
            tensor = InferInput(spec.name, list(arrays[spec.name].shape), spec.datatype)
            tensor.set_data_from_numpy(arrays[spec.name], binary_data=binary)
            tensors.append(tensor)
        request = InferRequest(model_name=model, infer_inputs=tensors,
                               request_id=f"kserve-{binary}")
        response = await client.infer(base_url, request, model_name=model)
        assert response.id == f"kserve-{binary}", response.id
        answers.append({o.name: o.as_numpy() for o in response.outputs})
    for name, value in answers[0].items():
        np.testing.assert_allclose(np.asarray(value, dtype=np.float64),
                                   np.asarray(answers[1][name], dtype=np.float64), rtol=1e-6)
    if double:
        np.testing.assert_array_equal(answers[1]["y"], arrays["x"] * 2)
    print(f"{model}: ready, metadata, infer JSON and binary agree")


async def main(base_url: str, models: list[str], double: bool) -> None:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    try:
        assert await client.is_server_live(base_url), "server not live"
        assert await client.is_server_ready(base_url), "server not ready"
        for model in models:
            await check_model(client, base_url, model, double)
    finally:
        await client.close()
    print("PASS: KServe REST client")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--double", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.base_url, args.models, args.double))
