"""Bad input gets a message that says what to do, and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from toolchain.__main__ import main
from toolchain.architectures import Architecture, Component, register, unregister
from toolchain.exporter import run_onnx
from toolchain.families.classification import LeNet5
from toolchain.model_folder import TensorSpec


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_unknown_architecture(capsys, tmp_path: Path) -> None:
    code, output = run(capsys, "export", "resnet19", "--weights", "none", "--out", str(tmp_path))
    assert code == 2
    assert "unknown architecture 'resnet19'" in output and "python -m toolchain list" in output
    assert list(tmp_path.iterdir()) == []


def test_default_weights_fail_without_the_hub(capsys, tmp_path: Path) -> None:
    code, output = run(capsys, "export", "resnet18", "--weights", "default", "--out", str(tmp_path))
    assert code == 2 and "--weights PATH" in output and "cannot reach" in output
    code, output = run(capsys, "export", "vilt_vqa", "--weights", "default", "--out", str(tmp_path))
    assert code == 2 and "--weights PATH" in output and "hub" in output
    code, output = run(capsys, "export", "lenet5", "--weights", "default", "--out", str(tmp_path))
    assert code == 2 and "train" in output
    assert list(tmp_path.iterdir()) == []


def test_missing_and_mismatched_weights(capsys, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run(capsys, "export", "lenet5", "--weights", str(tmp_path / "nope.pt"),
                       "--out", str(out))  # fmt: skip
    assert code == 2 and "does not exist" in output
    weights = tmp_path / "lenet_26.pt"
    torch.save(LeNet5(num_classes=26).state_dict(), weights)
    code, output = run(capsys, "export", "lenet5", "--weights", str(weights), "--out", str(out))
    assert code == 2 and "do not match" in output and "--num-classes" in output
    assert not out.exists() or list(out.iterdir()) == []


def test_state_dict_weights_are_the_ones_served(capsys, tmp_path: Path) -> None:
    torch.manual_seed(3)
    network = LeNet5(num_classes=26).eval()
    weights = tmp_path / "lenet_26.pt"
    torch.save(network.state_dict(), weights)
    code, output = run(capsys, "export", "lenet5", "--weights", str(weights), "--num-classes",
                       "26", "--out", str(tmp_path / "out"), "--name", "letters")  # fmt: skip
    assert code == 0, output
    folder = tmp_path / "out" / "letters"
    image = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 1), dtype=np.uint8)
    served = run_onnx(folder / "1" / "model.onnx", {"image": image})["probabilities"]
    pixels = (torch.from_numpy(image).permute(0, 3, 1, 2).float() / 255 - 0.1307) / 0.3081
    with torch.no_grad():
        expected = torch.softmax(network(pixels), dim=1).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert len((folder / "labels.txt").read_text().splitlines()) == 26
    assert str(weights) in (folder / "MODEL_CARD.md").read_text()


def test_existing_output_folder_is_left_alone(capsys, tmp_path: Path) -> None:
    (tmp_path / "lenet5").mkdir()
    (tmp_path / "lenet5" / "mine.txt").write_text("keep")
    code, output = run(capsys, "export", "lenet5", "--weights", "none", "--out", str(tmp_path))
    assert code == 2 and "already exists" in output and "--name" in output
    assert [p.name for p in (tmp_path / "lenet5").iterdir()] == ["mine.txt"]


class NoisyModel(torch.nn.Module):
    """Adds fresh noise on every call: no exported graph can match it."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.float().mean(dim=(1, 2, 3))[:, None] + torch.rand(image.shape[0], 1)


def build_noisy(options) -> list[Component]:
    return [
        Component(
            suffix="",
            module=NoisyModel(),
            inputs=[TensorSpec("image", "UINT8", [8, 8, 3], format="NHWC")],
            outputs=[TensorSpec("probabilities", "FP32", [1], "labels.txt")],
            max_batch_size=4,
            make_inputs=lambda purpose, rng: {
                "image": rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
            },
            parameters={"task": "classification"},
            labels=["noise"],
        )
    ]


def test_failed_verification_writes_nothing(capsys, tmp_path: Path) -> None:
    register(Architecture("noisy_test_model", "classification", "test only", "tests", "none",
                          build_noisy))  # fmt: skip
    try:
        code, output = run(capsys, "export", "noisy_test_model", "--weights", "none",
                           "--out", str(tmp_path))  # fmt: skip
    finally:
        unregister("noisy_test_model")
    assert code == 2 and "disagrees with PyTorch" in output and "Nothing was written" in output
    assert list(tmp_path.iterdir()) == []


def test_help_explains_the_commands(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("export", "list", "verify", "inspect", "train", "import"):
        assert command in text


def test_verification_json_records_how_to_rebuild(capsys, tmp_path: Path) -> None:
    code, _ = run(capsys, "export", "lenet5", "--weights", "none", "--out", str(tmp_path))
    assert code == 0
    record = json.loads((tmp_path / "lenet5" / "verification.json").read_text())
    assert record["architecture"] == "lenet5" and record["options"]["weights"] == "none"
    code, output = run(capsys, "verify", str(tmp_path / "lenet5"))
    assert code == 0 and "ok" in output
