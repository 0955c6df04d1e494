"""The v2 protocol as tritonclient sees it: health, metadata, config, inference, statistics."""

from __future__ import annotations

import urllib.request

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.integration.helpers import assert_serving, infer, infer_input, wait_for_pending


def test_server_live_ready_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata.name == "striate"
    assert "model_repository" in metadata.extensions


def test_model_metadata_shows_batch_dimension(client):
    metadata = client.get_model_metadata("add_sub")
    assert metadata.versions == ["1"]
    assert {(t.name, t.datatype, tuple(t.shape)) for t in metadata.inputs} == {
        ("a", "FP32", (-1, 16)), ("b", "FP32", (-1, 16))}
    assert client.is_model_ready("add_sub")
    assert not client.is_model_ready("broken")


def test_config_from_file_and_completed_from_graph(client):
    config = client.get_model_config("add_sub").config
    assert config.max_batch_size == 64
    assert config.dynamic_batching.max_queue_delay_microseconds == 20000
    assert [o.name for o in config.output] == ["sum", "diff"]
    # scale_fp32 has no config.pbtxt: everything comes from the graph
    completed = client.get_model_config("scale_fp32").config
    assert completed.name == "scale_fp32"
    assert completed.platform == "onnxruntime_onnx"
    assert completed.max_batch_size > 0
    assert [(i.name, list(i.dims)) for i in completed.input] == [("x", [4])]
    assert [(o.name, list(o.dims)) for o in completed.output] == [("y", [4])]


@pytest.mark.parametrize("model,dtype", [("scale_fp32", np.float32), ("scale_uint8", np.uint8),
                                         ("scale_int64", np.int64), ("scale_fp16", np.float16)])
def test_infer_numeric_datatypes(client, model, dtype):
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=dtype)
    result = infer(client, model, x=x)
    y = result.as_numpy("y")
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, (x * 2).astype(dtype))


def test_infer_bytes_round_trip(client):
    text = np.array([["héllo".encode(), b"world"], [b"", b"striate"]], dtype=object)
    result = infer(client, "echo_bytes", text=text)
    np.testing.assert_array_equal(result.as_numpy("echo"), text)


def test_request_id_echoed_and_output_subset(client):
    a = np.random.default_rng(0).random((3, 16), dtype=np.float32)
    b = np.ones((3, 16), dtype=np.float32)
    result = client.infer("add_sub", [infer_input("a", a), infer_input("b", b)],
                          outputs=[triton.InferRequestedOutput("diff")], request_id="req-42")
    response = result.get_response()
    assert response.id == "req-42"
    assert [o.name for o in response.outputs] == ["diff"]
    np.testing.assert_allclose(result.as_numpy("diff"), a - b)
    assert result.as_numpy("sum") is None


def test_priority_and_timeout_parameters_accepted(client):
    x = np.ones((1, 4), dtype=np.float32)
    result = client.infer("scale_fp32", [infer_input("x", x)], priority=1, timeout=5_000_000)
    np.testing.assert_array_equal(result.as_numpy("y"), x * 2)


def _typed_request(model: str, name: str, datatype: str, shape, **contents):
    request = service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
    for field, values in contents.items():
        getattr(tensor.contents, field).extend(values)
    return request


def test_typed_contents(server):
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = _typed_request("scale_int64", "x", "INT64", [1, 4],
                                 int64_contents=[1, -2, 3, 2**40])
        response = stub.ModelInfer(request)
        values = np.frombuffer(response.raw_output_contents[0], dtype=np.int64)
        np.testing.assert_array_equal(values, [2, -4, 6, 2**41])
        request = _typed_request("echo_bytes", "text", "BYTES", [1, 2],
                                 bytes_contents=[b"a", b"bc"])
        raw = stub.ModelInfer(request).raw_output_contents[0]
        assert raw == b"\x01\x00\x00\x00a\x02\x00\x00\x00bc"


def test_version_policy_and_version_requests(client):
    x = np.ones((1, 4), dtype=np.float32)
    assert client.get_model_metadata("versioned").versions == ["1", "2", "3"]
    latest = client.infer("versioned", [infer_input("x", x)])
    assert latest.get_response().model_version == "3"
    np.testing.assert_array_equal(latest.as_numpy("y"), x * 3)
    first = client.infer("versioned", [infer_input("x", x)], model_version="1")
    np.testing.assert_array_equal(first.as_numpy("y"), x * 1)
    with pytest.raises(triton.InferenceServerException) as error:
        client.infer("versioned", [infer_input("x", x)], model_version="7")
    assert error.value.status() == "StatusCode.NOT_FOUND"


def test_repository_index_shows_failed_model_with_reason(client):
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert "samples" not in index
    assert index["add_sub"].state == "READY"
    assert index["broken"].state == "UNAVAILABLE"
    assert "ONNX Runtime could not load" in index["broken"].reason


def test_a_misspelt_or_mistyped_task_parameter_fails_the_load_naming_the_key(client, server):
    index = {m.name: m for m in client.get_model_repository_index().models}
    misspelt, mistyped = index["misspelt_parameter"], index["mistyped_parameter"]
    assert misspelt.state == mistyped.state == "UNAVAILABLE"
    assert ("parameter 'score_treshold' is not a detection parameter (did you mean "
            "'score_threshold'?)") in misspelt.reason
    assert "parameter 'score_threshold' is 'high', which is not a number" in mistyped.reason
    assert "score_treshold" in server.log()
    with pytest.raises(triton.InferenceServerException) as error:
        infer(client, "mistyped_parameter", x=np.zeros((1, 4), np.float32))
    assert error.value.status() == "StatusCode.UNAVAILABLE"
    assert "'score_threshold' is 'high'" in error.value.message()
    assert index["missing_labels"].state == "UNAVAILABLE"
    assert ("output 'y' names label_filename 'labels.txt', which is not in the model folder"
            in index["missing_labels"].reason)


def test_statistics_count_inferences(client):
    before = client.get_inference_statistics("scale_uint8").model_stats[0]
    infer(client, "scale_uint8", x=np.zeros((3, 4), dtype=np.uint8))
    after = client.get_inference_statistics("scale_uint8").model_stats[0]
    assert after.inference_count == before.inference_count + 3
    assert after.execution_count == before.execution_count + 1
    assert after.inference_stats.success.count == before.inference_stats.success.count + 1
    everything = client.get_inference_statistics()
    assert {"add_sub", "scale_uint8"} <= {s.name for s in everything.model_stats}


def test_health_service_and_http_endpoints(server, client):
    infer(client, "scale_fp32", x=np.zeros((1, 4), dtype=np.float32))
    with grpc.insecure_channel(server.grpc_url) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/add_sub/ready"):
        assert urllib.request.urlopen(server.http_url + path).status == 200
    metrics = urllib.request.urlopen(server.http_url + "/metrics").read().decode()
    assert 'striate_inference_request_success_total{model="scale_fp32",version="1"}' in metrics
    assert "striate_inference_exec_count_total" in metrics
    assert "striate_inference_queue_duration_us_total" in metrics
    assert "striate_inference_pending_request_count" in metrics


def test_stream_infer_answers_each_request(client):
    import queue

    results: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        for index in range(5):
            x = np.full((1, 4), index, dtype=np.float32)
            client.async_stream_infer("scale_fp32", [infer_input("x", x)],
                                      request_id=str(index))
        bad = np.zeros((1, 5), dtype=np.float32)
        client.async_stream_infer("scale_fp32", [infer_input("x", bad)], request_id="bad")
        answers = [results.get(timeout=30) for _ in range(6)]
    finally:
        client.stop_stream()
    good = {r.get_response().id: r.as_numpy("y") for r, e in answers if e is None}
    assert sorted(good) == ["0", "1", "2", "3", "4"]
    for key, value in good.items():
        np.testing.assert_array_equal(value, np.full((1, 4), 2 * int(key), dtype=np.float32))
    errors = [e for _, e in answers if e is not None]
    assert len(errors) == 1 and "shape" in errors[0].message()


def test_a_client_leaving_mid_stream_cancels_its_queued_requests(server, client):
    """The client sends 30 slow requests, keeps its side open and leaves while they queue:
    the server drops what the stream left queued instead of running it for no one."""
    import threading

    sent, release = 30, threading.Event()
    x = np.ones((1, 16, 1024), np.float32)

    def requests():
        for index in range(sent):
            request = service_pb2.ModelInferRequest(model_name="slow_serial", id=str(index))
            request.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
            request.raw_input_contents.append(x.tobytes())
            yield request
        release.wait(60)  # the client never half-closes: it just goes away

    wait_for_pending(server, "slow_serial", lambda n: n == 0)
    before = client.get_inference_statistics("slow_serial").model_stats[0].execution_count
    with grpc.insecure_channel(server.grpc_url) as channel:
        call = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelStreamInfer(requests())
        try:
            wait_for_pending(server, "slow_serial", lambda n: n >= sent - 3)  # one at a time
            call.cancel()
        finally:
            release.set()
    wait_for_pending(server, "slow_serial", lambda n: n == 0)
    ran = client.get_inference_statistics("slow_serial").model_stats[0].execution_count - before
    assert ran < sent // 2, f"{ran} of {sent} requests ran after the client left"
    assert_serving(client)


def test_our_stubs_and_tritonclients_share_one_process(server):
    """contract.protocol registers in its own descriptor pool: importing it beside
    tritonclient raises no "duplicate symbol", and both speak the same wire."""
    from contract.protocol import grpc_service_pb2, grpc_service_pb2_grpc

    assert grpc_service_pb2.ModelInferRequest.DESCRIPTOR.full_name == \
        service_pb2.ModelInferRequest.DESCRIPTOR.full_name == "inference.ModelInferRequest"
    ours = grpc_service_pb2.ModelInferRequest(model_name="scale_fp32", id="r1")
    tensor = ours.inputs.add(name="x", datatype="FP32", shape=[1, 4])
    tensor.contents.fp32_contents.extend([1, 2, 3, 4])
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert (theirs.model_name, theirs.id) == ("scale_fp32", "r1")
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(ours)
    y = np.frombuffer(response.raw_output_contents[0], np.float32)
    np.testing.assert_array_equal(y, [2, 4, 6, 8])


def test_reflection_describes_both_apis(server):
    from google.protobuf import descriptor_pool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(server.grpc_url) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"inference.GRPCInferenceService", "striate.tasks.v1.TaskService",
                "grpc.health.v1.Health"} <= services
        pool = descriptor_pool.DescriptorPool(database)
        v2 = pool.FindServiceByName("inference.GRPCInferenceService")
        infer = v2.methods_by_name["ModelInfer"]
        assert infer.input_type.full_name == "inference.ModelInferRequest"
        config = v2.methods_by_name["ModelConfig"].output_type.fields_by_name["config"]
        assert "dynamic_batching" in config.message_type.fields_by_name
        tasks = pool.FindServiceByName("striate.tasks.v1.TaskService")
        classify = tasks.methods_by_name["Classify"]
        assert classify.output_type.full_name == "striate.tasks.v1.ClassifyResponse"
