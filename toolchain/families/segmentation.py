"""Semantic segmentation: torchvision FCN, DeepLabV3 and LR-ASPP.

Served graph: `image` UINT8 [N, H, W, 3] (any H, W) -> `class_map` INT64 [N, H, W]
(argmax over classes in the graph; index 0 is the background).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision import models

from toolchain.architectures import BuildOptions, Component, ExportError
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
from toolchain.model_folder import TensorSpec

LICENSE = "BSD-3-Clause (torchvision code); weights under their dataset's terms (COCO, VOC labels)"
TINY_CLASSES = 4


class Segmenter(nn.Module):
    """uint8 NHWC image -> per-pixel class index."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.normalize = NormalizeImage(IMAGENET_MEAN, IMAGENET_STD)
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(self.normalize(image))["out"].argmax(dim=1)


@dataclass
class TorchvisionSegmenter:
    name: str
    image_size: int = 520  # the size the server resizes to (the graph takes any size)

    def weights_enum(self):
        return models.get_model_weights(self.name).DEFAULT

    def build(self, options: BuildOptions) -> list[Component]:
        check_weights_option(options)
        labels = options.labels or list(self.weights_enum().meta["categories"])
        num_classes = options.num_classes or (TINY_CLASSES if options.tiny else len(labels))
        if options.labels is None and num_classes != len(labels):
            labels = ["background"] + [f"class_{i}" for i in range(1, num_classes)]
        if len(labels) != num_classes:
            raise ExportError(f"{len(labels)} labels given for {num_classes} classes")
        if options.weights == "default":
            network = download_default(
                lambda: models.get_model(self.name, weights="DEFAULT"), f"torchvision {self.name}"
            )
        else:
            kwargs = {} if self.name.startswith("lraspp") else {"aux_loss": False}
            network = models.get_model(
                self.name, weights=None, weights_backbone=None, num_classes=num_classes, **kwargs
            )
            if options.weights != "none":
                load_state_dict(network, options.weights, skip_prefixes=("aux_classifier.",))
        size = options.image_size or (96 if options.tiny else self.image_size)
        return [self._component(Segmenter(network.eval()), labels, size, options)]

    def _component(
        self, module: Segmenter, labels: list[str], size: int, options: BuildOptions
    ) -> Component:
        def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
            if purpose == "dummy":
                return {"image": random_images(rng, 2, size, size)}
            return {"image": random_images(rng, 3, size + 24, size - 16)}

        return Component(
            suffix="",
            module=module,
            inputs=[TensorSpec("image", "UINT8", [-1, -1, 3], format="NHWC")],
            outputs=[TensorSpec("class_map", "INT64", [-1, -1], "labels.txt")],
            max_batch_size=options.max_batch_size,
            make_inputs=make_inputs,
            parameters={
                "task": "segmentation",
                "description": f"torchvision {self.name}, {len(labels)} classes",
                "image_size": f"{size},{size}",
            },
            mismatch_tolerance=1e-3,  # argmax of near-equal scores may flip on a few pixels
            labels=labels,
        )


SEGMENTERS = [
    TorchvisionSegmenter("fcn_resnet50"),
    TorchvisionSegmenter("fcn_resnet101"),
    TorchvisionSegmenter("deeplabv3_resnet50"),
    TorchvisionSegmenter("deeplabv3_resnet101"),
    TorchvisionSegmenter("deeplabv3_mobilenet_v3_large"),
    TorchvisionSegmenter("lraspp_mobilenet_v3_large"),
]


def _register_all() -> None:
    for builder in SEGMENTERS:
        register_torchvision(builder, task="segmentation", trained_on="VOC classes on COCO",
                             source="torchvision.models.segmentation", license=LICENSE)


_register_all()
