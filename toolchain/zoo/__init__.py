"""The shipped zoo: training scripts (`train_*.py`) and importers (`import_*.py`).

Each module defines `NAME: str`, `DESCRIPTION: str` and
`main(out_dir: Path, *, quick: bool = False) -> Path`, which writes a complete model
folder into `out_dir` and returns it. `quick=True` runs a few steps only (CI keeps the
scripts alive with it). Modules are discovered by file name, so adding one needs no
registration here.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def _modules(prefix: str) -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(prefix):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found[module.NAME] = module
    return found


def trainers() -> dict[str, ModuleType]:
    """Training scripts by zoo model name."""
    return _modules("train_")


def importers() -> dict[str, ModuleType]:
    """Importers of pretrained weights that packages ship, by zoo model name."""
    return _modules("import_")
