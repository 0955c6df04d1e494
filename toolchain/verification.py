"""`python -m toolchain verify`: check a written folder against PyTorch again.

Exports and their fp16 variants keep what they were built from in verification.json; this
rebuilds it and compares. It sits above both `exporter` and `variants` (which imports the
exporter), so neither imports the other back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toolchain.architectures import BuildOptions, ExportError, get
from toolchain.exporter import (
    VERIFICATION_FILE,
    build_components,
    latest_model_file,
    verify_component,
)
from toolchain.variants import verify_fp16


def verify_folder(folder: Path) -> list[dict]:
    """Rebuild the PyTorch model recorded in verification.json and check the folder's graph."""
    folder = Path(folder)
    record_file = folder / VERIFICATION_FILE
    if not record_file.is_file():
        raise ExportError(
            f"{folder} has no {VERIFICATION_FILE}: it was not written by this toolchain"
        )
    record = json.loads(record_file.read_text())
    if record.get("variant") == "fp16":
        return verify_fp16(folder, record)
    if record.get("variant"):
        raise ExportError(
            f"{folder} is a {record['variant']} variant, checked against its calibration images "
            "when it was written (see its MODEL_CARD.md); verify its source model"
        )
    options = BuildOptions(**record["options"])
    components = build_components(get(record["architecture"]), options, record["seed"])
    component = next((c for c in components if c.suffix == record["component"]), None)
    if component is None:
        raise ExportError(f"the architecture no longer has a component {record['component']!r}")
    model_file = latest_model_file(folder)
    return verify_component(component, model_file, np.random.default_rng(record["seed"] + 2))
