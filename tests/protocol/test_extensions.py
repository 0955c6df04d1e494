"""Triton's protocol extensions on both transports, against one real server: REST v2 (JSON,
binary, compression, JSON errors), model control overrides, the config schema, shared memory,
sequences, settings RPCs, health names and Triton's metric names."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.integration.helpers import wait_for_pending
from tests.protocol import triton_models
from tests.support import models
from tests.support.server import running_server

UNSERVED = 'max_batch_size: 8\nresponse_cache { enable: true }\n'
BAD_WARMUP = """
max_batch_size: 8
model_warmup [ { name: "wrong_width" batch_size: 1
                 inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 5 ] zero_data: true } } } ]
"""
GOOD_WARMUP = BAD_WARMUP.replace("wrong_width", "ones").replace("dims: [ 5 ] zero_data",
                                                                 "dims: [ 4 ] random_data")
SHORT_IDLE = triton_models.SEQUENCE_CONFIG.format(state="ACC", extra_controls="").replace(
    "max_sequence_idle_microseconds: 5000000", "max_sequence_idle_microseconds: 200000")


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("extensions")
    models.save(models.scale_model(), root, "scale")
    for version in (1, 2):
        models.save(models.scale_model(factor=float(version)), root, "versioned",
                    version=version, config="version_policy { all {} }\n")
    models.save(models.scale_model(), root, "unserved", config=UNSERVED)
    models.save(models.scale_model(), root, "bad_warmup", config=BAD_WARMUP)
    models.save(models.scale_model(), root, "good_warmup", config=GOOD_WARMUP)
    models.save(models.echo_bytes_model(), root, "echo_bytes")
    models.save(triton_models._sequence(dyna=False, accumulate=True), root, "accumulate",
                config=SHORT_IDLE)
    return root


@pytest.fixture(scope="module")
def server(repository):
    with running_server(repository, "--model-control-mode", "explicit", "--allow-file-overrides",
                        *[arg for name in ("scale", "versioned", "echo_bytes", "accumulate")
                          for arg in ("--load-model", name)]) as running:
        yield running


@pytest.fixture()
def grpc_client(server):
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        yield client


@pytest.fixture()
def http_client(server):
    with httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}") as client:
        yield client


def http_input(name: str, array: np.ndarray, datatype: str, binary: bool):
    tensor = httpclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def post(server, path: str, body: bytes, headers: dict | None = None):
    request = urllib.request.Request(server.http_url + path, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("compression", [None, "gzip", "deflate"])
def test_rest_infer_json_binary_and_compressed(http_client, binary, compression):
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    result = http_client.infer(
        "scale", [http_input("x", x, "FP32", binary)],
        outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)],
        request_compression_algorithm=compression, response_compression_algorithm=compression)
    np.testing.assert_array_equal(result.as_numpy("y"), x * 2)
    assert ("binary_data_size" in json.dumps(result.get_response())) == binary


def test_rest_bytes_round_trip_both_forms(http_client):
    """JSON carries text, so tritonclient gives str back from JSON and bytes from binary."""
    text = np.array([[b"caf\xc3\xa9", b""], [b"x", b"yz"]], dtype=object)
    as_str = np.array([[v.decode() for v in row] for row in text], dtype=object)
    for binary, expected in ((False, as_str), (True, text)):
        result = http_client.infer("echo_bytes", [http_input("text", text, "BYTES", binary)],
                                   outputs=[httpclient.InferRequestedOutput("echo", binary)])
        np.testing.assert_array_equal(result.as_numpy("echo"), expected)


def test_rest_errors_are_json_sentences(server):
    status, _, body = post(server, "/v2/models/scale/infer", b"{not json")
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]
    request = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2]}]}
    status, _, body = post(server, "/v2/models/scale/infer", json.dumps(request).encode())
    assert status == 400 and "needs 4" in json.loads(body)["error"]
    status, _, body = post(server, "/v2/models/nope/infer", json.dumps(request).encode())
    assert status == 404
    assert json.loads(body)["error"].startswith("Request for unknown model: 'nope'")


def test_rest_gzip_body_with_binary_header(server):
    x = np.ones((1, 4), np.float32)
    header = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4],
                                     "parameters": {"binary_data_size": 16}}],
                         "outputs": [{"name": "y", "parameters": {"binary_data": True}}]})
    body = gzip.compress(header.encode() + x.tobytes())
    status, headers, answer = post(server, "/v2/models/scale/infer", body, {
        "Inference-Header-Content-Length": str(len(header)), "Content-Encoding": "gzip"})
    assert status == 200
    size = int(headers["Inference-Header-Content-Length"])
    assert json.loads(answer[:size])["outputs"][0]["parameters"]["binary_data_size"] == 16
    np.testing.assert_array_equal(np.frombuffer(answer[size:], np.float32), x.ravel() * 2)


def test_metadata_config_stats_and_versioned_ready_over_rest(http_client, server):
    assert http_client.get_server_metadata()["name"] == "striate"
    metadata = http_client.get_model_metadata("scale")
    assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert http_client.get_model_config("scale")["input"][0]["dims"] == [4]
    assert http_client.is_model_ready("versioned", "1")
    assert not http_client.is_model_ready("versioned", "7")
    stats = http_client.get_inference_statistics("versioned")["model_stats"]
    assert sorted(s["version"] for s in stats) == ["1", "2"]


def test_statistics_cover_every_loaded_version_over_grpc(grpc_client):
    stats = grpc_client.get_inference_statistics("versioned").model_stats
    assert sorted(s.version for s in stats) == ["1", "2"]


def test_duplicate_outputs_refused(grpc_client):
    x = np.ones((1, 4), np.float32)
    tensor = grpcclient.InferInput("x", [1, 4], "FP32")
    tensor.set_data_from_numpy(x)
    outputs = [grpcclient.InferRequestedOutput("y"), grpcclient.InferRequestedOutput("y")]
    with pytest.raises(InferenceServerException, match="more than once") as error:
        grpc_client.infer("scale", [tensor], outputs=outputs)
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"


def test_unserved_config_field_fails_the_load_naming_it(grpc_client):
    with pytest.raises(InferenceServerException, match="'response_cache'"):
        grpc_client.load_model("unserved")
    index = {m.name: m for m in grpc_client.get_model_repository_index().models}
    assert "response_cache" in index["unserved"].reason


def test_model_warmup_runs_its_samples(grpc_client):
    grpc_client.load_model("good_warmup")
    assert grpc_client.is_model_ready("good_warmup")
    with pytest.raises(InferenceServerException, match="warm-up sample 'wrong_width'"):
        grpc_client.load_model("bad_warmup")
    assert not grpc_client.is_model_ready("bad_warmup")


def test_unload_of_unknown_model_is_a_no_op(grpc_client, http_client):
    grpc_client.unload_model("never_loaded")
    http_client.unload_model("never_loaded")
    assert grpc_client.is_server_live()


def test_config_override_and_file_override(grpc_client, repository):
    onnx_bytes = (repository / "scale" / "1" / "model.onnx").read_bytes()
    grpc_client.load_model("from_files", config=json.dumps({"max_batch_size": 2}),
                           files={"file:1/model.onnx": onnx_bytes})
    assert grpc_client.get_model_config("from_files").config.max_batch_size == 2
    assert not (repository / "from_files").exists()  # written outside the repository
    with pytest.raises(InferenceServerException, match="without '..'"):
        grpc_client.load_model("escape", config="{}", files={"file:../x/model.onnx": b"x"})


def test_sequence_state_accumulates_and_idle_sequences_are_released(grpc_client):
    def send(value: int, start: bool = False, end: bool = False) -> int:
        tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
        tensor.set_data_from_numpy(np.array([[value]], np.int32))
        result = grpc_client.infer("accumulate", [tensor], sequence_id=42,
                                   sequence_start=start, sequence_end=end)
        return int(result.as_numpy("OUTPUT")[0, 0])

    assert [send(5, start=True), send(3), send(-1)] == [5, 8, 7]
    time.sleep(0.5)  # longer than the model's max_sequence_idle_microseconds (0.2 s)
    with pytest.raises(InferenceServerException, match="START flag"):
        send(1)
    assert send(2, start=True) == 2


def test_log_and_trace_settings_on_both_transports(grpc_client, http_client):
    settings = grpc_client.update_log_settings({"log_verbose_level": 1, "log_format": "ISO8601"})
    assert settings.settings["log_verbose_level"].uint32_param == 1
    assert http_client.get_log_settings()["log_format"] == "ISO8601"
    http_client.update_log_settings({"log_verbose_level": 0, "log_format": "default"})
    with pytest.raises(InferenceServerException, match="log_format must be one of"):
        http_client.update_log_settings({"log_format": "xml"})
    trace = http_client.update_trace_settings("scale", {"trace_level": ["TIMESTAMPS"]})
    assert trace["trace_level"] == ["TIMESTAMPS"]
    assert list(grpc_client.get_trace_settings().settings["trace_level"].value) == ["OFF"]


def test_cuda_shared_memory_is_unavailable_with_a_sentence(grpc_client):
    with pytest.raises(InferenceServerException, match="CUDA shared memory is not available") \
            as error:
        grpc_client.register_cuda_shared_memory("region", base64.b64encode(b"handle"), 0, 64)
    assert error.value.status() == "StatusCode.UNAVAILABLE"


def test_health_service_answers_for_the_names_it_registers(server):
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", "inference.GRPCInferenceService"):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=name))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_metrics_carry_triton_names_and_a_latency_histogram(http_client, server):
    http_client.infer("scale", [http_input("x", np.ones((1, 4), np.float32), "FP32", True)])
    text = urllib.request.urlopen(server.http_url + "/metrics").read().decode()
    assert 'nv_inference_request_success{model="scale",version="1"}' in text
    assert 'nv_inference_count{model="scale",version="1"}' in text
    assert 'striate_inference_request_latency_seconds_bucket{le="0.1",model="scale"' in text



KSERVE_PYTHON = Path(__file__).resolve().parents[2] / ".venv-kserve" / "bin" / "python"


@pytest.mark.skipif(not KSERVE_PYTHON.exists(), reason="KServe's SDK lives in its own venv: "
                    "run `make kserve-venv` (make test does)")
def test_kserve_rest_client(server):
    """KServe's Python REST client: live, ready, metadata, infer with JSON and binary."""
    result = subprocess.run([str(KSERVE_PYTHON), str(Path(__file__).parent /
                                                     "kserve_client_check.py"),
                             server.http_url, "scale", "--double"], capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: KServe REST client" in result.stdout


def test_queue_policy_default_timeout_expires_waiting_requests(tmp_path):
    """dynamic_batching.default_queue_policy.default_timeout_microseconds applies to requests
    that name no timeout: one queued behind a running batch (about 0.4 s) expires."""
    config = ("max_batch_size: 4\ndynamic_batching { default_queue_policy { "
              "default_timeout_microseconds: 20000 } }\n")
    models.save(models.slow_model(), tmp_path, "slow", config=config)
    with running_server(tmp_path) as server, \
            grpcclient.InferenceServerClient(server.grpc_url) as client:

        def send(batch: int) -> str:
            x = np.ones((batch, 64, 1024), np.float32)
            tensor = grpcclient.InferInput("x", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x)
            try:
                client.infer("slow", [tensor])
                return "ok"
            except InferenceServerException as exc:
                return exc.status()

        outcomes: list[str] = []
        blocker = threading.Thread(target=lambda: outcomes.append(send(4)))
        blocker.start()
        wait_for_pending(server, "slow", lambda count: count == 1)  # the blocker runs
        outcomes.append(send(1))
        blocker.join()
    assert sorted(outcomes) == ["StatusCode.DEADLINE_EXCEEDED", "ok"]


def test_concurrent_sequences_keep_their_own_state(server):
    """Four sequences interleaved from four threads: each running sum is its own."""
    results: dict[int, list[int]] = {}

    def run(sequence_id: int) -> None:
        with grpcclient.InferenceServerClient(server.grpc_url) as own:
            sums = []
            for step in range(5):
                tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
                tensor.set_data_from_numpy(np.array([[sequence_id]], np.int32))
                result = own.infer("accumulate", [tensor], sequence_id=sequence_id,
                                   sequence_start=step == 0, sequence_end=step == 4)
                sums.append(int(result.as_numpy("OUTPUT")[0, 0]))
            results[sequence_id] = sums

    threads = [threading.Thread(target=run, args=(sid,)) for sid in (101, 102, 103, 104)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {sid: [sid * n for n in range(1, 6)] for sid in (101, 102, 103, 104)}
