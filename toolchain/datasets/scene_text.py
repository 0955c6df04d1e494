"""Photographs of text in the street, from Debian's `opencv-doc` package, fetched and cached.

OpenCV's text module ships six scene-text photos as samples (`examples/text/scenetext0N.jpg`;
Debian's copyright file: Apache-2.0 AND BSD-3-Clause, OpenCV contributors). `apt-get download`
fetches the package (96 MB, not installed) once into `$STRIATE_CACHE/opencv-doc/`; only the
photos are extracted. The text in each was read off the photo by this project (by eye).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

PACKAGE = "opencv-doc"
MEMBER = "./usr/share/doc/opencv-doc/examples/text/{name}.jpg"
LICENSE = "Apache-2.0 AND BSD-3-Clause (OpenCV; Debian opencv-doc's copyright file)"
# the words a person reads on each photo, top to bottom (hand-labelled here)
TRUTH = {
    "scenetext01": ["NOTICE", "DOUBLE", "PARKING", "PROHIBITED", "AT ALL TIMES"],
    "scenetext02": ["Sports Centre", "Wivenhoe Park", "Conference Centre", "Car Parks"],
    "scenetext03": ["the copy centre"],
    "scenetext04": ["GM 125"],
    "scenetext05": ["NO PARKING", "NO PARKING"],
    "scenetext06": ["priory galleries", "priory galleries at the ship"],
}


class ScenePhotosUnavailable(Exception):
    """The package could not be fetched; the message says why and how to provide it."""


def cache_dir() -> Path:
    root = Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate"))
    return root / PACKAGE


def scene_photo(name: str) -> np.ndarray:
    """A photo as uint8 RGB [H, W, 3], e.g. scene_photo("scenetext01")."""
    target = cache_dir() / f"{name}.jpg"
    if not target.is_file():
        _extract(_package(), [name])
    return np.asarray(Image.open(target).convert("RGB"))


def _package() -> Path:
    folder = cache_dir()
    found = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if found:
        return found[0]
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise ScenePhotosUnavailable(f"apt-get and dpkg-deb (Debian) fetch {PACKAGE}; or place "
                                     f"its .deb in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s (96 MB, not installed) for its scene-text photos", PACKAGE)
    done = subprocess.run(["apt-get", "download", PACKAGE], cwd=folder, capture_output=True,
                          text=True)
    found = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if done.returncode != 0 or not found:
        raise ScenePhotosUnavailable(f"apt-get download {PACKAGE} failed "
                                     f"({done.stderr.strip()[-300:]}); run apt-get update, or "
                                     f"place the .deb in {folder}")
    return found[0]


def _extract(deb: Path, names: list[str]) -> None:
    """The photos out of the package's data archive, into the cache."""
    with tempfile.TemporaryDirectory(dir=cache_dir()) as staging:
        members = [MEMBER.format(name=name) for name in TRUTH] + [
            MEMBER.format(name=name) for name in names if name not in TRUTH]
        archive = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", staging, *members], input=archive, check=True)
        for member in members:
            source = Path(staging) / member
            source.replace(cache_dir() / source.name)
