"""The model folder writer: Triton layout, a config tritonclient's schema parses, atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from google.protobuf import text_format
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2

from contract.batching import default_dynamic_batching
from contract.metadata import ImageInput, ModelMetadata
from toolchain.model_folder import (
    ModelCard,
    ModelFolderError,
    TensorSpec,
    onnx_facts,
    read_metadata,
    write_model_folder,
)


def scale_model(factor: float = 2.0) -> onnx.ModelProto:
    """image UINT8 [N, 2, 2, 1] -> probabilities FP32 [N, 4] (cast, scale, flatten)."""
    image = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 2, 2, 1])
    output = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 4])
    nodes = [
        helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pixels", "factor"], ["scaled"]),
        helper.make_node("Flatten", ["scaled"], ["probabilities"]),
    ]
    factor_tensor = helper.make_tensor("factor", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph(nodes, "scale", [image], [output], [factor_tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 13  # newer than onnxruntime 1.31 reads: the writer must cap it
    return model


def write(repository: Path, **overrides) -> Path:
    arguments = dict(
        inputs=[TensorSpec("image", "UINT8", [2, 2, 1], format="NHWC")],
        outputs=[TensorSpec("probabilities", "FP32", [4], "labels.txt")],
        max_batch_size=4,
        parameters={"task": "classification", "image_size": "2,2", "channels": "1"},
        labels=["a", "b", "c", "d"],
        files={"notes/extra.txt": "hello"},
        card=ModelCard("scale", source="a test", parameters=1, verification=[{"diff": 0.0}]),
    )
    arguments.update(overrides)
    return write_model_folder(
        repository, "scale", arguments.pop("model", scale_model()), **arguments
    )


def test_writes_a_folder_in_triton_layout(tmp_path: Path) -> None:
    folder = write(tmp_path)
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == [
        "1/model.onnx", "MODEL_CARD.md", "config.pbtxt", "labels.txt", "notes/extra.txt",
    ]  # fmt: skip
    assert (folder / "labels.txt").read_text().splitlines() == ["a", "b", "c", "d"]
    assert "| diff |" in (folder / "MODEL_CARD.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["scale"]  # no staging folder left


def test_config_parses_with_the_triton_schema(tmp_path: Path) -> None:
    folder = write(tmp_path)
    config = text_format.Parse(
        (folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert config.name == "scale"
    assert config.max_batch_size == 4
    assert config.input[0].data_type == model_config_pb2.TYPE_UINT8
    assert config.input[0].format == model_config_pb2.ModelInput.FORMAT_NHWC
    assert list(config.input[0].dims) == [2, 2, 1]
    assert config.output[0].label_filename == "labels.txt"
    assert config.parameters["task"].string_value == "classification"
    expected = default_dynamic_batching().SerializeToString()  # what a bare ONNX file gets
    assert config.dynamic_batching.SerializeToString() == expected
    assert list(config.dynamic_batching.preferred_batch_size) == []  # no window on idle models


def test_onnx_is_saved_with_ir_version_onnxruntime_reads(tmp_path: Path) -> None:
    folder = write(tmp_path)
    model = onnx.load(str(folder / "1" / "model.onnx"))
    assert model.ir_version <= 10
    session = onnxruntime.InferenceSession(str(folder / "1" / "model.onnx"))
    image = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    assert session.run(None, {"image": image})[0].tolist() == [[0.0, 2.0, 4.0, 6.0]]


def test_existing_folder_is_an_error_unless_overwrite(tmp_path: Path) -> None:
    write(tmp_path)
    with pytest.raises(ModelFolderError, match="already exists"):
        write(tmp_path, model=scale_model(3.0))
    folder = write(tmp_path, model=scale_model(3.0), overwrite=True)
    factor = onnx.load(str(folder / "1" / "model.onnx")).graph.initializer[0].float_data[0]
    assert factor == 3.0


def test_config_naming_tensors_the_graph_lacks_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="graph lacks"):
        write(tmp_path, outputs=[TensorSpec("logits", "FP32", [4])])
    assert list(tmp_path.iterdir()) == []


def test_model_without_batching_has_no_batcher(tmp_path: Path) -> None:
    folder = write(tmp_path, max_batch_size=0, inputs=[TensorSpec("image", "UINT8", [1, 2, 2, 1])])
    assert "dynamic_batching" not in (folder / "config.pbtxt").read_text()


def test_onnx_facts_count_parameters_and_opset() -> None:
    facts = onnx_facts(scale_model())
    assert facts["parameters"] == 1
    assert facts["opset"] == 17


def test_parameters_the_server_would_refuse_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="'image_sise' is not a classification parameter"):
        write(tmp_path, parameters={"task": "classification", "image_sise": "2,2"})
    with pytest.raises(ModelFolderError, match="'channels' is '2'; use one of"):
        write(tmp_path, parameters={"task": "classification", "channels": "2"})
    assert list(tmp_path.iterdir()) == []


def test_typed_metadata_is_written_as_the_server_reads_it(tmp_path: Path) -> None:
    metadata = ModelMetadata.build("classification", ImageInput((2, 2), channels=1),
                                   default=True, description="a scale")
    folder = write(tmp_path, parameters=metadata)
    assert read_metadata(folder) == metadata


def test_datatypes_the_server_cannot_serve_are_refused() -> None:
    with pytest.raises(ModelFolderError, match="'BF16' is not one the server serves"):
        TensorSpec("x", "BF16", [2])
