"""The task API's gRPC servicer: convert the request, call the task handler, convert the result.

Errors become status codes in one place for both APIs (`service.rpc`): the methods here raise,
the server's `ErrorMapping` interceptor answers; stream items answer through `status_of`. The
stream shares the v2 stream's loop, `service.rpc.bounded_stream`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from contract.protocol import striate_tasks_pb2 as pb
from contract.protocol import striate_tasks_pb2_grpc as pb_grpc

from ..core import InferenceCore
from ..errors import DeadlineExceeded, InvalidInput
from ..repository import LoadedModel
from ..rpc import bounded_stream, status_of
from .caption import caption
from .classify import ClassScore, classify
from .detect import detect
from .limits import TaskLimits
from .models import TASKS, default_model, resolve_model, task_of
from .segment import segment
from .speech import transcribe
from .vqa import answer_question

log = logging.getLogger(__name__)

STREAM_WINDOW = 64  # requests of one stream in flight at once


def _model_ref(model: LoadedModel) -> pb.ModelRef:
    return pb.ModelRef(name=model.name, version=str(model.version))


def _classes(scores: list[ClassScore]) -> list[pb.ClassScore]:
    return [pb.ClassScore(index=s.index, label=s.label, score=s.score) for s in scores]


class TaskServicer(pb_grpc.TaskServiceServicer):
    """Implements striate.tasks.v1.TaskService over the shared InferenceCore."""

    def __init__(self, core: InferenceCore, limits: TaskLimits | None = None) -> None:
        self.core = core
        self.limits = limits or TaskLimits()

    # --- one function per task, transport-free results converted to messages ---

    async def _classify(self, request: pb.ClassifyRequest) -> pb.ClassifyResponse:
        model = resolve_model(self.core, "classification", request.model, request.version)
        scores = await classify(self.core, model, request.image, request.top_k or 5, self.limits)
        return pb.ClassifyResponse(model=_model_ref(model), classes=_classes(scores))

    async def _detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
        model = resolve_model(self.core, "detection", request.model, request.version)
        threshold = request.score_threshold if request.HasField("score_threshold") else None
        result = await detect(self.core, model, request.image, threshold,
                              request.max_detections, self.limits)
        detections = [
            pb.Detection(box=pb.Box(x1=d.box[0], y1=d.box[1], x2=d.box[2], y2=d.box[3]),
                         index=d.index, label=d.label, score=d.score)
            for d in result.detections
        ]
        return pb.DetectResponse(model=_model_ref(model), detections=detections,
                                 width=result.width, height=result.height)

    async def _segment(self, request: pb.SegmentRequest) -> pb.SegmentResponse:
        model = resolve_model(self.core, "segmentation", request.model, request.version)
        result = await segment(self.core, model, request.image, self.limits)
        shares = [pb.ClassShare(index=s.index, label=s.label, pixel_fraction=s.pixel_fraction)
                  for s in result.shares]
        return pb.SegmentResponse(model=_model_ref(model), class_map_png=result.class_map_png,
                                  class_names=result.class_names, shares=shares,
                                  width=result.width, height=result.height)

    async def _caption(self, request: pb.CaptionRequest) -> pb.CaptionResponse:
        model = resolve_model(self.core, "captioning", request.model, request.version)
        result = await caption(self.core, model, request.image, request.max_tokens,
                               request.beam_width, self.limits)
        return pb.CaptionResponse(model=_model_ref(model), caption=result.caption,
                                  log_probability=result.log_probability)

    async def _answer(self, request: pb.AnswerQuestionRequest) -> pb.AnswerQuestionResponse:
        model = resolve_model(self.core, "vqa", request.model, request.version)
        scores = await answer_question(self.core, model, request.image, request.question,
                                       request.top_k or 3, self.limits)
        answers = [pb.Answer(text=s.label, score=s.score) for s in scores]
        return pb.AnswerQuestionResponse(model=_model_ref(model), answers=answers)

    async def _transcribe(self, request: pb.TranscribeRequest) -> pb.TranscribeResponse:
        model = resolve_model(self.core, "speech", request.model, request.version)
        result = await transcribe(self.core, model, request.audio, self.limits,
                                  request.beam_width)
        segments = [pb.TranscriptSegment(start_s=s.start_s, end_s=s.end_s, text=s.text)
                    for s in result.segments]
        return pb.TranscribeResponse(model=_model_ref(model), text=result.text,
                                     segments=segments, duration_s=result.duration_s)

    def _list(self) -> pb.ListModelsResponse:
        models = self.core.models()
        response = pb.ListModelsResponse()
        for task in TASKS:
            serving = sorted(m.name for m in models if task_of(m) == task)
            if serving:
                default = default_model(models, task)
                response.tasks.add(task=task, default_model=default.name, models=serving)
        defaults = {summary.task: summary.default_model for summary in response.tasks}
        for model in sorted(models, key=lambda m: m.name):
            response.models.add(name=model.name, version=str(model.version),
                                task=task_of(model), description=model.metadata.description,
                                is_default=defaults.get(task_of(model)) == model.name)
        return response

    # --- RPCs ---

    async def _unary(self, work: Callable[[], Awaitable], context: grpc.aio.ServicerContext):
        try:
            return await asyncio.wait_for(work(), timeout=context.time_remaining())
        except TimeoutError:
            raise DeadlineExceeded("the request's deadline passed before its result was ready; "
                                   "allow more time") from None

    async def Classify(self, request: pb.ClassifyRequest,  # noqa: N802 - gRPC method names
                       context: grpc.aio.ServicerContext) -> pb.ClassifyResponse:
        return await self._unary(lambda: self._classify(request), context)

    async def Detect(self, request: pb.DetectRequest,  # noqa: N802 - gRPC method names
                     context: grpc.aio.ServicerContext) -> pb.DetectResponse:
        return await self._unary(lambda: self._detect(request), context)

    async def Segment(self, request: pb.SegmentRequest,  # noqa: N802 - gRPC method names
                      context: grpc.aio.ServicerContext) -> pb.SegmentResponse:
        return await self._unary(lambda: self._segment(request), context)

    async def Caption(self, request: pb.CaptionRequest,  # noqa: N802 - gRPC method names
                      context: grpc.aio.ServicerContext) -> pb.CaptionResponse:
        return await self._unary(lambda: self._caption(request), context)

    async def AnswerQuestion(self, request: pb.AnswerQuestionRequest,  # noqa: N802
                             context: grpc.aio.ServicerContext) -> pb.AnswerQuestionResponse:
        return await self._unary(lambda: self._answer(request), context)

    async def Transcribe(self, request: pb.TranscribeRequest,  # noqa: N802 - gRPC method names
                         context: grpc.aio.ServicerContext) -> pb.TranscribeResponse:
        return await self._unary(lambda: self._transcribe(request), context)

    async def ListModels(self, request: pb.ListModelsRequest,  # noqa: N802
                         context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        async def work():
            return self._list()
        return await self._unary(work, context)

    async def _stream_one(self, request: pb.TaskRequest) -> pb.TaskResponse:
        handlers = {
            "classify": self._classify, "detect": self._detect, "segment": self._segment,
            "caption": self._caption, "answer_question": self._answer,
            "transcribe": self._transcribe,
        }
        kind = request.WhichOneof("request")
        if kind is None:
            raise InvalidInput("the stream request carries no task; set one of classify, "
                               "detect, segment, caption, answer_question, transcribe")
        result = await handlers[kind](getattr(request, kind))
        return pb.TaskResponse(id=request.id, **{kind: result})

    async def Stream(self, request_iterator: AsyncIterator[pb.TaskRequest],  # noqa: N802
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.TaskResponse]:
        """Serves requests as they arrive, up to STREAM_WINDOW at once; answers as they finish."""
        async for response in bounded_stream(request_iterator, self._stream_one, _stream_error,
                                             STREAM_WINDOW):
            yield response


def _stream_error(request: pb.TaskRequest, exc: Exception) -> pb.TaskResponse:
    code, message = status_of(exc)
    return pb.TaskResponse(id=request.id, error=pb.TaskError(code=code.value[0], message=message))


def add_task_service(server: grpc.aio.Server, core: InferenceCore,
                     limits: TaskLimits | None = None) -> list[str]:
    """Register the task API on the server; returns its full service names (for reflection).

    `limits` (pixel count, audio duration, question length...) default to TaskLimits().
    """
    pb_grpc.add_TaskServiceServicer_to_server(TaskServicer(core, limits), server)
    return [pb.DESCRIPTOR.services_by_name["TaskService"].full_name]
