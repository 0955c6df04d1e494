"""The task API: per-task handlers (code per task, never per model) over the shared core.

Each handler module decodes its input with `service.codecs`, prepares tensors from the model's
config (docs/model-folders.md), calls `InferenceCore.infer` (so task and v2 requests batch
together) and post-processes the outputs into a plain result dataclass. `servicer.py` turns
those into protobuf messages and maps errors to gRPC status codes in one place.
"""
