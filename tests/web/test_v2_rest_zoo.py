"""REST v2 against the shipped models: tritonclient.http and KServe's REST client see what
gRPC clients see (live, ready, metadata, and the same answer or the same error to the same
request, with JSON and with binary tensors)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from tests.support.server import ROOT

KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
KSERVE_CHECK = ROOT / "tests" / "protocol" / "kserve_client_check.py"


@pytest.fixture(scope="module")
def clients(zoo_server):
    with grpcclient.InferenceServerClient(zoo_server.grpc_url) as grpc_client, \
            httpclient.InferenceServerClient(f"127.0.0.1:{zoo_server.http_port}") as http_client:
        yield grpc_client, http_client


def ready_models(grpc_client) -> list[str]:
    index = grpc_client.get_model_repository_index().models
    return sorted({m.name for m in index if m.state == "READY"})


def zeros_for(metadata: dict) -> dict[str, np.ndarray]:
    """Zeros shaped by the metadata: batch 1, free dimensions 8."""
    arrays = {}
    for spec in metadata["inputs"]:
        shape = [1 if i == 0 and d == -1 else (8 if d == -1 else d)
                 for i, d in enumerate(spec["shape"])]
        dtype = triton_to_np_dtype(spec["datatype"])
        arrays[spec["name"]] = (np.full(shape, b"0", dtype=object) if dtype == np.object_
                                else np.zeros(shape, dtype))
    return arrays


def grpc_answer(client, model: str, arrays: dict, datatypes: dict):
    tensors = []
    for name, array in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    try:
        result = client.infer(model, tensors)
    except InferenceServerException as exc:
        return exc.message()
    return {o.name: result.as_numpy(o.name) for o in result.get_response().outputs}


def http_answer(client, model: str, arrays: dict, datatypes: dict, binary: bool):
    tensors = []
    for name, array in arrays.items():
        tensor = httpclient.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    try:
        result = client.infer(model, tensors, request_id="zoo")
    except InferenceServerException as exc:
        return exc.message()
    assert result.get_response()["id"] == "zoo"
    return {o["name"]: result.as_numpy(o["name"]) for o in result.get_response()["outputs"]}


def test_every_shipped_model_answers_alike_over_rest_and_grpc(clients):
    grpc_client, http_client = clients
    assert http_client.is_server_live() and http_client.is_server_ready()
    models = ready_models(grpc_client)
    assert len(models) >= 5
    for model in models:
        assert http_client.is_model_ready(model)
        metadata = http_client.get_model_metadata(model)
        grpc_metadata = grpc_client.get_model_metadata(model, as_json=True)
        assert [i["name"] for i in metadata["inputs"]] == \
            [i["name"] for i in grpc_metadata["inputs"]]
        arrays = zeros_for(metadata)
        datatypes = {spec["name"]: spec["datatype"] for spec in metadata["inputs"]}
        expected = grpc_answer(grpc_client, model, arrays, datatypes)
        for binary in (False, True):
            answer = http_answer(http_client, model, arrays, datatypes, binary)
            if isinstance(expected, str):
                assert answer == expected, f"{model}: REST and gRPC disagree on the error"
                continue
            assert sorted(answer) == sorted(expected), model
            for name, value in expected.items():
                if value.dtype == np.object_:  # JSON carries BYTES as text
                    value = np.vectorize(lambda v: v.decode(), otypes=[object])(value)
                    got = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v,
                                       otypes=[object])(answer[name])
                    np.testing.assert_array_equal(got, value, err_msg=f"{model}.{name}")
                else:
                    np.testing.assert_allclose(answer[name], value, rtol=1e-5, atol=1e-6,
                                               err_msg=f"{model}.{name}")


@pytest.mark.skipif(not KSERVE_PYTHON.exists(), reason="KServe's SDK lives in its own venv: "
                    "run `make kserve-venv` (make test does)")
def test_kserve_rest_client_on_shipped_classifiers(zoo_server):
    result = subprocess.run([str(KSERVE_PYTHON), str(KSERVE_CHECK), zoo_server.http_url,
                             "lenet5_mnist", "fashion_cnn"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: KServe REST client" in result.stdout
