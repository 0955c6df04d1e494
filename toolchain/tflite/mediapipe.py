"""Files from the MediaPipe 0.10.21 wheel (Apache-2.0), fetched with pip and cached.

The wheel is downloaded (never installed: it pins numpy<2) with `pip download --no-deps` for
this Python and platform, and only the members asked for are extracted, into
`$STRIATE_CACHE/mediapipe-0.10.21/` (default `~/.cache/striate`). A machine without a package
index can place the wheel file in that folder by hand.
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

MEDIAPIPE_VERSION = "0.10.21"  # later wheels no longer ship these .tflite files
FACE_DETECTION_SHORT_RANGE = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
SELFIE_SEGMENTATION = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
LICENSE = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"


class MediapipeUnavailable(Exception):
    """The MediaPipe wheel could not be fetched; the message says how to provide it."""


def cache_dir() -> Path:
    """Where the wheel and the extracted files are kept."""
    root = Path(os.environ.get("STRIATE_CACHE", Path.home() / ".cache" / "striate"))
    return root / f"mediapipe-{MEDIAPIPE_VERSION}"


def mediapipe_file(member: str) -> Path:
    """Path of `member` (a path inside the wheel), downloading the wheel on first use."""
    target = cache_dir() / member
    if not target.is_file():
        with zipfile.ZipFile(_wheel()) as wheel:
            wheel.extract(member, cache_dir())
        log.info("extracted %s", target)
    return target


def _wheel() -> Path:
    folder = cache_dir()
    found = sorted(folder.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    log.info("downloading mediapipe==%s (about 35 MB, not installed) ...", MEDIAPIPE_VERSION)
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", "--retries", "1", "--timeout", "20",
            f"mediapipe=={MEDIAPIPE_VERSION}", "-d", staging,
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            detail = getattr(error, "stderr", "") or str(error)
            raise MediapipeUnavailable(
                f"could not download mediapipe=={MEDIAPIPE_VERSION} with pip ({detail.strip()}); "
                f"on a machine without a package index, put the wheel for this platform "
                f"into {folder}"
            ) from error
        wheel = next(Path(staging).glob("*.whl"))
        target = folder / wheel.name
        os.replace(wheel, target)
        return target
