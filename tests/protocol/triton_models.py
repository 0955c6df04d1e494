"""The models Triton's client examples call, built here in ONNX with Triton's configs.

`simple` (INT32 add/sub), `simple_string` (the same on numbers written as strings),
`simple_int8`, `simple_identity` (BYTES), three sequence models (`simple_sequence`,
`simple_dyna_sequence`, `simple_string_dyna_sequence`: control inputs and implicit state,
computing what the examples expect of Triton's sequence test backends), and
`densenet_onnx`: the quickstart classifier's config (reshape, labels) on a graph of the same
shapes with seeded random weights (a 1x1 convolution and global pooling, not DenseNet).
Eight models, as simple_*_model_control expect of the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from tests.support import models

INT32, INT8, STRING, FP32 = TensorProto.INT32, TensorProto.INT8, TensorProto.STRING, \
    TensorProto.FLOAT

ADD_SUB_CONFIG = """
max_batch_size: 8
input [ {{ name: "INPUT0" data_type: {t} dims: [ 16 ] }},
        {{ name: "INPUT1" data_type: {t} dims: [ 16 ] }} ]
output [ {{ name: "OUTPUT0" data_type: {t} dims: [ 16 ] }},
         {{ name: "OUTPUT1" data_type: {t} dims: [ 16 ] }} ]
"""
IDENTITY_CONFIG = """
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
"""
SEQUENCE_CONFIG = """
max_batch_size: 8
sequence_batching {{
  max_sequence_idle_microseconds: 5000000
  control_input [
    {{ name: "READY" control [ {{ kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] }} ] }}
    {extra_controls}
  ]
  state [ {{ input_name: "{state}_IN" output_name: "{state}_OUT" data_type: TYPE_INT32
             dims: [ 1 ] }} ]
}}
input [ {{ name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
"""
END_AND_CORRID = """,
    {{ name: "END" control [ {{ kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] }} ] }},
    {{ name: "CORRID" control [ {{ kind: CONTROL_SEQUENCE_CORRID data_type: {t} }} ] }}
"""
DENSENET_CONFIG = """
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "data_0" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 224, 224 ]
          reshape { shape: [ 1, 3, 224, 224 ] } } ]
output [ { name: "fc6_1" data_type: TYPE_FP32 dims: [ 1000 ]
           reshape { shape: [ 1, 1000, 1, 1 ] } label_filename: "densenet_labels.txt" } ]
"""
CLASSES = 1000


def _add_sub(elem_type: int, via_int: bool = False):
    """OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, on [batch, 16]."""
    nodes, a, b = [], "INPUT0", "INPUT1"
    if via_int:  # strings holding integers: parse, compute, write back as strings
        nodes += [helper.make_node("Cast", ["INPUT0"], ["a"], to=INT32),
                  helper.make_node("Cast", ["INPUT1"], ["b"], to=INT32)]
        a, b = "a", "b"
    sums, diffs = ("s", "d") if via_int else ("OUTPUT0", "OUTPUT1")
    nodes += [helper.make_node("Add", [a, b], [sums]), helper.make_node("Sub", [a, b], [diffs])]
    if via_int:
        nodes += [helper.make_node("Cast", ["s"], ["OUTPUT0"], to=STRING),
                  helper.make_node("Cast", ["d"], ["OUTPUT1"], to=STRING)]
    shape = ["batch", 16]
    return models.graph(nodes, [models.tensor("INPUT0", elem_type, shape),
                                models.tensor("INPUT1", elem_type, shape)],
                        [models.tensor("OUTPUT0", elem_type, shape),
                         models.tensor("OUTPUT1", elem_type, shape)])


def _identity_strings():
    return models.graph([helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
                        [models.tensor("INPUT0", STRING, ["batch", "n"])],
                        [models.tensor("OUTPUT0", STRING, ["batch", "n"])])


def _sequence(dyna: bool, corrid_type: int | None = None, accumulate: bool = False):
    """Triton's sequence test backends, in a graph:
    - not accumulating: OUTPUT = INPUT + 1 on a sequence's first request, INPUT after it
      (state STARTED: 0 at the start, then READY = 1);
    - accumulating: OUTPUT = running sum of INPUT (state ACC);
    - dyna: the correlation id is added on the END request."""
    shape, one = ["batch", 1], ["batch", 1]
    inputs = [models.tensor("INPUT", INT32, shape), models.tensor("READY", INT32, one)]
    state = "ACC" if accumulate else "STARTED"
    inputs.append(models.tensor(f"{state}_IN", INT32, one))
    nodes = []
    if accumulate:
        nodes.append(helper.make_node("Add", ["ACC_IN", "INPUT"], ["ACC_OUT"]))
        base = "ACC_OUT"
        # READY is 1 on every request: multiply it in so the graph uses it
        nodes.append(helper.make_node("Mul", ["ACC_OUT", "READY"], ["base"]))
        base = "base"
    else:
        nodes += [helper.make_node("Sub", ["READY", "STARTED_IN"], ["first"]),
                  helper.make_node("Add", ["INPUT", "first"], ["base"]),
                  helper.make_node("Identity", ["READY"], ["STARTED_OUT"])]
        base = "base"
    if dyna:
        inputs += [models.tensor("END", INT32, one),
                   models.tensor("CORRID", corrid_type, one)]
        nodes += [helper.make_node("Cast", ["CORRID"], ["corrid"], to=INT32),
                  helper.make_node("Mul", ["END", "corrid"], ["bonus"]),
                  helper.make_node("Add", [base, "bonus"], ["OUTPUT"])]
    else:
        nodes.append(helper.make_node("Identity", [base], ["OUTPUT"]))
    return models.graph(nodes, inputs, [models.tensor("OUTPUT", INT32, shape),
                                        models.tensor(f"{state}_OUT", INT32, one)])


def _densenet_shaped():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(CLASSES, 3, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["data_0", "w"], ["features"]),
             helper.make_node("GlobalAveragePool", ["features"], ["fc6_1"])]
    init = helper.make_tensor("w", FP32, list(weight.shape), weight.reshape(-1).tolist())
    return models.graph(nodes, [models.tensor("data_0", FP32, [1, 3, 224, 224])],
                        [models.tensor("fc6_1", FP32, [1, CLASSES, 1, 1])], [init])


def build_repository(root: Path) -> Path:
    """Write the eight models into `root` (a model repository)."""
    models.save(_add_sub(INT32), root, "simple", config=ADD_SUB_CONFIG.format(t="TYPE_INT32"))
    models.save(_add_sub(STRING, via_int=True), root, "simple_string",
                config=ADD_SUB_CONFIG.format(t="TYPE_STRING"))
    models.save(_add_sub(INT8), root, "simple_int8", config=ADD_SUB_CONFIG.format(t="TYPE_INT8"))
    models.save(_identity_strings(), root, "simple_identity", config=IDENTITY_CONFIG)
    models.save(_sequence(dyna=False), root, "simple_sequence",
                config=SEQUENCE_CONFIG.format(state="STARTED", extra_controls=""))
    models.save(_sequence(dyna=True, corrid_type=TensorProto.UINT64), root,
                "simple_dyna_sequence",
                config=SEQUENCE_CONFIG.format(
                    state="STARTED", extra_controls=END_AND_CORRID.format(t="TYPE_UINT64")))
    models.save(_sequence(dyna=True, corrid_type=STRING, accumulate=True), root,
                "simple_string_dyna_sequence",
                config=SEQUENCE_CONFIG.format(
                    state="ACC", extra_controls=END_AND_CORRID.format(t="TYPE_STRING")))
    folder = models.save(_densenet_shaped(), root, "densenet_onnx", config=DENSENET_CONFIG)
    (folder / "densenet_labels.txt").write_text(
        "".join(f"CLASS_{index}\n" for index in range(CLASSES)))
    return root
