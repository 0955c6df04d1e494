"""The v2 gRPC servicer: each RPC converts the request, calls the data plane, converts back."""

from __future__ import annotations

import logging

from contract.protocol import grpc_service_pb2 as pb
from contract.protocol import grpc_service_pb2_grpc as pb_grpc

from ..rpc import bounded_stream, status_of
from .convert import infer_request, infer_response, parameters
from .dataplane import DataPlane

log = logging.getLogger(__name__)


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """`inference.GRPCInferenceService`, as tritonclient and KServe clients call it."""

    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.dataplane.server_ready())

    async def ModelReady(self, request, context):
        return pb.ModelReadyResponse(
            ready=self.dataplane.model_ready(request.name, request.version))

    async def ServerMetadata(self, request, context):
        return self.dataplane.server_metadata()

    async def ModelMetadata(self, request, context):
        return self.dataplane.model_metadata(request.name, request.version)

    async def ModelConfig(self, request, context):
        return pb.ModelConfigResponse(
            config=self.dataplane.model_config(request.name, request.version))

    async def ModelInfer(self, request, context):
        result = await self.dataplane.infer(infer_request(request), context.time_remaining())
        return infer_response(result)

    async def ModelStreamInfer(self, request_iterator, context):
        """Requests run concurrently (those of one sequence in order); responses come back as
        they finish, with their ids. A failed request answers with error_message and the
        stream goes on."""
        async for response in bounded_stream(request_iterator,
                                             lambda request, _note: self._stream_one(request),
                                             _stream_error):
            yield response

    async def _stream_one(self, request: pb.ModelInferRequest) -> pb.ModelStreamInferResponse:
        result = await self.dataplane.infer(infer_request(request))
        return pb.ModelStreamInferResponse(infer_response=infer_response(result))

    async def ModelStatistics(self, request, context):
        return self.dataplane.statistics(request.name, request.version)

    async def RepositoryIndex(self, request, context):
        return self.dataplane.repository_index(request.ready)

    async def RepositoryModelLoad(self, request, context):
        params = parameters(request.parameters)
        files = {k: v for k, v in params.items() if k.startswith("file:")}
        await self.dataplane.load(request.model_name, params.get("config"), files)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        await self.dataplane.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()

    async def SystemSharedMemoryStatus(self, request, context):
        return self.dataplane.shm_status(request.name)

    async def SystemSharedMemoryRegister(self, request, context):
        self.dataplane.shm_register(request.name, request.key, request.offset,
                                    request.byte_size)
        return pb.SystemSharedMemoryRegisterResponse()

    async def SystemSharedMemoryUnregister(self, request, context):
        self.dataplane.shm_unregister(request.name)
        return pb.SystemSharedMemoryUnregisterResponse()

    async def CudaSharedMemoryStatus(self, request, context):
        return self.dataplane.cuda_shm_status(request.name)

    async def CudaSharedMemoryRegister(self, request, context):
        self.dataplane.cuda_shm(f"register '{request.name}'")

    async def CudaSharedMemoryUnregister(self, request, context):
        return pb.CudaSharedMemoryUnregisterResponse()  # no CUDA region can be registered

    async def TraceSetting(self, request, context):
        changes = {key: list(value.value) for key, value in request.settings.items()}
        settings = self.dataplane.update_trace_settings(request.model_name, changes)
        response = pb.TraceSettingResponse()
        for key, values in settings.items():
            response.settings[key].value.extend(values)
        return response

    async def LogSettings(self, request, context):
        changes = {}
        for key, value in request.settings.items():
            choice = value.WhichOneof("parameter_choice")
            if choice:
                changes[key] = getattr(value, choice)
        settings = self.dataplane.update_log_settings(changes)
        response = pb.LogSettingsResponse()
        for key, value in settings.items():
            target = response.settings[key]
            if isinstance(value, bool):
                target.bool_param = value
            elif isinstance(value, int):
                target.uint32_param = value
            else:
                target.string_param = value
        return response


def _stream_error(request: pb.ModelInferRequest,
                  exc: Exception) -> pb.ModelStreamInferResponse:
    _, message = status_of(exc)
    return pb.ModelStreamInferResponse(
        error_message=message,
        infer_response=pb.ModelInferResponse(model_name=request.model_name[:128],
                                             id=request.id))
