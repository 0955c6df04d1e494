"""A small CNN trained on Fashion-MNIST (Zalando Research), from Debian's dataset-fashion-mnist.

Two 3x3 convolution blocks with batch norm and max pooling, then two fully connected layers;
trained on the 60,000 training images with random horizontal flips and shifts, measured on
the 10,000 test images.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from contract.metadata import ImageInput
from toolchain.datasets.digits import FASHION_MNIST_LABELS, fashion_mnist
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

NAME = "fashion_cnn"
IMAGE = ImageInput((28, 28), channels=1, resize="stretch")  # greyscale, MNIST style
DESCRIPTION = "Small CNN garment classifier (10 classes), trained on Fashion-MNIST"
SEED = 2017
EPOCHS = 8
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530

log = logging.getLogger(__name__)


def conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class FashionCNN(nn.Module):
    """uint8 [B, 28, 28, 1] -> logits [B, 10]."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = UInt8Images([FASHION_MEAN], [FASHION_STD])
        self.features = nn.Sequential(conv_block(1, 32), conv_block(32, 64))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, 96),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(96, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(images)))


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a shift of up to 2 pixels (uint8 NHWC in and out)."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(2), images)
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=generator))
    padded = F.pad(images.permute(0, 3, 1, 2), (2, 2, 2, 2))
    shifted = padded[:, :, 2 + dy : 30 + dy, 2 + dx : 30 + dx]
    return shifted.permute(0, 2, 3, 1)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train, export, verify, measure on the 10,000 test images, write the folder and samples."""
    out_dir = Path(out_dir)
    seed_everything(SEED)
    train_split, test_split = fashion_mnist("train"), fashion_mnist("test")
    if quick:
        train_split, test_split = train_split.take(512), test_split.take(500)
    model = FashionCNN()
    losses = fit(
        model,
        len(train_split),
        augmented_batches(train_split, augment, SEED),
        rng=np.random.default_rng(SEED),
        batch_size=128,
        epochs=1 if quick else EPOCHS,
        learning_rate=4e-3,
        loss_fn=lambda logits, target: F.cross_entropy(logits, target, label_smoothing=0.05),
        name=NAME,
    )

    return publish_greyscale_classifier(
        out_dir,
        NAME,
        model,
        test_split,
        image=IMAGE,
        labels=FASHION_MNIST_LABELS,
        description=DESCRIPTION,
        card=model_card,
        sample_name=sample_file_name,
        training_metrics={"epochs": 1 if quick else EPOCHS, "train_images": len(train_split),
                          **run_metrics(losses, quick)},
    )


def sample_file_name(index: int, label: str) -> str:
    return f"{index}_{label.lower().replace('/', '_').replace(' ', '_')}.png"


def model_card(onnx_model, metrics: dict, verification: list[dict]) -> ModelCard:
    return ModelCard(
        title=f"{NAME}: a small CNN on Fashion-MNIST",
        description=DESCRIPTION + ". Input: one greyscale 28x28 garment picture, light object "
        "on a black background (Fashion-MNIST style), uint8; output: probabilities of the 10 "
        "classes.",
        source="Architecture by the Striate project (2 conv blocks of 32 and 64 channels, "
        "FC 96); weights " + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Data: Fashion-MNIST by Zalando Research (Xiao, "
        "Rasul and Vollgraf 2017), MIT license, as Debian's dataset-fashion-mnist package "
        "ships it.",
        training=f"The official training split ({metrics['train_images']} images), "
        f"{metrics['epochs']} epochs, random horizontal flips and shifts of up to 2 px, AdamW, "
        "one-cycle learning rate, cross-entropy with label smoothing 0.05. Held out: the "
        f"official test split ({metrics['test_images']} images), never used for training "
        "or model selection.",
        **card_facts(onnx_model),
        metrics={
            "test accuracy (onnxruntime)": f"{metrics['test_accuracy']:.2%} "
            f"on {metrics['test_images']} images",
        },
        verification=verification,
        notes="Not good for: photographs of clothes. Fashion-MNIST images are centred product "
        "shots, greyscale, inverted (object light on black) at 28x28; a real photo of a "
        "shirt on a person or on a white background will be misread. Shirt, T-shirt, "
        "pullover and coat are the classes it confuses most.",
    )
