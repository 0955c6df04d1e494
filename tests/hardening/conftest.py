"""One server for the request-level hardening tests, on a copy of two shipped models.

`easyvqa_batching` is easyvqa with a long queue delay, so concurrent requests surely share
a batch (the shipped 2 ms would make the batch isolation test depend on timing). `slow` runs
one request at a time, so requests queue behind each other. `total` sums an INT64 vector of
any length into one number (big requests, small answers); `echo` returns its FP32 vector.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from tests.support import models
from tests.support.server import running_server

ZOO = Path(__file__).resolve().parents[2] / "exported_models"
BATCHING_VQA = "easyvqa_batching"
SLOW = "slow"
TOTAL = "total"
ECHO = "echo"


@pytest.fixture(scope="session")
def hardening_repository(tmp_path_factory) -> Path:
    repository = tmp_path_factory.mktemp("hardening-repository")
    shutil.copytree(ZOO / "easyvqa", repository / "easyvqa")
    shutil.copytree(ZOO / "easyvqa", repository / BATCHING_VQA)
    config = repository / BATCHING_VQA / "config.pbtxt"
    text = config.read_text().replace('name: "easyvqa"', f'name: "{BATCHING_VQA}"')
    # a wide window, waited out for a preferred size that never comes: batches form for sure
    text = text.replace("max_queue_delay_microseconds: 2000",
                        "max_queue_delay_microseconds: 300000\n  preferred_batch_size: [ 64 ]")
    assert "preferred_batch_size: [ 64 ]" in text, "easyvqa's config changed: adapt this fixture"
    config.write_text(text)
    models.save(models.slow_model(depth=8), repository, SLOW, config="max_batch_size: 0\n")
    total = models.graph([helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)],
                         [models.tensor("x", TensorProto.INT64, ["n"])],
                         [models.tensor("y", TensorProto.INT64, [1])])
    models.save(total, repository, TOTAL, config="max_batch_size: 0\n")
    echo = models.graph([helper.make_node("Identity", ["x"], ["y"])],
                        [models.tensor("x", TensorProto.FLOAT, ["n"])],
                        [models.tensor("y", TensorProto.FLOAT, ["n"])])
    models.save(echo, repository, ECHO, config="max_batch_size: 0\n")
    return repository


@pytest.fixture(scope="session")
def server(hardening_repository):
    with running_server(hardening_repository) as running:
        yield running
