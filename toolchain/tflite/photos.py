"""Sample photographs that packages ship offline, and the image fitting the server does.

scikit-image ships astronaut (Eileen Collins, NASA, public domain), coffee and chelsea;
matplotlib ships grace_hopper.jpg (US Navy, public domain). Photos are placed into a model's
input by contract/imaging.py, the server's own fitting, so sample expectations computed
offline match the server's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_LONGEST_SIDE = 256
JPEG_QUALITY = 90


def photo(name: str) -> np.ndarray:
    """A shipped photo as uint8 RGB [H, W, 3]: astronaut, coffee, chelsea or grace_hopper."""
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as file:
            return np.asarray(Image.open(file).convert("RGB"))
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def save_sample(image: np.ndarray, path: Path, longest_side: int = SAMPLE_LONGEST_SIDE
                ) -> np.ndarray:
    """Downscale to `longest_side`, save as JPEG, and return the pixels as saved."""
    picture = Image.fromarray(image)
    scale = longest_side / max(picture.size)
    if scale < 1:
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, quality=JPEG_QUALITY)
    return np.asarray(Image.open(path).convert("RGB"))
