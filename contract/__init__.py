"""Striate's contract: what the server, the clients and the toolchain must agree on.

One home per shared concept, imported by all three: the generated protocol stubs
(`contract.protocol`), and the model metadata, defaults and transforms they share.
Depends on numpy, protobuf, Pillow and grpcio only, so the thin client can carry it.
"""
