"""Reference runs of a TF.js graph or layers model in node with TF.js's pure-JavaScript CPU backend.

`@tensorflow/tfjs` is installed with npm, once, into `$STRIATE_CACHE/tfjs-<version>/`
(default `~/.cache/striate`); `run_tfjs` passes tensors to `run_model.js` as raw files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TFJS_VERSION = "4.22.0"
RUNNER = Path(__file__).with_name("run_model.js")
TIMEOUT_S = 600


class TfjsUnavailable(Exception):
    """node or @tensorflow/tfjs could not be found or installed; the message says what to do."""


def tfjs_folder() -> Path:
    """The npm prefix holding node_modules/@tensorflow/tfjs."""
    root = Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate"))
    return root / f"tfjs-{TFJS_VERSION}"


def ensure_tfjs() -> Path:
    """Install @tensorflow/tfjs with npm on first use; returns its node_modules folder."""
    modules = tfjs_folder() / "node_modules"
    if (modules / "@tensorflow" / "tfjs").is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise TfjsUnavailable("TF.js reference runs need node and npm (apt-get install npm)")
    log.info("installing @tensorflow/tfjs@%s with npm into %s", TFJS_VERSION, tfjs_folder())
    tfjs_folder().mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(tfjs_folder()), "--no-audit", "--no-fund",
         f"@tensorflow/tfjs@{TFJS_VERSION}"],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise TfjsUnavailable(f"npm install @tensorflow/tfjs failed: {result.stderr[-300:]}")
    return modules


def run_tfjs(
    model_json: Path, inputs: dict[str, np.ndarray], outputs: list[str]
) -> dict[str, np.ndarray]:
    """Run the model once; `outputs` are tensor names ("Identity:0" or "Identity"; a layers
    model's outputs in its own order)."""
    modules = ensure_tfjs()
    with tempfile.TemporaryDirectory(prefix="tfjs-") as folder:
        io_dir = Path(folder)
        specs = {}
        for position, (name, array) in enumerate(inputs.items()):
            dtype = "int32" if np.issubdtype(array.dtype, np.integer) else "float32"
            array = np.ascontiguousarray(array, dtype=np.int32 if dtype == "int32" else np.float32)
            (io_dir / f"{position}.in").write_bytes(array.tobytes())
            specs[name] = {"shape": list(array.shape), "dtype": dtype}
        (io_dir / "inputs.json").write_text(json.dumps({"inputs": specs, "outputs": outputs}))
        result = subprocess.run(
            ["node", str(RUNNER), str(model_json), str(io_dir)],
            capture_output=True, text=True, timeout=TIMEOUT_S,
            env={**os.environ, "NODE_PATH": str(modules)},
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"TF.js run failed: {result.stderr[-1000:]}")
        described = json.loads((io_dir / "outputs.json").read_text())
        return {
            name: np.frombuffer(
                (io_dir / f"{position}.out").read_bytes(),
                np.int32 if spec["dtype"] == "int32" else np.float32,
            ).reshape(spec["shape"])
            for position, (name, spec) in enumerate(zip(outputs, described))
        }
