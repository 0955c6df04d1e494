"""OpenAPI for the HTTP task routes, generated from the task API's protobuf messages."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_SCALARS = {
    FieldDescriptor.CPPTYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.CPPTYPE_UINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.CPPTYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.CPPTYPE_UINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.CPPTYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.CPPTYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.CPPTYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.CPPTYPE_STRING: {"type": "string"},
}


def _field_schema(field: FieldDescriptor) -> dict:
    if field.type == FieldDescriptor.TYPE_BYTES:
        schema = {"type": "string", "format": "byte", "description": "base64"}
    elif field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        schema = message_schema(field.message_type)
    else:
        schema = dict(_SCALARS.get(field.cpp_type, {"type": "string"}))
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def message_schema(descriptor: Descriptor) -> dict:
    """JSON Schema of a message in protobuf's JSON mapping (lowerCamelCase names)."""
    return {"type": "object", "title": descriptor.name,
            "properties": {f.json_name: _field_schema(f) for f in descriptor.fields}}


def task_route_openapi(request: Any, response: Any, media_name: str,
                       file_field: str, task: str) -> dict:
    """`openapi_extra` of one task route: options as query parameters, the file as the body or
    a multipart field, the response message as JSON. `x-striate-task` (the model-folder task)
    and `x-striate-media` (image or audio) tell the demo page how to offer the route."""
    options = [f for f in request.fields if f.name != media_name]
    media_type = "audio/*" if media_name == "audio" else "image/*"
    media = {file_field: {"type": "string", "format": "binary"}} if media_name else {}
    form = {"type": "object", "required": list(media),
            "properties": {**media, **{f.name: _field_schema(f) for f in options}}}
    content: dict = {"multipart/form-data": {"schema": form}}
    if media_name:
        content[media_type] = {"schema": {"type": "string", "format": "binary"}}
    error = {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}}}}}}
    return {
        "x-striate-task": task,
        "x-striate-media": media_name,
        "parameters": [{"name": f.name, "in": "query", "required": False,
                        "schema": _field_schema(f)} for f in options],
        "requestBody": {"required": bool(media_name), "content": content},
        "responses": {
            "200": {"description": request.name.replace("Request", "Response"),
                    "content": {"application/json": {"schema": message_schema(response)}}},
            **{str(status): {"description": why, **error} for status, why in [
                (400, "bad input"), (404, "unknown model"), (413, "body too large"),
                (429, "the model's queue is full"), (503, "the model is not ready")]},
        },
    }
