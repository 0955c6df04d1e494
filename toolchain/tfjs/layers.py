"""A TF.js *layers* model (Keras topology + weights) translated to an ONNX graph.

Covers the layers of convolutional image-to-image networks such as ESRGAN-slim (ISR's RDN):
InputLayer, Conv2D (stride 1, 'same' or 'valid', linear or relu), Activation (relu),
Concatenate and Add over channels, UpSampling2D (nearest). The graph works in NCHW; the
caller wraps its input and output (`translate_layers` returns the value names).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toolchain.onnx_builder import GraphBuilder
from toolchain.tfjs.converter import UnsupportedOperator
from toolchain.tfjs.reader import read_weights

Weights = dict[str, np.ndarray]
LayerTranslator = Callable[[GraphBuilder, Weights, dict, list[str]], str]
LAYERS: dict[str, LayerTranslator] = {}


def _layer(*classes: str) -> Callable[[LayerTranslator], LayerTranslator]:
    def register(function: LayerTranslator) -> LayerTranslator:
        for name in classes:
            LAYERS[name] = function
        return function
    return register


@_layer("Conv2D")
def _conv(b: GraphBuilder, weights: Weights, layer: dict, inputs: list[str]) -> str:
    config, name = layer["config"], layer["config"]["name"]
    if list(config["strides"]) != [1, 1] or list(config.get("dilation_rate", [1, 1])) != [1, 1]:
        raise UnsupportedOperator(f"{name}: only stride 1, undilated convolutions")
    kernel = weights[f"{name}/kernel"]  # [kh, kw, in, out]
    height, width = kernel.shape[:2]
    pads = ([height // 2, width // 2, (height - 1) // 2, (width - 1) // 2]
            if config["padding"] == "same" else [0, 0, 0, 0])
    conv_inputs = [inputs[0], b.const(kernel.transpose(3, 2, 0, 1).copy(), f"{name}.weight")]
    if config.get("use_bias", True):
        conv_inputs.append(b.const(weights[f"{name}/bias"], f"{name}.bias"))
    out = b.op("Conv", *conv_inputs, hint=name, kernel_shape=[height, width], pads=pads)
    activation = config.get("activation", "linear")
    return out if activation == "linear" else _activate(b, activation, out, name)


def _activate(b: GraphBuilder, activation: str, value: str, name: str) -> str:
    if activation != "relu":
        raise UnsupportedOperator(f"{name}: activation '{activation}'")
    return b.op("Relu", value, hint=name)


@_layer("Activation")
def _activation(b: GraphBuilder, weights: Weights, layer: dict, inputs: list[str]) -> str:
    return _activate(b, layer["config"]["activation"], inputs[0], layer["config"]["name"])


@_layer("Concatenate")
def _concatenate(b: GraphBuilder, weights: Weights, layer: dict, inputs: list[str]) -> str:
    if layer["config"].get("axis", -1) not in (-1, 3):
        raise UnsupportedOperator(f"{layer['config']['name']}: concatenation off the channels")
    return b.op("Concat", *inputs, hint=layer["config"]["name"], axis=1)


@_layer("Add")
def _add(b: GraphBuilder, weights: Weights, layer: dict, inputs: list[str]) -> str:
    total = inputs[0]
    for other in inputs[1:]:
        total = b.op("Add", total, other, hint=layer["config"]["name"])
    return total


@_layer("UpSampling2D")
def _upsampling(b: GraphBuilder, weights: Weights, layer: dict, inputs: list[str]) -> str:
    config, name = layer["config"], layer["config"]["name"]
    if config.get("interpolation", "nearest") != "nearest":
        raise UnsupportedOperator(f"{name}: only nearest upsampling")
    scales = b.const(np.array([1, 1, *config["size"]], np.float32), f"{name}.scales")
    # asymmetric + floor: every output pixel copies its source pixel, as Keras repeats them
    return b.op("Resize", inputs[0], "", scales, hint=name, mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def read_layers_model(model_json: Path) -> tuple[list[dict], Weights]:
    """The layers (in topological order, as Keras saves a functional model) and weights."""
    document = json.loads(Path(model_json).read_text())
    if document.get("format") != "layers-model":
        raise UnsupportedOperator(f"{model_json} is not a TF.js layers model")
    topology = document["modelTopology"]
    config = topology.get("model_config", topology)
    return (config["config"]["layers"],
            read_weights(Path(model_json).parent, document["weightsManifest"]))


def translate_layers(b: GraphBuilder, weights: Weights, layers: list[dict], source: str) -> str:
    """Nodes for every layer, the input layer fed by `source` (NCHW float); returns the name of
    the last layer's output."""
    values: dict[str, str] = {}
    last = source
    for layer in layers:
        name = layer["config"]["name"]
        if layer["class_name"] == "InputLayer":
            values[name] = source
            continue
        translator = LAYERS.get(layer["class_name"])
        if translator is None:
            raise UnsupportedOperator(f"{name}: layer {layer['class_name']}")
        inputs = [values[inbound[0]] for inbound in layer["inbound_nodes"][0]]
        last = values[name] = translator(b, weights, layer, inputs)
    return last
