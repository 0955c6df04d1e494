"""`inspect` parameter counts, and the fp16 and int8 variants of resnet18."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from toolchain.__main__ import main
from toolchain.variants import write_variants
from toolchain.verification import verify_folder

# Published parameter counts (torchvision's model documentation, the original papers).
PUBLISHED = {"vgg16": 138.36e6, "resnet50": 25.56e6, "alexnet": 61.10e6}


def inspect_json(target: str) -> dict:
    output = io.StringIO()
    with redirect_stdout(output):
        assert main(["inspect", target, "--json"]) == 0
    return json.loads(output.getvalue())


@pytest.mark.parametrize("architecture", sorted(PUBLISHED))
def test_inspect_reports_published_parameter_counts(architecture: str) -> None:
    report = inspect_json(architecture)
    assert report["parameters"] == pytest.approx(PUBLISHED[architecture], rel=0.005)


def test_inspect_folder_reports_tensors_opset_and_provenance(exported) -> None:
    report = inspect_json(str(exported["resnet18"][0]))
    assert report["opset"] == 17 and report["ir_version"] <= 10
    assert report["parameters_onnx"] == pytest.approx(report["parameters_pytorch"], rel=0.01)
    assert [tensor["name"] for tensor in report["inputs"]] == ["image"]
    assert report["inputs"][0]["type"] == "UINT8"
    assert report["provenance"]["architecture"] == "resnet18"
    assert report["parameters"]["task"] == "classification"


def smooth_images(folder: Path, count: int, size: int) -> Path:
    """Calibration images: upsampled low-resolution noise (photographs are smooth too)."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    for index in range(count):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(folder / f"{index}.png")
    return folder


def test_fp16_and_int8_variants_of_resnet18_verify(exported, tmp_path: Path) -> None:
    source = shutil.copytree(exported["resnet18"][0], tmp_path / "repository" / "resnet18_tiny")
    calibration = smooth_images(tmp_path / "calibration", 16, 80)
    fp16, int8 = write_variants(source, fp16=True, int8=True, calibration=calibration)
    assert (fp16.name, int8.name) == ("resnet18_tiny_fp16", "resnet18_tiny_int8")
    for folder in (fp16, int8):
        record = json.loads((folder / "verification.json").read_text())
        assert record["variant"] and all(check["passed"] for check in record["checks"])
        assert "image_size" in (folder / "config.pbtxt").read_text()
    int8_check = json.loads((int8 / "verification.json").read_text())["checks"][0]
    assert int8_check["top1_agreement"] >= 0.9 and int8_check["mean_cosine"] >= 0.98
    session = onnxruntime.InferenceSession(str(int8 / "1" / "model.onnx"))
    assert any(node.op_type == "QuantizeLinear" for node in _nodes(int8)), "not quantised"
    assert session.get_inputs()[0].type == "tensor(uint8)"
    assert all(row["passed"] for row in verify_folder(fp16))
    assert (fp16 / "1" / "model.onnx").stat().st_size < 0.6 * (
        source / "1" / "model.onnx"
    ).stat().st_size


def _nodes(folder: Path):
    import onnx

    return onnx.load(str(folder / "1" / "model.onnx")).graph.node
