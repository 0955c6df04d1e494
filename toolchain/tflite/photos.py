"""Sample photographs that packages ship offline, and the image fitting the server does.

scikit-image ships astronaut (Eileen Collins, NASA, public domain), coffee and chelsea;
matplotlib ships grace_hopper.jpg (US Navy, public domain). `letterbox` and `stretch` place
a photo into a model's input the way the server's task API does (service/tasks/imaging.py:
centred, bilinear, sizes rounded), so sample expectations computed here match the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def save_sample(image: np.ndarray, path: Path) -> np.ndarray:
    """Downscale to SAMPLE_LONGEST_SIDE, save as JPEG, and return the pixels as saved."""
    picture = Image.fromarray(image)
    scale = SAMPLE_LONGEST_SIDE / max(picture.size)
    if scale < 1:
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, quality=JPEG_QUALITY)
    return np.asarray(Image.open(path).convert("RGB"))


@dataclass(frozen=True)
class Placement:
    """Where the photo went in the model input: input = photo * scale + offset."""

    scale: tuple[float, float]  # x, y
    offset: tuple[int, int]  # x, y
    size: tuple[int, int]  # the photo's width, height

    def boxes_to_photo(self, boxes: np.ndarray) -> np.ndarray:
        """[N, 4] x1, y1, x2, y2 in input pixels -> photo pixels, clipped to the photo."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        mapped = (boxes - np.array(self.offset * 2)) / np.array(self.scale * 2)
        width, height = self.size
        return np.clip(mapped, 0, [width, height, width, height])


def letterbox(image: np.ndarray, height: int, width: int, pad: int = 0):
    """Fit keeping the aspect ratio, centred on a `pad`-filled canvas -> (array, Placement)."""
    picture = Image.fromarray(image)
    scale = min(width / picture.width, height / picture.height)
    content = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    offset = ((width - content[0]) // 2, (height - content[1]) // 2)
    canvas = Image.new("RGB", (width, height), (pad,) * 3)
    canvas.paste(picture.resize(content, Image.BILINEAR), offset)
    placement = Placement(
        (content[0] / picture.width, content[1] / picture.height), offset, picture.size
    )
    return np.asarray(canvas), placement


def stretch(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to exactly height x width (bilinear), as the server's `stretch`."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
