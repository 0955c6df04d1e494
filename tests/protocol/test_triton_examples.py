"""Triton's own Python client examples, run unchanged (only `-u`, and `-i`/`-d` where the
script has them) against one server that serves the models they expect, built in ONNX.

The scripts are a pinned copy (tests/protocol/triton_examples/, BSD-3, see its README).
Left out: the decoupled `simple_grpc_custom_repeat`, the CUDA shared memory scripts (no GPU
here), `memory_growth_test` (its URL is hard-coded) and `ensemble_image_client` (no ensembles).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tritonclient.http as httpclient

from tests.protocol.triton_models import build_repository
from tests.support.server import running_server

EXAMPLES = Path(__file__).parent / "triton_examples"
ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "exported_models/samples/blazeface_faces/astronaut.jpg"
MODELS = ["simple", "simple_string", "simple_int8", "simple_identity", "simple_sequence",
          "simple_dyna_sequence", "simple_string_dyna_sequence", "densenet_onnx"]
IMAGE_ARGS = ["-m", "densenet_onnx", "-s", "INCEPTION", "-c", "3", str(PHOTO)]

GRPC = [
    ("grpc_client.py",), ("grpc_explicit_byte_content_client.py",),
    ("grpc_explicit_int8_content_client.py",), ("grpc_explicit_int_content_client.py",),
    ("simple_grpc_aio_infer_client.py",), ("simple_grpc_async_infer_client.py",),
    ("simple_grpc_custom_args_client.py",), ("simple_grpc_infer_client.py",),
    ("simple_grpc_keepalive_client.py",), ("simple_grpc_string_infer_client.py",),
    ("simple_grpc_shm_client.py",), ("simple_grpc_shm_string_client.py",),
    ("simple_grpc_sequence_sync_infer_client.py",),
    ("simple_grpc_sequence_sync_infer_client.py", "-d"),
    ("simple_grpc_sequence_stream_infer_client.py",),
    ("simple_grpc_sequence_stream_infer_client.py", "-d"),
    ("simple_grpc_aio_sequence_stream_infer_client.py",),
    ("simple_grpc_aio_sequence_stream_infer_client.py", "-d"),
    ("reuse_infer_objects_client.py", "-i", "grpc"),
    ("grpc_image_client.py", *IMAGE_ARGS),
    ("image_client.py", "-i", "grpc", *IMAGE_ARGS),
    ("image_client.py", "-i", "grpc", "-a", "--streaming", *IMAGE_ARGS),
]


HTTP = [
    ("simple_http_aio_infer_client.py",), ("simple_http_async_infer_client.py",),
    ("simple_http_infer_client.py",), ("simple_http_string_infer_client.py",),
    ("simple_http_shm_client.py",), ("simple_http_shm_string_client.py",),
    ("simple_http_sequence_sync_infer_client.py",),
    ("simple_http_sequence_sync_infer_client.py", "-d"),
    ("reuse_infer_objects_client.py", "-i", "http"),
    ("image_client.py", "-i", "http", *IMAGE_ARGS),
    ("image_client.py", "-i", "http", "-a", *IMAGE_ARGS),
]


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    return build_repository(tmp_path_factory.mktemp("triton_models"))


@pytest.fixture(scope="module")
def server(repository):
    loads = [arg for name in MODELS for arg in ("--load-model", name)]
    with running_server(repository, "--model-control-mode", "explicit", *loads) as running:
        yield running


def http_address(server) -> str:
    return f"127.0.0.1:{server.http_port}"


def run_example(script: str, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, "-u", url, *args], cwd=EXAMPLES,
                          capture_output=True, text=True, timeout=180)


def assert_passes(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-3000:]}"


@pytest.mark.parametrize("example", GRPC, ids=" ".join)
def test_grpc_example(server, example):
    script, *args = example
    assert_passes(run_example(script, server.grpc_url, *args))


@pytest.mark.parametrize("example", HTTP, ids=" ".join)
def test_http_example(server, example):
    script, *args = example
    assert_passes(run_example(script, http_address(server), *args))


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_health_metadata_fails_only_on_the_server_name(server, transport):
    """The scripts check the server is called "triton"; everything before that passes."""
    url = server.grpc_url if transport == "grpc" else http_address(server)
    result = run_example(f"simple_{transport}_health_metadata.py", url)
    assert result.returncode != 0
    assert result.stdout.splitlines() == ["FAILED : get_server_metadata"], result.stdout


def test_model_control_examples_last(server, repository):
    """Run last: each unloads `simple` at its end (the HTTP one loads it first). The gRPC
    script expects eight models in the repository, the HTTP one seven: between the two, one
    model is unloaded and its folder removed, as an operator would."""
    assert_passes(run_example("simple_grpc_model_control.py", server.grpc_url))
    with httpclient.InferenceServerClient(http_address(server)) as client:
        client.unload_model("simple_string_dyna_sequence")
    shutil.rmtree(repository / "simple_string_dyna_sequence")
    assert_passes(run_example("simple_http_model_control.py", http_address(server)))
