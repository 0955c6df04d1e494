"""KServe v2 REST with Triton's extensions, on the HTTP port.

Each route converts the HTTP request into the data plane's types (service/v2/dataplane.py),
calls the same DataPlane method the gRPC servicer calls, and writes the answer as JSON (the
protocol messages in their JSON form, 64-bit integers as numbers). Inference takes JSON
tensors and Triton's binary tensor extension (`Inference-Header-Content-Length`, the
`binary_data_size` / `binary_data` / `binary_data_output` parameters), gzip or deflate request
bodies, and compresses the answer when `Accept-Encoding` asks for it. Errors answer
`{"error": "<sentence>"}` with the HTTP status of their gRPC code.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from ..errors import InvalidInput
from ..names import MAX_NAME_LENGTH
from ..v2.dataplane import (
    DataPlane,
    InferRequest,
    InferResult,
    InputTensor,
    RequestedOutput,
    priority_timeout,
    sequence_flags,
    shm_ref,
    tensor_to_bytes,
)
from .context import HttpContext
from .errors import response_of

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY = "application/octet-stream"
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
          FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}


def build_router(context: HttpContext) -> APIRouter:
    """KServe v2 REST with Triton's extensions, over the same data plane as gRPC."""
    router = APIRouter(tags=["KServe v2"])
    plane: DataPlane | None = context.dataplane
    if plane is None:
        return router
    limit = context.settings.max_message_bytes
    for add_routes in (_model_routes, _repository_routes, _shared_memory_routes,
                       _settings_routes):
        add_routes(router, plane, limit)
    return router


def _model_routes(router: APIRouter, plane: DataPlane, limit: int) -> None:
    @router.get("/v2", summary="server metadata")
    def server_metadata() -> JSONResponse:
        return JSONResponse(proto_json(plane.server_metadata()))

    @router.get("/v2/models/stats", summary="statistics of every loaded model version")
    def all_stats() -> JSONResponse:
        return JSONResponse(proto_json(plane.statistics()))

    @router.get("/v2/models/{name}", summary="model metadata")
    @router.get("/v2/models/{name}/versions/{version}", summary="model version metadata")
    def model_metadata(name: str, version: str = "") -> JSONResponse:
        return JSONResponse(proto_json(plane.model_metadata(name, version)))

    @router.get("/v2/models/{name}/versions/{version}/ready", summary="200 when ready")
    def version_ready(name: str, version: str) -> JSONResponse:
        ready = plane.model_ready(name, version)
        return JSONResponse({"name": name[:MAX_NAME_LENGTH], "ready": ready},
                            status_code=200 if ready else 503)

    @router.get("/v2/models/{name}/config", summary="model configuration")
    @router.get("/v2/models/{name}/versions/{version}/config")
    def model_config(name: str, version: str = "") -> JSONResponse:
        return JSONResponse(proto_json(plane.model_config(name, version)))

    @router.get("/v2/models/{name}/stats", summary="statistics of every loaded version")
    @router.get("/v2/models/{name}/versions/{version}/stats")
    def model_stats(name: str, version: str = "") -> JSONResponse:
        return JSONResponse(proto_json(plane.statistics(name, version)))

    @router.post("/v2/models/{name}/infer", summary="inference (JSON or binary tensors)")
    @router.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str = "") -> Response:
        try:
            body = await read_body(request, limit)
            header, binary = split_body(body, request.headers.get(HEADER_LENGTH))
            infer_request, binary_outputs = infer_request_from_json(header, binary, name,
                                                                    version)
            result = await plane.infer(infer_request)
        except Exception as exc:  # noqa: BLE001 - answered here: Starlette's catch-all
            return response_of(exc)  # handler would re-raise and drop the connection
        return compressed(infer_response(result, binary_outputs), request)


def _repository_routes(router: APIRouter, plane: DataPlane, limit: int) -> None:
    @router.post("/v2/repository/index", summary="every model and its state")
    async def repository_index(request: Request) -> JSONResponse:
        body = await json_body(request, limit)
        rows = plane.repository_index(bool(body.get("ready", False))).models
        return JSONResponse([proto_json(row) for row in rows])

    @router.post("/v2/repository/models/{name}/load", summary="load or reload a model")
    async def load(name: str, request: Request) -> JSONResponse:
        params = _object(await json_body(request, limit), "parameters")
        config = params.get("config")
        if config is not None and not isinstance(config, str):
            raise InvalidInput("the 'config' load parameter must be a string of JSON")
        files = {key: _base64(key, value) for key, value in params.items()
                 if key.startswith("file:")}
        await plane.load(name, config, files)
        return JSONResponse({})

    @router.post("/v2/repository/models/{name}/unload", summary="unload a model")
    async def unload(name: str, request: Request) -> JSONResponse:
        await json_body(request, limit)
        await plane.unload(name)
        return JSONResponse({})


def _shared_memory_routes(router: APIRouter, plane: DataPlane, limit: int) -> None:
    @router.get("/v2/systemsharedmemory/status")
    @router.get("/v2/systemsharedmemory/region/{region}/status")
    def shm_status(region: str = "") -> JSONResponse:
        regions = plane.shm_status(region).regions
        return JSONResponse([proto_json(regions[key]) for key in sorted(regions)])

    @router.post("/v2/systemsharedmemory/region/{region}/register")
    async def shm_register(region: str, request: Request) -> JSONResponse:
        body = await json_body(request, limit)
        key = body.get("key")
        if not isinstance(key, str):
            raise InvalidInput("registering system shared memory needs 'key' (a string), "
                               "'offset' and 'byte_size'")
        plane.shm_register(region, key, _integer(body, "offset"), _integer(body, "byte_size"))
        return JSONResponse({})

    @router.post("/v2/systemsharedmemory/unregister")
    @router.post("/v2/systemsharedmemory/region/{region}/unregister")
    def shm_unregister(region: str = "") -> JSONResponse:
        plane.shm_unregister(region)
        return JSONResponse({})

    @router.get("/v2/cudasharedmemory/status")
    @router.get("/v2/cudasharedmemory/region/{region}/status")
    def cuda_status(region: str = "") -> JSONResponse:
        plane.cuda_shm_status(region)
        return JSONResponse([])

    @router.post("/v2/cudasharedmemory/region/{region}/register")
    def cuda_register(region: str) -> JSONResponse:
        plane.cuda_shm(f"register '{region}'")
        return JSONResponse({})

    @router.post("/v2/cudasharedmemory/unregister")
    @router.post("/v2/cudasharedmemory/region/{region}/unregister")
    def cuda_unregister(region: str = "") -> JSONResponse:
        return JSONResponse({})  # no CUDA region can be registered


def _settings_routes(router: APIRouter, plane: DataPlane, limit: int) -> None:
    @router.get("/v2/trace/setting")
    @router.post("/v2/trace/setting")
    @router.get("/v2/models/{name}/trace/setting")
    @router.post("/v2/models/{name}/trace/setting")
    async def trace_setting(request: Request, name: str = "") -> JSONResponse:
        changes = {key: _strings(key, value)
                   for key, value in (await json_body(request, limit)).items()}
        settings = plane.update_trace_settings(name, changes)
        return JSONResponse({key: values if key == "trace_level" else
                             (values[0] if values else "") for key, values in settings.items()})

    @router.get("/v2/logging")
    @router.post("/v2/logging")
    async def log_settings(request: Request) -> JSONResponse:
        return JSONResponse(plane.update_log_settings(await json_body(request, limit)))


def proto_json(message) -> Any:
    """A protocol message as JSON data: field names as in the .proto, every field present,
    enums by name, 64-bit integers as numbers (not the strings of protobuf's JSON mapping)."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    return _numbers(data, message.DESCRIPTOR)


def _numbers(data: dict, descriptor) -> dict:
    for field in descriptor.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            inner = field.message_type.fields_by_name["value"]
            data[field.name] = {k: _one(v, inner) for k, v in value.items()}
        elif field.label == FieldDescriptor.LABEL_REPEATED:
            data[field.name] = [_one(v, field) for v in value]
        else:
            data[field.name] = _one(value, field)
    return data


def _one(value, field):
    if field.message_type is not None and isinstance(value, dict):
        return _numbers(value, field.message_type)
    if field.type in _INT64 and isinstance(value, str):
        return int(value)
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed (gzip, deflate), at most `limit` bytes either way."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InvalidInput(f"the request body has {declared} bytes, over the limit of {limit}")
    body = await request.body()
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidInput(f"Content-Encoding '{encoding}' is not served; use gzip or deflate")
    window = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(window)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the request body is not valid {encoding} data ({exc})") from exc
    if len(data) > limit:
        raise InvalidInput(f"the decompressed request body is over the limit of {limit} bytes")
    return data


async def json_body(request: Request, limit: int) -> dict:
    """A JSON object body; an empty body is an empty object."""
    body = await read_body(request, limit)
    return _json_object(body) if body.strip() else {}


def _json_object(data: bytes | memoryview) -> dict:
    try:
        value = json.loads(bytes(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidInput("the request body must be a JSON object")
    return value


def split_body(body: bytes, header_length: str | None) -> tuple[dict, memoryview]:
    """The JSON inference header and the binary tensor data after it."""
    if header_length is None:
        return _json_object(body), memoryview(b"")
    if not header_length.isdigit() or int(header_length) > len(body):
        raise InvalidInput(f"{HEADER_LENGTH} is {header_length!r}; it must be the byte length "
                           f"of the JSON header, at most the body's {len(body)} bytes")
    size = int(header_length)
    view = memoryview(body)
    return _json_object(view[:size]), view[size:]


def infer_request_from_json(header: dict, binary: memoryview, name: str,
                            version: str) -> tuple[InferRequest, dict[str, bool]]:
    """The data plane's InferRequest, and which outputs are asked for in binary form."""
    params = _object(header, "parameters")
    priority, timeout_s = priority_timeout(params)
    offset, inputs = 0, []
    for index, tensor in enumerate(_list(header, "inputs")):
        item, size = _input(tensor, index, binary, offset)
        inputs.append(item)
        offset += size
    if offset != len(binary):
        raise InvalidInput(f"the body carries {len(binary)} bytes of binary tensor data; the "
                           f"inputs' binary_data_size add up to {offset}")
    binary_default = bool(params.get("binary_data_output", False))
    outputs, binary_outputs = [], {}
    for tensor in _list(header, "outputs"):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidInput("each requested output needs a 'name'")
        output_params = _object(tensor, "parameters")
        outputs.append(RequestedOutput(tensor["name"],
                                       _integer(output_params, "classification"),
                                       shm_ref(tensor["name"], output_params)))
        binary_outputs[tensor["name"]] = bool(output_params.get("binary_data", binary_default))
    request_id = header.get("id", "")
    binary_outputs[""] = binary_default  # outputs not named in the request
    return InferRequest(name, version, str(request_id), inputs, outputs, priority, timeout_s,
                        sequence_flags(params)), binary_outputs


def _input(tensor: Any, index: int, binary: memoryview,
           offset: int) -> tuple[InputTensor, int]:
    if not isinstance(tensor, dict):
        raise InvalidInput(f"input {index} must be a JSON object")
    name, datatype, shape = tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
    if not isinstance(name, str) or not isinstance(datatype, str) or not isinstance(shape, list) \
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidInput(f"input {index} needs 'name', 'datatype' and 'shape' (a list of "
                           "integers)")
    params = _object(tensor, "parameters")
    item = InputTensor(name, datatype, shape, shm=shm_ref(name, params))
    if item.shm is not None:
        return item, 0
    if "binary_data_size" in params:
        size = _integer(params, "binary_data_size")
        if offset + size > len(binary):
            raise InvalidInput(f"input '{name}' declares {size} bytes of binary data; the body "
                               f"has {len(binary) - offset} left")
        item.raw = binary[offset:offset + size]
        return item, size
    if "data" not in tensor:
        raise InvalidInput(f"input '{name}' has no 'data', binary_data_size or shared memory")
    values = _flat(tensor["data"])
    if datatype == "BYTES":
        values = [v.encode() if isinstance(v, str) else v for v in values]
    item.values = values
    return item, 0


def _flat(data: Any) -> list:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list = []
    for value in data:
        flat.extend(_flat(value))
    return flat


def infer_response(result: InferResult, binary_outputs: dict[str, bool]) -> Response:
    outputs, blobs = [], []
    for tensor in result.outputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype,
                                 "shape": tensor.shape}
        if tensor.shm is not None:
            pass  # in the client's shared memory; no parameters (Triton's C++ client reads
            # every output's parameters as binary data)
        elif tensor.data is None:
            raise ValueError(f"output '{tensor.name}' has neither data nor shared memory")
        elif binary_outputs.get(tensor.name, binary_outputs[""]):
            data = tensor_to_bytes(tensor.data, tensor.datatype)
            entry["parameters"] = {"binary_data_size": len(data)}
            blobs.append(data)
        else:
            entry["data"] = _json_values(tensor.name, tensor.datatype, tensor.data)
        outputs.append(entry)
    header = {"model_name": result.model_name, "model_version": result.model_version,
              "outputs": outputs}
    if result.id:
        header["id"] = result.id
    text = json.dumps(header).encode()
    if not blobs:
        return Response(text, media_type="application/json")
    return Response(b"".join([text, *blobs]), media_type=BINARY,
                    headers={HEADER_LENGTH: str(len(text))})


def _json_values(name: str, datatype: str, array: np.ndarray) -> list:
    flat = array.reshape(-1)
    if datatype != "BYTES":
        return flat.tolist()
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"output '{name}' holds bytes that are not UTF-8 text; ask for it "
                           "with the binary_data parameter") from exc


def compressed(response: Response, request: Request) -> Response:
    """Compress the answer with what Accept-Encoding names first of gzip and deflate."""
    accepted = request.headers.get("accept-encoding", "").lower()
    if "gzip" in accepted:
        response.body = gzip.compress(response.body, compresslevel=1)
        encoding = "gzip"
    elif "deflate" in accepted:
        response.body = zlib.compress(response.body, 1)
        encoding = "deflate"
    else:
        return response
    response.headers["Content-Encoding"] = encoding
    response.headers["Content-Length"] = str(len(response.body))
    return response


def _object(container: dict, key: str) -> dict:
    value = container.get(key, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"'{key}' must be a JSON object")
    return value


def _list(container: dict, key: str) -> list:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"'{key}' must be a JSON list")
    return value


def _integer(container: dict, key: str) -> int:
    value = container.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"'{key}' must be a non-negative integer, got {value!r}")
    return value


def _strings(key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidInput(f"trace setting '{key}' must be a string or a list of strings")


def _base64(key: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(f"load parameter '{key[:80]}' must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"load parameter '{key[:80]}' is not valid base64") from exc
