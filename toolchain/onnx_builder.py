"""A small helper that builds an ONNX graph node by node (names are generated)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from contract.onnx_limits import MAX_IR_VERSION

OPSET = 17  # HardSwish needs 14; onnxruntime 1.31 accepts up to 20 (docs/model-folders.md)


class GraphBuilder:
    """Collects nodes, constants, inputs and outputs; `model()` returns a checked ModelProto."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._used: set[str] = set()

    def fresh(self, hint: str) -> str:
        """A value name not used yet, derived from `hint`."""
        base = "".join(c if c.isalnum() or c in "_./:" else "_" for c in hint) or "v"
        name, number = base, 1
        while name in self._used:
            number += 1
            name = f"{base}_{number}"
        self._used.add(name)
        return name

    def const(self, array: np.ndarray, hint: str = "const") -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(
        self,
        op_type: str,
        *inputs: str,
        hint: str | None = None,
        outputs: int = 1,
        **attributes: object,
    ) -> str:
        """Add one node; returns its (first) output name. Use `op_multi` for several outputs."""
        return self.op_multi(op_type, *inputs, hint=hint, outputs=outputs, **attributes)[0]

    def op_multi(
        self,
        op_type: str,
        *inputs: str,
        hint: str | None = None,
        outputs: int = 1,
        **attributes: object,
    ) -> list[str]:
        names = [self.fresh(f"{hint or op_type.lower()}") for _ in range(outputs)]
        node_name = self.fresh(f"{op_type}_node")
        self.nodes.append(helper.make_node(op_type, list(inputs), names, node_name, **attributes))
        return names

    def input(self, name: str, dtype: type, shape: list[int | str]) -> str:
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, _elem_type(dtype), shape))
        return name

    def output(self, value: str, name: str, dtype: type, shape: list[int | str]) -> None:
        """Expose `value` as graph output `name` (an Identity node renames it when needed)."""
        if value != name:
            self._used.add(name)
            self.nodes.append(helper.make_node("Identity", [value], [name], self.fresh("rename")))
        self.outputs.append(helper.make_tensor_value_info(name, _elem_type(dtype), shape))

    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, self.initializers, doc_string=doc
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="striate"
        )
        model.ir_version = min(model.ir_version, MAX_IR_VERSION)
        onnx.checker.check_model(model, full_check=True)
        return model


def _elem_type(dtype: type) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
