"""Every zoo training script still runs: a few steps, then a complete, loadable model folder.

Runs `main(out_dir, quick=True)` of each toolchain/zoo/train_*.py, as
`python -m toolchain train NAME --quick` does, and checks what a user gets: the folder's
files, an ONNX model onnxruntime loads with the inputs and outputs config.pbtxt declares, a
model card and metrics, and the samples folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime as ort
import pytest
from google.protobuf import text_format

from contract.protocol import model_config_pb2
from toolchain import zoo
from toolchain.datasets.digits import FASHION_MNIST_DIR
from toolchain.datasets.hershey import FONT_FOLDER

TRAINED = sorted(zoo.trainers())
COMPONENTS = {"shapes_captioner": ["shapes_captioner_decoder"]}


def declared_tensors(config: str, kind: str) -> list[str]:
    parsed = text_format.Parse(config, model_config_pb2.ModelConfig())
    return [tensor.name for tensor in getattr(parsed, kind)]


def test_every_trained_model_has_a_script():
    assert {"lenet5_mnist", "fashion_cnn", "shapes_segmenter", "shapes_captioner", "easyvqa",
            "dqn_breakout", "hershey_writer"} <= set(TRAINED)


@pytest.mark.parametrize("name", TRAINED)
def test_quick_training_writes_a_loadable_model_folder(name: str, tmp_path: Path):
    if name == "fashion_cnn" and not FASHION_MNIST_DIR.exists():
        pytest.skip("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist")
    if name == "hershey_writer" and not FONT_FOLDER.is_dir():
        pytest.skip("the Hershey fonts are missing: apt-get install hershey-fonts-data")
    script = zoo.trainers()[name]
    folder = script.main(tmp_path, quick=True)

    assert folder == tmp_path / name
    for model_name in [name, *COMPONENTS.get(name, [])]:
        model_folder = tmp_path / model_name
        config = (model_folder / "config.pbtxt").read_text()
        assert f'name: "{model_name}"' in config
        session = ort.InferenceSession(
            str(model_folder / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        assert [i.name for i in session.get_inputs()] == declared_tensors(config, "input")
        assert [o.name for o in session.get_outputs()] == declared_tensors(config, "output")
        metrics = json.loads((model_folder / "metrics.json").read_text())
        assert metrics["quick"] is True
        assert metrics["measured_on"] == "onnxruntime"
        card = (model_folder / "MODEL_CARD.md").read_text()
        assert "License" in card and "Verification against PyTorch" in card
    samples = json.loads((tmp_path / "samples" / name / "expected.json").read_text())
    assert samples["model"] == name and (samples.get("samples") or samples.get("games")
                                          or samples.get("texts"))
    for sample in samples.get("samples", []):
        assert (tmp_path / "samples" / name / sample["image"]).is_file()
