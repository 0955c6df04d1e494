"""An MLServer runtime that runs one ONNX file with bare ONNX Runtime, for bench/rivals.py.

MLServer has no ONNX runtime of its own; this is the smallest custom one. It runs in its own
virtual environment:

    python -m venv /tmp/rivals-mls
    /tmp/rivals-mls/bin/pip install mlserver==1.7.1 onnxruntime==1.31.* "uvloop<0.22"

(uvloop 0.22 removed the implicit event loop MLServer 1.7.1 relies on).

bench/rivals.py writes the settings (adaptive batching: max_batch_size, max_batch_time) and
starts `mlserver start` with this folder on PYTHONPATH.
"""

from __future__ import annotations

import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxModel(MLModel):
    async def load(self) -> bool:
        uri = self.settings.parameters.uri if self.settings.parameters else None
        self.session = ort.InferenceSession(uri, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {tensor.name: NumpyCodec.decode_input(tensor) for tensor in payload.inputs}
        outputs = self.session.run(self.output_names, inputs)
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output(name, array)
                     for name, array in zip(self.output_names, outputs)])
