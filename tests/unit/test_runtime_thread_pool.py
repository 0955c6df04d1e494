"""`--thread-pool shared`: models on the CPU run on one ONNX Runtime pool, made once.

ONNX Runtime's shared pool belongs to the process and cannot be resized, so each check runs
in a fresh Python process (the test process has sessions of its own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.runtime import RuntimeOptions
from service.settings import setting_spec
from tests.support.models import save, scale_model
from tests.support.server import ROOT

THREAD_POOL = setting_spec("thread_pool")
FACTORS = (2.0, 3.0, 5.0)

# Loads one model per path with the given options, keeping every session alive, and reports
# the threads the process gained after each load, each model's answer, and the session option
# ONNX Runtime reads back.
PROBE = """
import json, os, sys
from pathlib import Path
import numpy as np
from service.errors import ModelLoadError
from service.runtime import OnnxRuntime, RuntimeOptions

shared, threads, paths = sys.argv[1] == "shared", int(sys.argv[2]), sys.argv[3:]
count = lambda: len(os.listdir("/proc/self/task"))
before, loaded, report = count(), [], {"added": [], "answers": [], "per_session": []}
for path in paths:
    runtime = OnnxRuntime(Path(path), RuntimeOptions(intra_op_threads=threads,
                                                     shared_thread_pool=shared))
    runtime.load()
    loaded.append(runtime)
    report["added"].append(count() - before)
    x = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
    report["answers"].append(np.unique(runtime.infer({"x": x})["y"] / x).tolist())
    report["per_session"].append(runtime.session.get_session_options().use_per_session_threads)
try:
    OnnxRuntime(Path(paths[0]), RuntimeOptions(intra_op_threads=threads + 1,
                                               shared_thread_pool=shared)).load()
    report["resize"] = "loaded"
except ModelLoadError as exc:
    report["resize"] = str(exc)
print(json.dumps(report))
"""


def probe(tmp_path: Path, pool: str, threads: int) -> dict:
    paths = [save(scale_model(width=4, factor=f), tmp_path, f"times{f:g}") / "1" / "model.onnx"
             for f in FACTORS]
    done = subprocess.run([sys.executable, "-c", PROBE, pool, str(threads), *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_cli_offers_both_pools_and_keeps_each_models_own_by_default() -> None:
    assert set(THREAD_POOL.metadata["choices"]) == {"per-model", "shared"}
    assert THREAD_POOL.default == "per-model"
    assert RuntimeOptions().shared_thread_pool is False


@pytest.mark.parametrize("threads", [2, 3])
def test_models_on_the_shared_pool_start_its_threads_once(tmp_path, threads: int) -> None:
    shared = probe(tmp_path, "shared", threads)
    # the caller's thread is one of the pool's, so a pool of N starts N - 1
    assert shared["added"] == [threads - 1] * len(FACTORS)
    assert shared["per_session"] == [False] * len(FACTORS)
    assert shared["answers"] == [[f] for f in FACTORS]


def test_models_with_their_own_pools_start_threads_each(tmp_path) -> None:
    own = probe(tmp_path, "per-model", 2)
    assert own["added"] == [1, 2, 3]
    assert own["per_session"] == [True] * len(FACTORS)
    assert own["resize"] == "loaded"


def test_a_model_asking_the_shared_pool_for_another_size_is_refused_clearly(tmp_path) -> None:
    shared = probe(tmp_path, "shared", 2)
    assert "shared thread pool was made with 2 intra-op threads" in shared["resize"]
    assert "--thread-pool per-model" in shared["resize"]
