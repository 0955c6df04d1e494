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
import onnx
from onnx import helper, numpy_helper

from toolchain.tfjs.converter import UnsupportedOperator
from toolchain.tfjs.reader import read_weights

LayerTranslator = Callable[["LayersGraph", dict, list[str]], str]
LAYERS: dict[str, LayerTranslator] = {}


def _layer(*classes: str) -> Callable[[LayerTranslator], LayerTranslator]:
    def register(function: LayerTranslator) -> LayerTranslator:
        for name in classes:
            LAYERS[name] = function
        return function
    return register


class LayersGraph:
    """ONNX nodes and initializers built while walking the Keras layers in order."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attributes: object) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output,
                                           **attributes))
        return output


@_layer("Conv2D")
def _conv(graph: LayersGraph, layer: dict, inputs: list[str]) -> str:
    config, name = layer["config"], layer["config"]["name"]
    if list(config["strides"]) != [1, 1] or list(config.get("dilation_rate", [1, 1])) != [1, 1]:
        raise UnsupportedOperator(f"{name}: only stride 1, undilated convolutions")
    kernel = graph.weights[f"{name}/kernel"]  # [kh, kw, in, out]
    height, width = kernel.shape[:2]
    pads = ([height // 2, width // 2, (height - 1) // 2, (width - 1) // 2]
            if config["padding"] == "same" else [0, 0, 0, 0])
    weights = [inputs[0], graph.constant(f"{name}.weight", kernel.transpose(3, 2, 0, 1).copy())]
    if config.get("use_bias", True):
        weights.append(graph.constant(f"{name}.bias", graph.weights[f"{name}/bias"]))
    activation = config.get("activation", "linear")
    out = graph.op("Conv", weights, name if activation == "linear" else f"{name}.linear",
                   kernel_shape=[height, width], pads=pads)
    return out if activation == "linear" else _activate(graph, activation, out, name)


def _activate(graph: LayersGraph, activation: str, value: str, name: str) -> str:
    if activation != "relu":
        raise UnsupportedOperator(f"{name}: activation '{activation}'")
    return graph.op("Relu", [value], name)


@_layer("Activation")
def _activation(graph: LayersGraph, layer: dict, inputs: list[str]) -> str:
    return _activate(graph, layer["config"]["activation"], inputs[0], layer["config"]["name"])


@_layer("Concatenate")
def _concatenate(graph: LayersGraph, layer: dict, inputs: list[str]) -> str:
    if layer["config"].get("axis", -1) not in (-1, 3):
        raise UnsupportedOperator(f"{layer['config']['name']}: concatenation off the channels")
    return graph.op("Concat", inputs, layer["config"]["name"], axis=1)


@_layer("Add")
def _add(graph: LayersGraph, layer: dict, inputs: list[str]) -> str:
    name, total = layer["config"]["name"], inputs[0]
    for position, other in enumerate(inputs[1:], start=2):
        total = graph.op("Add", [total, other],
                         name if position == len(inputs) else f"{name}.{position}")
    return total


@_layer("UpSampling2D")
def _upsampling(graph: LayersGraph, layer: dict, inputs: list[str]) -> str:
    config, name = layer["config"], layer["config"]["name"]
    if config.get("interpolation", "nearest") != "nearest":
        raise UnsupportedOperator(f"{name}: only nearest upsampling")
    scales = graph.constant(f"{name}.scales",
                            np.array([1, 1, *config["size"]], np.float32))
    # asymmetric + floor: every output pixel copies its source pixel, as Keras repeats them
    return graph.op("Resize", [inputs[0], "", scales], name, mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def read_layers_model(model_json: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The layers (in topological order, as Keras saves a functional model) and weights."""
    document = json.loads(Path(model_json).read_text())
    if document.get("format") != "layers-model":
        raise UnsupportedOperator(f"{model_json} is not a TF.js layers model")
    topology = document["modelTopology"]
    config = topology.get("model_config", topology)
    return (config["config"]["layers"],
            read_weights(Path(model_json).parent, document["weightsManifest"]))


def translate_layers(graph: LayersGraph, layers: list[dict], source: str) -> str:
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
        last = values[name] = translator(graph, layer, inputs)
    return last
