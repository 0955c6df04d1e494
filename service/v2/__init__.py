"""The KServe v2 / Triton gRPC inference protocol."""
