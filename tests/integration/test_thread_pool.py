"""A server with `--thread-pool shared`: its models answer at once, on one pool, as logged;
what the shared pool cannot honour is refused with the reason."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.integration.helpers import infer
from tests.support import models
from tests.support.server import running_server

OWN_THREADS = """max_batch_size: 8
parameters { key: "intra_op_thread_count" value { string_value: "1" } }
"""
FACTORS = {"double": 2.0, "triple": 3.0, "times5": 5.0}


def test_models_busy_at_once_share_one_pool(tmp_path):
    for name, factor in FACTORS.items():
        models.save(models.scale_model(factor=factor), tmp_path, name)
    models.save(models.scale_model(), tmp_path, "own_threads", config=OWN_THREADS)
    with running_server(tmp_path, "--thread-pool", "shared", "--intra-op-threads", "2") as server:
        wrong: list[str] = []

        def call_many(name: str) -> None:
            with triton.InferenceServerClient(server.grpc_url) as client:
                for step in range(30):
                    x = np.full((1, 4), step + 1, np.float32)
                    y = infer(client, name, x=x).as_numpy("y")
                    if not np.array_equal(y, x * FACTORS[name]):
                        wrong.append(f"{name}: {x.tolist()} -> {y.tolist()}")

        callers = [threading.Thread(target=call_many, args=(name,)) for name in FACTORS]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert wrong == []

        # a model asking for threads of its own is refused, with what to change
        with triton.InferenceServerClient(server.grpc_url) as client:
            with pytest.raises(triton.InferenceServerException) as error:
                infer(client, "own_threads", x=np.ones((1, 4), np.float32))
        assert error.value.status() == "StatusCode.UNAVAILABLE"
        assert "sets intra_op_thread_count or inter_op_thread_count" in error.value.message()
        assert "--thread-pool per-model" in error.value.message()
        log = server.log()
    assert log.count("models on the CPU share one ONNX Runtime thread pool (2 threads)") == 1
    pools = dict(re.findall(r"loaded \S+/(\w+)/1/model\.onnx on CPUExecutionProvider "
                            r"\((\w+) thread pool\)", log))
    assert pools == {name: "shared" for name in FACTORS}


@pytest.mark.parametrize("other", [("--device", "cuda"), ("--model-isolation", "process")])
def test_the_shared_pool_is_refused_at_startup_where_it_cannot_work(tmp_path, other):
    models.save(models.scale_model(), tmp_path, "scale")
    with pytest.raises(RuntimeError) as error:
        with running_server(tmp_path, "--thread-pool", "shared", *other):
            pass
    assert "server exited with 1" in str(error.value)
    assert "--thread-pool shared is for models run on the CPU in the server process" \
        in str(error.value)
