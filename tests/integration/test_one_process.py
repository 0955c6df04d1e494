"""Our v2 stubs and tritonclient's share one process: the server runs in this test's event
loop, tritonclient (with its own copy of the same protos) talks to it, and our stubs build the
same messages. (contract.protocol registers in its own descriptor pool; see protos/generate.py.)"""

from __future__ import annotations

import asyncio

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import service_pb2

from contract.protocol import grpc_service_pb2
from service.server import Server
from service.settings import Settings
from tests.integration.helpers import infer_input
from tests.support import models


def test_an_in_process_server_answers_tritonclient(tmp_path):
    models.save(models.scale_model(), tmp_path, "scale")

    async def scenario() -> np.ndarray:
        server = Server(Settings(model_repository=tmp_path, host="127.0.0.1", grpc_port=0,
                                 http_port=0))
        await server.start()
        try:
            async with triton_aio.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
                x = np.arange(8, dtype=np.float32).reshape(2, 4)
                result = await client.infer("scale", [infer_input("x", x)])
                return result.as_numpy("y")
        finally:
            await server.stop()

    y = asyncio.run(scenario())
    np.testing.assert_array_equal(y, np.arange(8, dtype=np.float32).reshape(2, 4) * 2)
    ours = grpc_service_pb2.ModelInferRequest(model_name="scale", id="7")
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert (theirs.model_name, theirs.id) == ("scale", "7")
