"""Model control, message limits and graceful shutdown, each on a server of its own."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import tritonclient.grpc as triton
from onnx import TensorProto

from tests.integration.conftest import BATCHING
from tests.integration.helpers import infer, infer_input
from tests.support import models
from tests.support.server import running_server


def test_explicit_mode_load_infer_unload(tmp_path):
    models.save(models.scale_model(TensorProto.FLOAT), tmp_path, "scale")
    models.save(models.add_sub_model(), tmp_path, "add_sub", config=BATCHING)
    with running_server(tmp_path, "--model-control-mode", "explicit",
                        "--load-model", "add_sub") as server:
        client = triton.InferenceServerClient(server.grpc_url)
        states = {m.name: m.state for m in client.get_model_repository_index().models}
        assert states == {"add_sub": "READY", "scale": "UNAVAILABLE"}
        x = np.ones((1, 4), np.float32)
        with pytest.raises(triton.InferenceServerException) as error:
            infer(client, "scale", x=x)
        assert error.value.status() == "StatusCode.UNAVAILABLE"

        client.load_model("scale")
        assert client.is_model_ready("scale")
        np.testing.assert_array_equal(infer(client, "scale", x=x).as_numpy("y"), x * 2)

        client.unload_model("scale")
        assert not client.is_model_ready("scale")
        with pytest.raises(triton.InferenceServerException) as error:
            infer(client, "scale", x=x)
        assert error.value.status() == "StatusCode.UNAVAILABLE"
        assert "unloaded" in error.value.message()
        with pytest.raises(triton.InferenceServerException) as error:
            client.load_model("not_there")
        assert error.value.status() == "StatusCode.NOT_FOUND"


def test_reload_does_not_fail_requests_in_flight(tmp_path):
    models.save(models.slow_model(), tmp_path, "slow", config="max_batch_size: 4\n")
    with running_server(tmp_path, "--model-control-mode", "explicit",
                        "--load-model", "slow") as server:
        outcomes = []
        x = np.ones((1, 64, 1024), np.float32)

        def call():
            with triton.InferenceServerClient(server.grpc_url) as own:
                try:
                    own.infer("slow", [infer_input("x", x)])
                    outcomes.append("ok")
                except triton.InferenceServerException as exc:
                    outcomes.append(exc.message())

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        with triton.InferenceServerClient(server.grpc_url) as client:
            client.load_model("slow")  # reload while the requests are queued and running
            for thread in threads:
                thread.join()
            assert outcomes == ["ok"] * 8
            assert client.is_model_ready("slow")


def test_load_rpc_refused_without_explicit_mode(server, client):
    with pytest.raises(triton.InferenceServerException) as error:
        client.load_model("scale_fp32")
    assert error.value.status() == "StatusCode.FAILED_PRECONDITION"
    assert "--model-control-mode explicit" in error.value.message()


def test_message_limit_is_configurable(tmp_path):
    models.save(models.scale_model(TensorProto.FLOAT, width=4096), tmp_path, "wide")
    with running_server(tmp_path, "--max-message-mb", "1") as server:
        client = triton.InferenceServerClient(server.grpc_url)
        big = np.zeros((80, 4096), np.float32)  # 1.3 MB
        with pytest.raises(triton.InferenceServerException) as error:
            infer(client, "wide", x=big)
        assert error.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
        small = np.ones((2, 4096), np.float32)
        np.testing.assert_array_equal(infer(client, "wide", x=small).as_numpy("y"), small * 2)


def test_default_limit_carries_64_mib_both_ways(tmp_path):
    width = 2 * 1024 * 1024 + 1024
    models.save(models.scale_model(TensorProto.FLOAT, width=width), tmp_path, "huge")
    with running_server(tmp_path) as server:
        client = triton.InferenceServerClient(server.grpc_url)
        x = np.ones((8, width), np.float32)  # just over 64 MiB in, and out
        y = infer(client, "huge", x=x).as_numpy("y")
        assert y.shape == x.shape and float(y[7, -1]) == 2.0


def test_sigterm_finishes_in_flight_requests_and_exits_zero(tmp_path):
    models.save(models.slow_model(), tmp_path, "slow", config="max_batch_size: 4\n")
    with running_server(tmp_path) as server:
        outcomes = []
        x = np.ones((4, 64, 1024), np.float32)

        def call():
            with triton.InferenceServerClient(server.grpc_url) as own:
                result = own.infer("slow", [infer_input("x", x)])
                outcomes.append(float(result.as_numpy("y").sum()))

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        # wait until the requests are inside the server, then ask it to stop
        with triton.InferenceServerClient(server.grpc_url) as client:
            while client.get_inference_statistics("slow").model_stats[0].execution_count < 1:
                pass
        assert server.stop() == 0
        for thread in threads:
            thread.join()
        assert outcomes == [float(x.sum())] * 3
        assert "stopped" in server.log()


def test_copying_a_model_folder_is_enough_to_serve_it(tmp_path, repository):
    shutil.copytree(repository / "scale_fp32", tmp_path / "copied")
    with running_server(tmp_path) as server:
        client = triton.InferenceServerClient(server.grpc_url)
        assert client.get_model_config("copied").config.name == "copied"


def test_cuda_asked_for_without_the_provider_fails_at_startup(tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine really has the CUDA provider")
    models.save(models.scale_model(TensorProto.FLOAT), tmp_path, "scale")
    with pytest.raises(RuntimeError) as error:
        with running_server(tmp_path, "--device", "cuda"):
            pass
    assert "server exited with 1" in str(error.value)
    assert "has no CUDA provider" in str(error.value)
    assert "install onnxruntime-gpu" in str(error.value)
