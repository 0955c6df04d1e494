"""PyTriton serving one ONNX file with bare ONNX Runtime, for bench/rivals.py.

Runs in its own virtual environment (PyTriton pins its own tritonclient and numpy):

    /usr/bin/python3.11 -m venv /tmp/rivals-pt  # the system Python: see below
    /tmp/rivals-pt/bin/pip install nvidia-pytriton==0.5.14 onnxruntime==1.31.*

The venv must use the Python whose libpython3.11.so PyTriton's backend stub loads (Debian's,
3.11.2): a venv of another 3.11 build fails in the stub with mismatched standard library
modules. Triton's dynamic batcher gathers requests for up to --delay-us, then the bound Python
function runs one ONNX Runtime call per batch.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

NUMPY_BY_ORT = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8}


def tensor_spec(arg: ort.NodeArg) -> Tensor:
    """The model's tensor as PyTriton declares it: the batch axis left out."""
    dims = tuple(d if isinstance(d, int) else -1 for d in arg.shape[1:])
    return Tensor(name=arg.name, dtype=NUMPY_BY_ORT[arg.type], shape=dims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True, help="the model's .onnx file")
    parser.add_argument("--name", required=True, help="the name clients call it by")
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--delay-us", type=int, default=2000, help="batch window")
    args = parser.parse_args()

    session = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(output_names, session.run(output_names, inputs)))

    config = TritonConfig(grpc_port=args.grpc_port, http_port=args.http_port,
                          metrics_port=args.metrics_port)
    with Triton(config=config) as triton:
        triton.bind(model_name=args.name, infer_func=infer,
                    inputs=[tensor_spec(i) for i in session.get_inputs()],
                    outputs=[tensor_spec(o) for o in session.get_outputs()],
                    config=ModelConfig(max_batch_size=args.max_batch, batcher=DynamicBatcher(
                        max_queue_delay_microseconds=args.delay_us)))
        triton.serve()


if __name__ == "__main__":
    main()
