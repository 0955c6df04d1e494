"""gRPC messages <-> the data plane's types (proto <-> internal types)."""

from __future__ import annotations

from contract.protocol import grpc_service_pb2 as pb

from ..errors import InvalidInput
from .dataplane import (
    InferRequest,
    InferResult,
    InputTensor,
    RequestedOutput,
    priority_timeout,
    sequence_flags,
    shm_ref,
    tensor_to_bytes,
)

# typed-contents field of each datatype (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "INT8": "int_contents",
    "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def parameters(params) -> dict:
    """A map<string, InferParameter> as plain Python values."""
    values: dict = {}
    if not params:  # the usual case, and cheaper to ask than to iterate
        return values
    for key, param in params.items():
        choice = param.WhichOneof("parameter_choice")
        values[key] = getattr(param, choice) if choice else None
    return values


def set_parameters(target, values: dict) -> None:
    for key, value in values.items():
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        else:
            target[key].string_param = str(value)


def infer_request(request: pb.ModelInferRequest) -> InferRequest:
    """A ModelInferRequest as the data plane's InferRequest. Tensor data is not decoded here:
    the data plane checks the declared datatypes and shapes against the model first."""
    params = parameters(request.parameters)
    priority, timeout_s = priority_timeout(params)
    tensors = [(t, parameters(t.parameters)) for t in request.inputs]
    carried = [t for t, p in tensors if not p.get("shared_memory_region")]
    raw = request.raw_input_contents
    if raw and len(raw) != len(carried):
        raise InvalidInput(f"raw_input_contents has {len(raw)} entries for {len(carried)} "
                           "inputs not in shared memory; send one per input, in order")
    raw_of = {id(t): raw[index] for index, t in enumerate(carried)} if raw else {}
    inputs = []
    for tensor, tensor_params in tensors:
        item = InputTensor(tensor.name, tensor.datatype, list(tensor.shape),
                           shm=shm_ref(tensor.name, tensor_params))
        if item.shm is None and raw:
            if tensor.HasField("contents"):
                raise InvalidInput(f"input '{tensor.name}' has typed contents while the "
                                   "request uses raw_input_contents; use one form")
            item.raw = raw_of[id(tensor)]
        elif item.shm is None:
            item.values = _typed_contents(tensor)
        inputs.append(item)
    outputs = []
    for output in request.outputs:
        output_params = parameters(output.parameters)
        outputs.append(RequestedOutput(output.name, int(output_params.get("classification", 0)),
                                       shm_ref(output.name, output_params)))
    return InferRequest(request.model_name, request.model_version, request.id, inputs,
                        outputs, priority, timeout_s, sequence_flags(params))


def _typed_contents(tensor):
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None:
        if tensor.datatype == "FP16":
            raise InvalidInput(f"input '{tensor.name}' is FP16, which has no typed contents; "
                               "send it in raw_input_contents")
        return []  # an unknown datatype: the data plane names it
    return getattr(tensor.contents, field)


def infer_response(result: InferResult) -> pb.ModelInferResponse:
    """Every output in raw_output_contents (the only form tritonclient decodes); an output
    written to shared memory keeps its place with an empty entry."""
    response = pb.ModelInferResponse(model_name=result.model_name,
                                     model_version=result.model_version, id=result.id)
    for tensor in result.outputs:
        output = response.outputs.add(name=tensor.name, datatype=tensor.datatype,
                                      shape=tensor.shape)
        if tensor.shm is not None:
            set_parameters(output.parameters, {
                "shared_memory_region": tensor.shm.region,
                "shared_memory_offset": tensor.shm.offset,
                "shared_memory_byte_size": tensor.shm.byte_size})
            response.raw_output_contents.append(b"")
        elif tensor.data is not None:
            response.raw_output_contents.append(tensor_to_bytes(tensor.data, tensor.datatype))
        else:
            raise ValueError(f"output '{tensor.name}' has neither data nor shared memory")
    return response
