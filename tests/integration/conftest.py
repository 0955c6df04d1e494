"""A repository of tiny models built here, and one real server process serving it."""

from __future__ import annotations

from pathlib import Path

import pytest
import tritonclient.grpc as triton
from onnx import TensorProto

from tests.support import models
from tests.support.server import running_server

BATCHING = """
max_batch_size: 64
dynamic_batching { max_queue_delay_microseconds: 20000 preferred_batch_size: [64] }
"""
SLOW = """
max_batch_size: 4
dynamic_batching { max_queue_delay_microseconds: 0 default_queue_policy { max_queue_size: 2 } }
"""
SERIAL = "max_batch_size: 1\n"  # one request per execution, queue bound 1024
VERSIONED = "version_policy { all {} }\n"
MISSPELT = """
parameters { key: "task" value { string_value: "detection" } }
parameters { key: "score_treshold" value { string_value: "0.3" } }
"""
MISTYPED = """
parameters { key: "task" value { string_value: "detection" } }
parameters { key: "score_threshold" value { string_value: "high" } }
"""


def build_repository(root: Path) -> Path:
    models.save(models.add_sub_model(), root, "add_sub", config=BATCHING)
    models.save(models.scale_model(TensorProto.FLOAT), root, "scale_fp32")
    models.save(models.scale_model(TensorProto.UINT8), root, "scale_uint8")
    models.save(models.scale_model(TensorProto.INT64), root, "scale_int64")
    models.save(models.scale_model(TensorProto.FLOAT16), root, "scale_fp16")
    models.save(models.echo_bytes_model(), root, "echo_bytes")
    # ~0.25 s a batch of 4 on a quiet 2-core machine: long enough to queue behind, whatever
    # the load (the default depth ran in 26 ms there, shorter than the expiry test's deadline)
    models.save(models.slow_model(depth=240), root, "slow", config=SLOW)
    # ~18 ms a request with ONNX Runtime's threads spinning within runs (rows=1 ran in 3 ms,
    # too short for a stream's 30 requests to be seen queued behind one another)
    models.save(models.slow_model(rows=16, depth=96), root, "slow_serial", config=SERIAL)
    models.save(models.reshape_model(), root, "reshape")
    for version in (1, 2, 3):
        models.save(models.scale_model(factor=float(version)), root, "versioned",
                    version=version, config=VERSIONED)
    models.save(models.scale_model(), root, "misspelt_parameter", config=MISSPELT)
    models.save(models.scale_model(), root, "mistyped_parameter", config=MISTYPED)
    models.save(models.scale_model(), root, "missing_labels",
                config='output [{ name: "y" label_filename: "labels.txt" }]\n')
    broken = root / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / "model.onnx").write_bytes(b"this is not an onnx file")
    (root / "samples").mkdir()  # not a model: ignored
    return root


@pytest.fixture(scope="session")
def repository(tmp_path_factory) -> Path:
    return build_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="session")
def server(repository):
    with running_server(repository) as running:
        yield running


@pytest.fixture()
def client(server):
    with triton.InferenceServerClient(server.grpc_url) as client:
        yield client
