"""Generated stubs of both protos: the KServe v2 / Triton protocol and Striate's task API.

Regenerate with `python protos/generate.py`; never edit the `_pb2` files by hand.

Every stub here registers its descriptors in `POOL`, a descriptor pool of our own, instead
of protobuf's default pool. tritonclient registers its own copy of the same v2 protos
(`inference.*`, `grpc_service.proto`) in the default pool; two copies in one pool fail with
"duplicate symbol", two pools coexist. Package, message and service names are unchanged,
so the wire format and the RPC paths (`/inference.GRPCInferenceService/ModelInfer`) are
exactly Triton's.
"""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
