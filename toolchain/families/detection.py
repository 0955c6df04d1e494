"""Object detection: torchvision Faster R-CNN, RetinaNet, SSD/SSDlite, FCOS and Mask R-CNN.

Served graph (one image per execution, max_batch_size 0): `image` UINT8 [S, S, 3] ->
`boxes` FP32 [N, 4] (x1, y1, x2, y2 in input pixels), `scores` FP32 [N], `labels` INT64 [N],
after the model's own score threshold and NMS (Mask R-CNN adds `masks` FP32 [N, S, S]).

The input size is fixed at the model's own resize target: torchvision's in-graph resize is
wrong at some sizes once exported, so the server resizes (letterbox) before the graph instead.
Only the TorchScript exporter (dynamo=False) exports the whole detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torchvision import models

from toolchain.architectures import BuildOptions, Component, ExportError
from toolchain.families.common import (
    check_weights_option,
    download_default,
    load_state_dict,
    random_images,
    register_torchvision,
)
from toolchain.model_folder import TensorSpec

LICENSE = "BSD-3-Clause (torchvision code); weights under their dataset's terms (COCO)"
TINY_CLASSES = 3


class Detector(nn.Module):
    """uint8 HWC image -> boxes, scores, labels (and masks) of a torchvision detector."""

    def __init__(self, detector: nn.Module, with_masks: bool = False) -> None:
        super().__init__()
        self.detector = detector
        self.with_masks = with_masks

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pixels = image.permute(2, 0, 1).to(torch.float32) / 255.0
        found = self.detector([pixels])[0]
        outputs = (found["boxes"], found["scores"], found["labels"])
        if self.with_masks:
            outputs += (found["masks"][:, 0],)
        return outputs


def break_ties(network: nn.Module, scale: float = 0.02) -> None:
    """Random heads start with equal class scores (zero or symmetric initialisation), and
    boxes of equal score come out in an arbitrary order. Noise on every weight makes the
    tiny configurations' detections distinct, so they can be compared. (Random SSD300 and
    RetinaNet v1 still saturate to tied scores: their tiny exports do not verify.)"""
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)


@dataclass
class TorchvisionDetector:
    """Builder for one torchvision detector at a fixed square input size."""

    name: str
    image_size: int
    tiny_size: int = 160
    tolerance: float = 1e-2  # pixels and scores
    extra_kwargs: dict = field(default_factory=dict)

    @property
    def with_masks(self) -> bool:
        return self.name.startswith("maskrcnn")

    def weights_enum(self):
        return models.get_model_weights(self.name).DEFAULT

    def build(self, options: BuildOptions) -> list[Component]:
        check_weights_option(options)
        labels = options.labels or list(self.weights_enum().meta["categories"])
        size = options.image_size or (self.tiny_size if options.tiny else self.image_size)
        num_classes = options.num_classes or (TINY_CLASSES if options.tiny else len(labels))
        if options.labels is None and num_classes != len(labels):
            labels = [f"class_{i}" for i in range(num_classes)]
        if len(labels) != num_classes:
            raise ExportError(f"{len(labels)} labels given for {num_classes} classes")
        detector = self._network(options, num_classes)
        self._fix_input_size(detector, size)
        return [self._component(Detector(detector.eval(), self.with_masks), labels, size)]

    def _network(self, options: BuildOptions, num_classes: int) -> nn.Module:
        if options.weights == "default":
            return download_default(
                lambda: models.get_model(self.name, weights="DEFAULT"), f"torchvision {self.name}"
            )
        kwargs = dict(self.extra_kwargs)
        if options.tiny:
            kwargs.update(TINY_THRESHOLDS.get(self.name.split("_")[0], {}))
        network = models.get_model(
            self.name, weights=None, weights_backbone=None, num_classes=num_classes, **kwargs
        )
        if options.weights != "none":
            load_state_dict(network, options.weights)
        if options.tiny:
            break_ties(network)
        return network

    def _fix_input_size(self, detector: nn.Module, size: int) -> None:
        """An input of exactly the transform's target size is never resized inside the graph."""
        transform = detector.transform
        transform.min_size = (size,)
        transform.max_size = size
        if getattr(transform, "fixed_size", None):
            transform.fixed_size = (size, size)

    def _component(self, module: Detector, labels: list[str], size: int) -> Component:
        def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
            return {"image": random_images(rng, 1, size, size)[0]}

        outputs = [
            TensorSpec("boxes", "FP32", [-1, 4]),
            TensorSpec("scores", "FP32", [-1]),
            TensorSpec("labels", "INT64", [-1], "labels.txt"),
        ]
        if self.with_masks:
            outputs.append(TensorSpec("masks", "FP32", [-1, size, size]))
        return Component(
            suffix="",
            module=module,
            inputs=[TensorSpec("image", "UINT8", [size, size, 3], format="NHWC")],
            outputs=outputs,
            max_batch_size=0,
            make_inputs=make_inputs,
            parameters={
                "task": "detection",
                "description": f"torchvision {self.name}, {len(labels)} classes",
                "image_size": f"{size},{size}",
                "resize": "letterbox",
                "pad_value": "0",
            },
            tolerance=self.tolerance,
            labels=labels,
        )


# Random weights score below the default thresholds; the tiny configurations keep boxes, and
# fewer proposals (the box heads of 1000 proposals dominate the run time).
TINY_PROPOSALS = {"rpn_pre_nms_top_n_test": 200, "rpn_post_nms_top_n_test": 100}
TINY_THRESHOLDS = {
    "fasterrcnn": {"box_score_thresh": 0.0, "box_detections_per_img": 20, **TINY_PROPOSALS},
    "maskrcnn": {"box_score_thresh": 0.0, "box_detections_per_img": 10, **TINY_PROPOSALS},
    "retinanet": {"score_thresh": 0.0, "detections_per_img": 20},
    "fcos": {"score_thresh": 0.0, "detections_per_img": 20},
    "ssd300": {"score_thresh": 0.0, "detections_per_img": 20},
    "ssdlite320": {"score_thresh": 0.0, "detections_per_img": 20},
}

DETECTORS = [
    TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", 320, tiny_size=320),
    TorchvisionDetector("fasterrcnn_mobilenet_v3_large_fpn", 800),
    TorchvisionDetector("fasterrcnn_resnet50_fpn", 800),
    TorchvisionDetector("fasterrcnn_resnet50_fpn_v2", 800),
    TorchvisionDetector("retinanet_resnet50_fpn", 800),
    TorchvisionDetector("retinanet_resnet50_fpn_v2", 800),
    TorchvisionDetector("fcos_resnet50_fpn", 800),
    TorchvisionDetector("ssd300_vgg16", 300, tiny_size=300),
    TorchvisionDetector("ssdlite320_mobilenet_v3_large", 320, tiny_size=320),
    TorchvisionDetector("maskrcnn_resnet50_fpn", 800),
    TorchvisionDetector("maskrcnn_resnet50_fpn_v2", 800),
]


def _register_all() -> None:
    for builder in DETECTORS:
        register_torchvision(builder, task="detection", trained_on="COCO",
                             source="torchvision.models.detection", license=LICENSE,
                             input_note=f", {builder.image_size}x{builder.image_size} input")


_register_all()
