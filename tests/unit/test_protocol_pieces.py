"""Conversions and config handling, without a server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contract.datatypes import deserialize_bytes, serialize_bytes
from contract.protocol import grpc_service_pb2 as pb
from service.config import GraphTensor, complete_config, read_config
from service.errors import InvalidInput, ModelLoadError
from service.shm import SharedMemoryRegistry
from service.v2.convert import infer_request
from service.v2.dataplane import decode_inputs, elementwise_count

ROOT = Path(__file__).resolve().parents[2]


def inputs_from_request(request: pb.ModelInferRequest) -> dict[str, np.ndarray]:
    return decode_inputs(infer_request(request).inputs, SharedMemoryRegistry())


def test_bytes_framing_round_trip():
    items = [b"", b"a", "é".encode(), b"\x00\xff" * 10]
    raw = serialize_bytes(np.array(items, dtype=object))
    assert deserialize_bytes(raw, 4) == items
    assert deserialize_bytes(raw, 3) is None  # trailing bytes left over
    assert deserialize_bytes(raw[:-1], 4) is None  # truncated


def test_fp16_needs_raw_contents():
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="x", datatype="FP16", shape=[1])
    with pytest.raises(InvalidInput, match="raw_input_contents"):
        inputs_from_request(request)


def test_raw_and_typed_contents_decode_alike():
    raw = pb.ModelInferRequest(model_name="m")
    raw.inputs.add(name="x", datatype="INT16", shape=[2, 2])
    raw.raw_input_contents.append(np.array([1, -2, 3, 4], np.int16).tobytes())
    typed = pb.ModelInferRequest(model_name="m")
    typed.inputs.add(name="x", datatype="INT16", shape=[2, 2]).contents.int_contents.extend(
        [1, -2, 3, 4])
    np.testing.assert_array_equal(inputs_from_request(raw)["x"], inputs_from_request(typed)["x"])


def test_config_completed_from_graph_with_dynamic_batch(tmp_path):
    (tmp_path / "m").mkdir()
    config = complete_config(read_config(tmp_path / "m"),
                             [GraphTensor("x", "UINT8", (-1, 28, 28, 1))],
                             [GraphTensor("p", "FP32", (-1, 10))])
    assert config.max_batch_size == 8
    assert config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [28, 28, 1]


def test_config_disagreeing_with_graph_is_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.pbtxt").write_text('input [{ name: "x" data_type: TYPE_FP32 }]')
    with pytest.raises(ModelLoadError, match="config says input 'x' is FP32, the graph says"):
        complete_config(read_config(folder), [GraphTensor("x", "UINT8", (2,))],
                        [GraphTensor("y", "UINT8", (2,))])


def test_config_syntax_error_names_the_file(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.pbtxt").write_text("max_batch_size: lots")
    with pytest.raises(ModelLoadError, match="config.pbtxt is not a valid model config"):
        read_config(folder)


def test_generated_stubs_are_current():
    result = subprocess.run([sys.executable, "protos/generate.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cuda_without_onnxruntime_gpu_fails_loudly(tmp_path):
    import onnxruntime

    from service.runtime import OnnxRuntime, RuntimeOptions

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has the CUDA provider")
    runtime = OnnxRuntime(tmp_path / "model.onnx", RuntimeOptions(device="cuda"))
    with pytest.raises(ModelLoadError, match="--device cuda needs onnxruntime-gpu"):
        runtime.load()


def test_explicit_max_batch_size_zero_keeps_batching_off(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.pbtxt").write_text("max_batch_size: 0\n")
    config = complete_config(read_config(folder), [GraphTensor("audio", "FP32", (-1,))],
                             [GraphTensor("logits", "FP32", (-1, 30))])
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == [-1]
    assert not config.HasField("dynamic_batching")


def test_raw_tensors_are_viewed_in_place_not_copied():
    """Wire to array: protobuf hands over one bytes object per input; the array is a view of
    it (np.frombuffer), so no copy of ours sits between the message and the model."""
    image = np.arange(2 * 224 * 224 * 3, dtype=np.uint8).reshape(2, 224, 224, 3)
    request = pb.ModelInferRequest(model_name="m", raw_input_contents=[image.tobytes()])
    request.inputs.add(name="image", datatype="UINT8", shape=[2, 224, 224, 3])
    array = inputs_from_request(request)["image"]
    np.testing.assert_array_equal(array, image)
    owner = array
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(owner, bytes)  # the message's bytes, viewed
    # so however big, such a request is decoded inline: only typed values and BYTES count
    assert elementwise_count(infer_request(request).inputs) == 0


def test_typed_values_and_bytes_count_as_elementwise_work():
    request = pb.ModelInferRequest(model_name="m")
    typed = request.inputs.add(name="a", datatype="INT64", shape=[3])
    typed.contents.int64_contents.extend([1, 2, 3])
    text = request.inputs.add(name="b", datatype="BYTES", shape=[2])
    text.contents.bytes_contents.extend([b"x", b"y"])
    assert elementwise_count(infer_request(request).inputs) == 5
