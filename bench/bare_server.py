"""A bare grpc.aio + ONNX Runtime server: the floor `bench/load.py` compares Striate against.

    python bench/bare_server.py --model model.onnx --port 0 --ready-file /tmp/bare.json

It answers `inference.GRPCInferenceService/ModelInfer` (raw_input_contents only) and nothing
else: no batching, no queue, no validation, no statistics, no logging per request. Each
request's raw bytes become arrays with np.frombuffer, one ONNX Runtime run happens in a thread
pool (as any grpc.aio server must do to keep its loop free), and the outputs' bytes go into
raw_output_contents. It uses tritonclient's copy of the protocol, not Striate's, so it shares
no code with the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import triton_to_np_dtype

NP_TO_TRITON = {np.dtype(np.float32): "FP32", np.dtype(np.float16): "FP16",
                np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32",
                np.dtype(np.uint8): "UINT8"}


class BareServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, session: ort.InferenceSession, executor: ThreadPoolExecutor) -> None:
        self.session = session
        self.executor = executor
        self.names = [o.name for o in session.get_outputs()]

    async def ModelInfer(self, request, context):
        inputs = {tensor.name: np.frombuffer(raw, triton_to_np_dtype(tensor.datatype))
                  .reshape(tuple(tensor.shape))
                  for tensor, raw in zip(request.inputs, request.raw_input_contents)}
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(self.executor, self.session.run, self.names, inputs)
        response = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
        for name, array in zip(self.names, outputs):
            response.outputs.add(name=name, datatype=NP_TO_TRITON[array.dtype],
                                 shape=array.shape)
            response.raw_output_contents.append(array.tobytes())
        return response


async def serve(model: Path, device: str, port: int, ready_file: Path | None) -> None:
    if device == "cuda" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    providers = (["CUDAExecutionProvider"] if device == "cuda" else []) + ["CPUExecutionProvider"]
    session = ort.InferenceSession(str(model), providers=providers)
    server = grpc.aio.server(options=[("grpc.max_send_message_length", 1 << 30),
                                      ("grpc.max_receive_message_length", 1 << 30)])
    executor = ThreadPoolExecutor(max_workers=max(4, (os.cpu_count() or 2) * 2))
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(BareServicer(session, executor), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    if ready_file is not None:
        ready_file.write_text(json.dumps({"grpc_port": bound, "pid": os.getpid()}))
    print(f"bare server on 127.0.0.1:{bound}", file=sys.stderr)
    await server.wait_for_termination()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an .onnx file")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--port", type=int, default=0, help="0: one the OS assigns")
    parser.add_argument("--ready-file", type=Path, help="write the bound port here when ready")
    args = parser.parse_args()
    asyncio.run(serve(args.model, args.device, args.port, args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
