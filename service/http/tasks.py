"""The HTTP task API: `POST /tasks/<kind>` for each task of the gRPC task API, `GET /tasks`.

Each route builds the same request message the gRPC API takes, calls the same `TaskHandlers`
and answers the response message in protobuf's JSON mapping, so both transports say the same.
The file comes as the request body or as a multipart field `file`; options (`model`, `top_k`,
`question`...: the request message's other fields) as query or form fields. A WebSocket at
`/tasks/<kind>/live` serves camera frames, always the newest one (stale frames are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from contract.protocol import striate_tasks_pb2 as pb

from ..errors import InvalidInput
from ..rpc import status_of
from ..tasks.handlers import TASK_OF_KIND, Handler, TaskHandlers
from ..tasks.limits import task_limits
from .context import HttpContext
from .errors import HTTP_STATUS
from .schema import task_route_openapi

log = logging.getLogger(__name__)

FILE_FIELD = "file"


def request_type(kind: str) -> type[Message]:
    """The request message of a task: TaskRequest's oneof field of that name."""
    return GetMessageClass(pb.TaskRequest.DESCRIPTOR.fields_by_name[kind].message_type)


def response_descriptor(kind: str) -> Descriptor:
    return pb.TaskResponse.DESCRIPTOR.fields_by_name[kind].message_type


def media_field(descriptor: Any) -> str:  # a protobuf Descriptor (Python or upb)
    """The request's first bytes field: `image` or `audio`; "" for a task without a file
    (analogy: its options are the whole request)."""
    return next((f.name for f in descriptor.fields if f.type == FieldDescriptor.TYPE_BYTES), "")


def to_json(message: Message) -> dict:
    """protobuf's JSON mapping, with every field present (zeros and empty lists too)."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def build_request(kind: str, media: bytes, options: Mapping[str, str | bytes]) -> Message:
    """The task's request message from the file's bytes and text options."""
    message = request_type(kind)()
    media_name = media_field(message.DESCRIPTOR)
    if media and not media_name:
        raise InvalidInput(f"{kind} takes no file; send its options as query or form fields")
    if media_name and not media:
        raise InvalidInput(f"the request carries no {media_name}; send the file as the request "
                           f"body or as a multipart field named '{FILE_FIELD}'")
    if media_name:
        setattr(message, media_name, media)
    fields = message.DESCRIPTOR.fields_by_name
    for name, text in options.items():
        field = fields.get(name)
        if field is None or name == media_name:
            known = ", ".join(f for f in fields if f != media_name)
            raise InvalidInput(f"{kind} takes no option '{name}'; its options are {known}")
        if field.type == FieldDescriptor.TYPE_BYTES:  # a second file: stylize's style_image
            if not isinstance(text, bytes):
                raise InvalidInput(f"send '{name}' as a file field of a multipart form")
            setattr(message, name, text)
        elif isinstance(text, bytes):
            raise InvalidInput(f"'{name}' is an option, not a file; send it as a text field")
        else:
            setattr(message, name, _parse_option(field, text))
    return message


def _parse_option(field: FieldDescriptor, text: str) -> object:
    kinds: dict[int, tuple[Callable[[str], object], str]]
    kinds = {FieldDescriptor.CPPTYPE_INT32: (int, "a whole number"),
             FieldDescriptor.CPPTYPE_INT64: (int, "a whole number"),
             FieldDescriptor.CPPTYPE_UINT32: (int, "a whole number"),
             FieldDescriptor.CPPTYPE_UINT64: (int, "a whole number"),
             FieldDescriptor.CPPTYPE_FLOAT: (float, "a number"),
             FieldDescriptor.CPPTYPE_DOUBLE: (float, "a number"),
             FieldDescriptor.CPPTYPE_BOOL: (_boolean, "true or false")}
    if field.cpp_type not in kinds:
        return text
    parse, what = kinds[field.cpp_type]
    try:
        value = parse(text)
        if isinstance(value, int) and not -2**31 <= value < 2**31:
            raise ValueError(text)
        return value
    except ValueError:
        raise InvalidInput(f"option '{field.name}' must be {what}, not '{text[:40]}'") from None


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(text)


async def read_upload(request: Request, limit: int,
                      media_name: str) -> tuple[bytes, dict[str, str | bytes]]:
    """The file and the options of an HTTP task request: the body, or the multipart field
    `file` (or `media_name`: image, audio); options from the query or the form."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, _too_large(int(declared), limit))
    options: dict[str, str | bytes] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=64)
        media = b""
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) and name not in (FILE_FIELD, media_name) \
                    and media_name:  # another file field of the request (style_image)
                options[name] = await value.read()
            elif isinstance(value, UploadFile):
                if name not in (FILE_FIELD, media_name):
                    raise InvalidInput(f"send the file in the multipart field '{FILE_FIELD}', "
                                       f"not '{name}'")
                media = await value.read()
            else:
                options[name] = value
        return media, options
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, _too_large(len(body), limit))
    return bytes(body), options


def _too_large(size: int, limit: int) -> str:
    return (f"the request body is larger than the server accepts ({size} bytes > {limit}); "
            "send a smaller file")


def build_router(context: HttpContext) -> APIRouter:
    router = APIRouter(tags=["tasks"])
    handlers = TaskHandlers(context.core, task_limits(context.settings))
    limit = context.settings.max_message_bytes

    @router.get("/tasks", summary="The tasks served, their default models, every model")
    def list_models() -> JSONResponse:
        return JSONResponse(to_json(handlers.list_models()))

    for kind, handler in handlers.by_kind().items():
        _add_task_routes(router, kind, handler, limit)
    return router


def _add_task_routes(router: APIRouter, kind: str, handler: Handler, limit: int) -> None:
    request_descriptor = request_type(kind).DESCRIPTOR
    media_name = media_field(request_descriptor)

    async def run(request: Request) -> JSONResponse:
        media, options = await read_upload(request, limit, media_name)
        started = time.perf_counter()
        response = await handler(build_request(kind, media, options))
        elapsed_ms = (time.perf_counter() - started) * 1000
        return JSONResponse(to_json(response),
                            headers={"Server-Timing": f"task;dur={elapsed_ms:.1f}"})

    async def live(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)  # the page's token
        await serve_frames(websocket, kind, handler, dict(websocket.query_params))

    router.add_api_route(f"/tasks/{kind}", run, methods=["POST"], name=kind,
                         openapi_extra=task_route_openapi(
                             request_descriptor, response_descriptor(kind),
                             media_name, FILE_FIELD, TASK_OF_KIND[kind]),
                         summary=f"{_method_name(kind)}: the gRPC task over HTTP")
    router.add_api_websocket_route(f"/tasks/{kind}/live", live, name=f"{kind}_live")


def _method_name(kind: str) -> str:
    service = pb.DESCRIPTOR.services_by_name["TaskService"]
    return next(m.name for m in service.methods
                if m.input_type.name == request_type(kind).DESCRIPTOR.name)


async def serve_frames(websocket: WebSocket, kind: str, handler: Handler,
                       options: dict[str, str]) -> None:
    """Answer each binary frame with `{"result": ..., "serverMs": ...}` or `{"error": ...}`.

    Frames that arrive while one is being served replace each other: only the newest waits,
    so a camera faster than the model never builds a queue.
    """
    newest: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)

    async def receive() -> None:
        while True:
            frame = await websocket.receive_bytes()
            with contextlib.suppress(asyncio.QueueEmpty):
                newest.get_nowait()  # a stale frame nobody has started on
            newest.put_nowait(frame)

    receiver = asyncio.create_task(receive())
    try:
        while True:
            frame_task = asyncio.create_task(newest.get())
            done, _ = await asyncio.wait({frame_task, receiver},
                                         return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                frame_task.cancel()
                receiver.result()  # raises the disconnect
            await websocket.send_text(json.dumps(await _serve_frame(kind, handler, options,
                                                                    frame_task.result())))
    except (WebSocketDisconnect, RuntimeError):
        pass  # the page closed the camera
    finally:
        receiver.cancel()


async def _serve_frame(kind: str, handler: Handler, options: dict[str, str],
                       frame: bytes) -> dict:
    started = time.perf_counter()
    try:
        response = await handler(build_request(kind, frame, options))
    except Exception as exc:  # noqa: BLE001 - one bad frame answers an error, the feed goes on
        code, message = status_of(exc)
        return {"error": message, "status": HTTP_STATUS.get(code, 500)}
    return {"result": to_json(response), "serverMs": (time.perf_counter() - started) * 1000}
