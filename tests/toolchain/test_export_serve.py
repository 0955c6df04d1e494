"""Export tiny configurations, verify them, serve them, and compare served outputs with PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.toolchain.conftest import SERVED
from toolchain.architectures import BuildOptions, get
from toolchain.exporter import build_components, compare, run_torch
from toolchain.verification import verify_folder


def components_of(folder: Path):
    """The PyTorch components recorded in the folder's verification.json, rebuilt."""
    record = json.loads((folder / "verification.json").read_text())
    components = build_components(
        get(record["architecture"]), BuildOptions(**record["options"]), record["seed"]
    )
    return {component.suffix: component for component in components}


def served_outputs(client, model: str, component, inputs: dict[str, np.ndarray]) -> dict:
    requests = []
    for spec in component.inputs:
        request = triton.InferInput(spec.name, list(inputs[spec.name].shape), spec.datatype)
        request.set_data_from_numpy(inputs[spec.name])
        requests.append(request)
    wanted = [triton.InferRequestedOutput(spec.name) for spec in component.outputs]
    result = client.infer(model, requests, outputs=wanted)
    return {spec.name: result.as_numpy(spec.name) for spec in component.outputs}


@pytest.mark.parametrize("architecture", SERVED)
def test_export_writes_verified_folders(architecture: str, exported) -> None:
    for folder in exported[architecture]:
        record = json.loads((folder / "verification.json").read_text())
        assert record["checks"] and all(check["passed"] for check in record["checks"])
        assert (folder / "config.pbtxt").is_file() and (folder / "1" / "model.onnx").is_file()
        assert "Verification against PyTorch" in (folder / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("architecture", SERVED)
def test_served_outputs_match_pytorch(architecture: str, exported, server) -> None:
    client = triton.InferenceServerClient(server.grpc_url)
    for folder in exported[architecture]:
        record = json.loads((folder / "verification.json").read_text())
        component = components_of(folder)[record["component"]]
        assert client.is_model_ready(folder.name), server.log()[-3000:]
        for purpose in component.verify_purposes:
            inputs = component.make_inputs(purpose, np.random.default_rng(1234))
            served = served_outputs(client, folder.name, component, inputs)
            rows = compare(component, run_torch(component, inputs), served)
            assert all(row["passed"] for row in rows), rows


def test_captioning_encoder_names_its_served_decoder(exported, server) -> None:
    encoder, decoder = exported["vision_encoder_decoder"]
    client = triton.InferenceServerClient(server.grpc_url)
    config = client.get_model_config(encoder.name).config
    assert config.parameters["decoder"].string_value == decoder.name
    assert client.get_model_config(decoder.name).config.parameters["task"].string_value == (
        "component"
    )


def test_verify_command_rechecks_a_folder(exported) -> None:
    rows = verify_folder(exported["resnet18"][0])
    assert rows and all(row["passed"] for row in rows)
