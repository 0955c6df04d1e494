"""The v2 servicer: each RPC converts the request, calls the core, converts back."""

from __future__ import annotations

import asyncio
import logging

import grpc

from contract.protocol import grpc_service_pb2 as pb
from contract.protocol import grpc_service_pb2_grpc as pb_grpc
from contract.protocol import model_config_pb2 as mc

from .. import __version__
from ..core import InferenceCore, check_input_specs
from ..datatypes import datatype_from_config
from ..errors import InvalidInput
from ..repository import LoadedModel
from ..rpc import bounded_stream, status_of
from .convert import (
    INLINE_ELEMENTS,
    element_count,
    fill_response,
    input_specs,
    inputs_from_request,
    request_options,
)

log = logging.getLogger(__name__)

EXTENSIONS = ["classification", "model_repository", "model_configuration", "statistics",
              "schedule_policy", "binary_tensor_data"]
STREAM_CONCURRENCY = 64


def _datatype(type_enum: int) -> str:
    return datatype_from_config(mc.DataType.Name(type_enum))


def _tensor_metadata(tensors, batched: bool):
    return [pb.ModelMetadataResponse.TensorMetadata(
        name=t.name, datatype=_datatype(t.data_type),
        shape=([-1] if batched else []) + list(t.dims)) for t in tensors]


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """`inference.GRPCInferenceService`, as tritonclient and KServe clients call it."""

    def __init__(self, core: InferenceCore, state) -> None:
        self.core = core
        self.state = state  # has .ready (startup done, not shutting down) and .explicit

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.state.ready)

    async def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=self.core.is_ready(request.name, request.version))

    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name="striate", version=__version__,
                                         extensions=EXTENSIONS)

    async def ModelMetadata(self, request, context):
        model = self.core.model(request.name, request.version)
        batched = model.config.max_batch_size > 0
        return pb.ModelMetadataResponse(
            name=model.name, versions=self.core.versions_of(model.name),
            platform=model.config.platform,
            inputs=_tensor_metadata(model.config.input, batched),
            outputs=_tensor_metadata(model.config.output, batched))

    async def ModelConfig(self, request, context):
        model = self.core.model(request.name, request.version)
        return pb.ModelConfigResponse(config=model.config)

    async def ModelInfer(self, request, context):
        return await self._infer(request, context.time_remaining())

    async def _infer(self, request: pb.ModelInferRequest, time_left: float | None):
        model = self.core.model(request.model_name, request.model_version)
        specs = input_specs(request)
        check_input_specs(model, specs)  # before a byte of tensor data is decoded
        if element_count(specs) > INLINE_ELEMENTS:
            inputs = await asyncio.to_thread(inputs_from_request, request)
        else:
            inputs = inputs_from_request(request)
        priority, timeout_s = request_options(request)
        if time_left is not None:
            timeout_s = min(timeout_s or time_left, time_left)
        wanted = [o.name for o in request.outputs] or None
        outputs = await self.core.infer(model.name, inputs, version=model.version,
                                        outputs=wanted, timeout_s=timeout_s, priority=priority)
        response = pb.ModelInferResponse(model_name=model.name, model_version=model.version,
                                         id=request.id)
        fill_response(response, outputs, _output_datatypes(model))
        return response

    async def ModelStreamInfer(self, request_iterator, context):
        """Requests run concurrently; responses come back as they finish, with their ids.
        A failed request answers with error_message and the stream goes on."""
        async for response in bounded_stream(request_iterator, self._stream_one,
                                             _stream_error, STREAM_CONCURRENCY):
            yield response

    async def _stream_one(self, request: pb.ModelInferRequest) -> pb.ModelStreamInferResponse:
        return pb.ModelStreamInferResponse(infer_response=await self._infer(request, None))

    async def ModelStatistics(self, request, context):
        models = self.core.served(request.name, request.version)
        return pb.ModelStatisticsResponse(model_stats=[_statistics(m) for m in models])

    async def RepositoryIndex(self, request, context):
        rows = self.core.index(ready_only=request.ready)
        return pb.RepositoryIndexResponse(models=[
            pb.RepositoryIndexResponse.ModelIndex(name=r.name, version=r.version, state=r.state,
                                                  reason=r.reason) for r in rows])

    async def RepositoryModelLoad(self, request, context):
        self._require_explicit("load")
        await self.core.load(request.model_name)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        self._require_explicit("unload")
        await self.core.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()

    def _require_explicit(self, action: str) -> None:
        if not self.state.explicit:
            raise _Precondition(f"cannot {action} models: the server runs with "
                                "--model-control-mode none; restart it with "
                                "--model-control-mode explicit")


class _Precondition(InvalidInput):
    code = grpc.StatusCode.FAILED_PRECONDITION


def _stream_error(request: pb.ModelInferRequest,
                  exc: Exception) -> pb.ModelStreamInferResponse:
    _, message = status_of(exc)
    return pb.ModelStreamInferResponse(
        error_message=message,
        infer_response=pb.ModelInferResponse(model_name=request.model_name[:128], id=request.id))


def _output_datatypes(model: LoadedModel) -> dict[str, str]:
    return {o.name: _datatype(o.data_type) for o in model.config.output}


def _duration(d) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=d.count, ns=d.ns)


def _statistics(model: LoadedModel) -> pb.ModelStatistics:
    s = model.stats
    return pb.ModelStatistics(
        name=model.name, version=model.version, last_inference=s.last_inference_ms,
        inference_count=s.inference_count, execution_count=s.execution_count,
        inference_stats=pb.InferStatistics(
            success=_duration(s.success), fail=_duration(s.fail), queue=_duration(s.queue),
            compute_input=_duration(s.compute_input), compute_infer=_duration(s.compute_infer),
            compute_output=_duration(s.compute_output)),
        batch_stats=[pb.InferBatchStatistics(batch_size=size,
                                             compute_infer=_duration(d))
                     for size, d in sorted(s.batches.items())])

