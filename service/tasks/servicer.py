"""The task API's gRPC servicer: convert the request, call the task handler, convert the result.

Each RPC calls `TaskHandlers` (handlers.py), which the HTTP task API calls too.
Errors become status codes in one place for both APIs (`service.rpc`): the methods here raise,
the server's `ErrorMapping` interceptor answers; stream items answer through `status_of`. The
stream shares the v2 stream's loop, `service.rpc.bounded_stream`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from google.protobuf.message import Message

from contract.protocol import striate_tasks_pb2 as pb
from contract.protocol import striate_tasks_pb2_grpc as pb_grpc

from ..core import InferenceCore
from ..errors import DeadlineExceeded, InvalidInput
from ..rpc import Note, bounded_stream, status_of
from .handlers import REPORTS_PROGRESS, TASK_OF_KIND, TaskHandlers
from .limits import TaskLimits

log = logging.getLogger(__name__)


class TaskServicer(pb_grpc.TaskServiceServicer):
    """Implements striate.tasks.v1.TaskService: each RPC calls the shared TaskHandlers."""

    def __init__(self, core: InferenceCore, limits: TaskLimits | None = None) -> None:
        self.handlers = TaskHandlers(core, limits)

    # --- RPCs ---

    async def _unary(self, work: Callable[[], Awaitable], context: grpc.aio.ServicerContext):
        try:
            return await asyncio.wait_for(work(), timeout=context.time_remaining())
        except TimeoutError:
            raise DeadlineExceeded("the request's deadline passed before its result was ready; "
                                   "allow more time") from None

    async def ListModels(self, request: pb.ListModelsRequest,  # noqa: N802
                         context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        async def work():
            return self.handlers.list_models()
        return await self._unary(work, context)

    async def _stream_one(self, request: pb.TaskRequest, note: Note) -> pb.TaskResponse:
        handlers = self.handlers.by_kind()
        kind = request.WhichOneof("request")
        if kind is None:
            raise InvalidInput("the stream request carries no task; set one of "
                               + ", ".join(handlers))
        if request.progress and kind in REPORTS_PROGRESS:
            unit = REPORTS_PROGRESS[kind]

            def report(done: int, total: int) -> None:
                note(pb.TaskResponse(id=request.id, progress=pb.TaskProgress(
                    done=done, total=total, unit=unit)))
            result = await handlers[kind](getattr(request, kind), report)
        else:
            result = await handlers[kind](getattr(request, kind))
        return pb.TaskResponse(id=request.id, **{kind: result})

    async def Stream(self, request_iterator: AsyncIterator[pb.TaskRequest],  # noqa: N802
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.TaskResponse]:
        """Serves requests as they arrive, up to rpc.STREAM_WINDOW at once; answers as they
        finish."""
        async for response in bounded_stream(request_iterator, self._stream_one, _stream_error):
            yield response


def _unary_rpc(kind: str) -> Callable:
    """The RPC of one task (TaskRequest's oneof name `kind`): its TaskHandlers method, within
    the call's deadline."""
    async def rpc(self: TaskServicer, request: Message,
                  context: grpc.aio.ServicerContext) -> Message:
        return await self._unary(lambda: getattr(self.handlers, kind)(request), context)
    rpc.__name__ = rpc.__qualname__ = _rpc_name(kind)
    return rpc


def _rpc_name(kind: str) -> str:
    """'answer_question' -> 'AnswerQuestion': the task's RPC in the proto."""
    return "".join(part.capitalize() for part in kind.split("_"))


for _kind in TASK_OF_KIND:  # one RPC per task, named as the proto names it
    setattr(TaskServicer, _rpc_name(_kind), _unary_rpc(_kind))


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
