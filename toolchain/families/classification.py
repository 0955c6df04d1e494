"""Image classification: torchvision classifiers, Hugging Face ViT and LeNet-5.

Served graph: `image` UINT8 [N, H, W, C] -> `probabilities` FP32 [N, K] (softmax in the graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision import models

from contract.metadata import ImageInput, ModelMetadata
from toolchain.architectures import Architecture, BuildOptions, Component, ExportError, register
from toolchain.families.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NormalizeImage,
    check_weights_option,
    download_default,
    load_state_dict,
    random_images,
    register_torchvision,
)
from toolchain.families.hf import hf_image_normalisation, load_hf_model
from toolchain.model_folder import TensorSpec

TORCHVISION_LICENSE = (
    "BSD-3-Clause (torchvision code); weights under their dataset's terms (ImageNet)"
)
TINY_CLASSES = 10
TINY_SIZE = 64


class Classifier(nn.Module):
    """uint8 NHWC image -> softmax probabilities, around any logits-returning network."""

    def __init__(self, network: nn.Module, normalize: NormalizeImage) -> None:
        super().__init__()
        self.normalize = normalize
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.network(self.normalize(image))
        if hasattr(logits, "logits"):
            logits = logits.logits
        return torch.softmax(logits, dim=1)


class LeNet5(nn.Module):
    """LeCun et al. (1998) LeNet-5 for 32x32 greyscale digits (ReLU and max-pooling variant)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def classification_component(
    network: nn.Module,
    labels: list[str],
    image_size: int,
    options: BuildOptions,
    *,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    channels: int = 3,
    tolerance: float = 1e-4,
    description: str = "",
    preset: ImageInput | None = None,
) -> Component:
    """The served component of a classifier: fixed image size, dynamic batch.

    `preset` says how the server fits a photo into the input (default: stretched to
    image_size); torchvision weights come with theirs (resize, centre crop, interpolation).
    """
    module = Classifier(network.eval(), NormalizeImage(mean, std)).eval()
    preset = preset or ImageInput((image_size, image_size))

    def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch = 2 if purpose == "dummy" else 3
        return {"image": random_images(rng, batch, image_size, image_size, channels)}

    image = ImageInput(
        (image_size, image_size), channels, preset.resize, preset.pad_value,
        preset.resize_size, preset.interpolation,
    )  # fmt: skip
    parameters = ModelMetadata.build(
        "classification", image, description=description
    ).to_parameters()
    return Component(
        suffix="",
        module=module,
        inputs=[TensorSpec("image", "UINT8", [image_size, image_size, channels], format="NHWC")],
        outputs=[TensorSpec("probabilities", "FP32", [len(labels)], "labels.txt")],
        max_batch_size=options.max_batch_size,
        make_inputs=make_inputs,
        parameters=parameters,
        tolerance=tolerance,
        labels=labels,
    )


@dataclass
class TorchvisionClassifier:
    """Builder for one torchvision classification model."""

    name: str
    # image size of the tiny configuration (adaptive pooling must divide the feature map)
    tiny_size: int = TINY_SIZE
    tolerance: float = 1e-4
    skip_prefixes: tuple[str, ...] = ()  # state dict keys that are dropped (auxiliary heads)

    def weights_enum(self):
        return models.get_model_weights(self.name).DEFAULT

    def build(self, options: BuildOptions) -> list[Component]:
        check_weights_option(options)
        meta = self.weights_enum()
        image_size = options.image_size or meta.transforms().crop_size[0]
        labels = options.labels or list(meta.meta["categories"])
        num_classes = options.num_classes or len(labels)
        if options.tiny:
            image_size = options.image_size or self.tiny_size
            num_classes = options.num_classes or TINY_CLASSES
        if options.labels is None and num_classes != len(labels):
            labels = [f"class_{i}" for i in range(num_classes)]
        if len(labels) != num_classes:
            raise ExportError(f"{len(labels)} labels given for {num_classes} classes")
        if options.weights == "default":
            network = download_default(
                lambda: models.get_model(self.name, weights="DEFAULT"), f"torchvision {self.name}"
            )
        else:
            network = self._random_network(num_classes, image_size, options.tiny)
            if options.weights != "none":
                load_state_dict(network, options.weights, skip_prefixes=self.skip_prefixes)
        description = f"torchvision {self.name}, {num_classes} classes"
        return [
            classification_component(
                network, labels, image_size, options, tolerance=self.tolerance,
                description=description, preset=torchvision_preset(meta, image_size),
            )
        ]  # fmt: skip

    def _random_network(self, num_classes: int, image_size: int, tiny: bool) -> nn.Module:
        if self.name.startswith("vit_") and tiny:
            return models.VisionTransformer(num_classes=num_classes, **TINY_VIT)
        kwargs = {}
        if self.name in ("googlenet", "inception_v3"):
            kwargs = {"aux_logits": False, "init_weights": False}
        if self.name.startswith("vit_"):
            kwargs = {"image_size": image_size}
        return models.get_model(self.name, weights=None, num_classes=num_classes, **kwargs)


def torchvision_preset(weights: models.WeightsEnum, image_size: int) -> ImageInput:
    """How the published weights expect a photo: the shorter side resized (232 or 256 for a
    224 crop; scaled with `image_size`), the centre cut out, with the preset's filter."""
    transforms = weights.transforms()
    crop, resize = transforms.crop_size[0], transforms.resize_size[0]
    interpolation = transforms.interpolation.value  # "bilinear", "bicubic", "nearest"
    return ImageInput(
        (image_size, image_size), resize="center_crop",
        resize_size=round(resize * image_size / crop), interpolation=interpolation,
    )  # fmt: skip


TINY_VIT = {
    "image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2,
    "hidden_dim": 32, "mlp_dim": 64,
}  # fmt: skip
TORCHVISION_CLASSIFIERS = [
    TorchvisionClassifier("resnet18"),
    TorchvisionClassifier("resnet34"),
    TorchvisionClassifier("resnet50"),
    TorchvisionClassifier("resnet101"),
    TorchvisionClassifier("resnet152"),
    TorchvisionClassifier("resnext50_32x4d"),
    TorchvisionClassifier("wide_resnet50_2"),
    TorchvisionClassifier("vgg11", tiny_size=224),
    TorchvisionClassifier("vgg13", tiny_size=224),
    TorchvisionClassifier("vgg16", tiny_size=224),
    TorchvisionClassifier("vgg16_bn", tiny_size=224),
    TorchvisionClassifier("vgg19", tiny_size=224),
    TorchvisionClassifier("alexnet", tiny_size=224),
    TorchvisionClassifier("googlenet", skip_prefixes=("aux1.", "aux2.")),
    TorchvisionClassifier("inception_v3", tiny_size=96, skip_prefixes=("AuxLogits.",)),
    TorchvisionClassifier("densenet121"),
    TorchvisionClassifier("squeezenet1_1"),
    TorchvisionClassifier("shufflenet_v2_x1_0"),
    TorchvisionClassifier("mnasnet1_0"),
    TorchvisionClassifier("mobilenet_v2"),
    TorchvisionClassifier("mobilenet_v3_small"),
    TorchvisionClassifier("mobilenet_v3_large"),
    TorchvisionClassifier("efficientnet_b0"),
    TorchvisionClassifier("efficientnet_b1"),
    TorchvisionClassifier("efficientnet_b2"),
    TorchvisionClassifier("efficientnet_b3"),
    TorchvisionClassifier("efficientnet_v2_s"),
    TorchvisionClassifier("regnet_y_400mf"),
    TorchvisionClassifier("convnext_tiny", tolerance=5e-4),
    TorchvisionClassifier("convnext_small", tolerance=5e-4),
    TorchvisionClassifier("vit_b_16", tiny_size=32, tolerance=5e-4),
    TorchvisionClassifier("vit_b_32", tiny_size=32, tolerance=5e-4),
]


def build_lenet5(options: BuildOptions) -> list[Component]:
    check_weights_option(options)
    if options.weights == "default":
        raise ExportError(
            "LeNet-5 has no library weights: train it with `python -m toolchain train "
            "lenet5_mnist` or pass a state dict with --weights PATH"
        )
    num_classes = options.num_classes or 10
    network = LeNet5(num_classes)
    if options.weights != "none":
        load_state_dict(network, options.weights)
    labels = options.labels or [str(i) for i in range(num_classes)]
    return [
        classification_component(
            network, labels, 32, options, mean=(0.1307,), std=(0.3081,), channels=1,
            description="LeNet-5, 32x32 greyscale",
        )
    ]  # fmt: skip


def build_hf_vit(options: BuildOptions) -> list[Component]:
    from transformers import ViTConfig, ViTForImageClassification

    check_weights_option(options)
    if options.tiny:
        num_classes = options.num_classes or TINY_CLASSES
        config = ViTConfig(
            image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=64, num_labels=num_classes,
        )  # fmt: skip
        network = ViTForImageClassification(config)
    else:
        network = load_hf_model(ViTForImageClassification, options, "google/vit-base-patch16-224")
    config = network.config
    labels = options.labels or [config.id2label[i] for i in range(config.num_labels)]
    mean, std = hf_image_normalisation(options)
    return [
        classification_component(
            network, labels, config.image_size, options, mean=mean, std=std,
            tolerance=5e-4, description="Hugging Face ViT image classifier",
        )
    ]  # fmt: skip


def _register_all() -> None:
    for builder in TORCHVISION_CLASSIFIERS:
        register_torchvision(builder, task="classification", trained_on="ImageNet-1k",
                             source="torchvision.models", license=TORCHVISION_LICENSE)
    register(
        Architecture(
            name="lenet5",
            task="classification",
            description="LeNet-5 for 32x32 greyscale digits",
            source="LeCun et al. 1998, defined in toolchain/families/classification.py",
            license="Apache-2.0 (code); weights are yours",
            build=build_lenet5,
            published_parameters=61_706,
        )
    )
    register(
        Architecture(
            name="vit_hf",
            task="classification",
            description="Hugging Face ViTForImageClassification",
            source="transformers ViTForImageClassification",
            license="Apache-2.0 (code); weights under the checkpoint's license",
            build=build_hf_vit,
            default_weights="google/vit-base-patch16-224 from the Hugging Face cache",
        )
    )


_register_all()
