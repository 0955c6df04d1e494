"""A small U-Net that labels every pixel of a generated shapes scene: background, circle,
square or triangle.

Trained on scenes that toolchain/datasets/shapes.py draws with exact masks, measured on
scenes drawn from another seed. The graph ends in an argmax, so the served output is the
class map itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from contract.metadata import ImageInput, ModelMetadata
from toolchain.datasets.shapes import SCENE_SIZE, SEGMENTATION_CLASSES, Scene, random_scene
from toolchain.model_folder import ModelCard, TensorSpec
from toolchain.zoo._publish import image_tensor, publish
from toolchain.zoo._training import (
    Batch,
    UInt8Images,
    card_facts,
    export_and_measure,
    fit,
    prefer,
    run_metrics,
    samples_folder,
    seed_everything,
    trained_here,
    write_samples,
)

NAME = "shapes_segmenter"
DESCRIPTION = "Small U-Net segmenting circles, squares and triangles in generated 64x64 scenes"
SEED = 2015
TEST_SEED = 515
TRAIN_SCENES, TEST_SCENES, EPOCHS = 4000, 500, 15
WIDTHS = (8, 16, 32)

log = logging.getLogger(__name__)


def double_conv(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class ShapesUNet(nn.Module):
    """uint8 [B, H, W, 3] -> logits [B, classes, H, W]; H and W multiples of 4."""

    def __init__(self, classes: int = len(SEGMENTATION_CLASSES)) -> None:
        super().__init__()
        w1, w2, w3 = WIDTHS
        self.normalize = UInt8Images([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        self.down1, self.down2 = double_conv(3, w1), double_conv(w1, w2)
        self.bottom = double_conv(w2, w3)
        self.up2, self.merge2 = nn.ConvTranspose2d(w3, w2, 2, stride=2), double_conv(2 * w2, w2)
        self.up1, self.merge1 = nn.ConvTranspose2d(w2, w1, 2, stride=2), double_conv(2 * w1, w1)
        self.head = nn.Conv2d(w1, classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        skip1 = self.down1(self.normalize(images))
        skip2 = self.down2(F.max_pool2d(skip1, 2))
        bottom = self.bottom(F.max_pool2d(skip2, 2))
        up2 = self.merge2(torch.cat([self.up2(bottom), skip2], 1))
        up1 = self.merge1(torch.cat([self.up1(up2), skip1], 1))
        return self.head(up1)


class ClassMap(nn.Module):
    """The served graph: the class index per pixel, uint8 [B, H, W]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).argmax(1).to(torch.uint8)


def scenes(count: int, seed: int) -> list[Scene]:
    """`count` scenes of one to four shapes, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    return [random_scene(rng, count=int(rng.integers(1, 5))) for _ in range(count)]


def stack(batch: list[Scene]) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([s.image for s in batch]), np.stack([s.class_map for s in batch])


def train(model: ShapesUNet, images: np.ndarray, maps: np.ndarray, *, epochs: int) -> list[float]:
    rng = np.random.default_rng(SEED)
    images_t, maps_t = torch.from_numpy(images), torch.from_numpy(maps).long()

    def make_batch(rows: np.ndarray) -> Batch:
        index = torch.from_numpy(rows)
        return (images_t[index],), maps_t[index]

    return fit(
        model,
        len(images),
        make_batch,
        rng=rng,
        batch_size=32,
        epochs=epochs,
        learning_rate=5e-3,
        loss_fn=F.cross_entropy,
        name=NAME,
    )


def intersection_over_union(predicted: np.ndarray, truth: np.ndarray, classes: int) -> list[float]:
    """IoU of each class over all pixels of all scenes together."""
    scores = []
    for label in range(classes):
        hit, real = predicted == label, truth == label
        union = np.logical_or(hit, real).sum()
        scores.append(float(np.logical_and(hit, real).sum() / union) if union else 1.0)
    return scores


def segmented_well(predicted: np.ndarray, scene: Scene) -> bool:
    """Every shape class present found with IoU >= 0.8, and no other class (>= 20 px)."""
    present = {SEGMENTATION_CLASSES.index(s.kind) for s in scene.shapes}
    found = {c for c in np.unique(predicted) if c and (predicted == c).sum() >= 20}
    iou = intersection_over_union(predicted, scene.class_map, len(SEGMENTATION_CLASSES))
    return found == present and all(iou[c] >= 0.8 for c in present)


def save_samples(out_dir: Path, test: list[Scene], predicted: np.ndarray) -> Path:
    """Six held-out scenes the model segments well (the first six after a quick run, when
    it does not), as PNGs with their exact masks (PNG, class index per pixel)."""
    folder = samples_folder(out_dir, NAME)
    good = [i for i, scene in enumerate(test) if segmented_well(predicted[i], scene)]
    samples = []
    for index, row in enumerate(prefer(good, list(range(len(test))), 6)):
        scene = test[row]
        image_name, mask_name = f"scene_{index}.png", f"scene_{index}_mask.png"
        Image.fromarray(scene.image).save(folder / image_name)
        Image.fromarray(scene.class_map, mode="L").save(folder / mask_name)
        present = sorted({SEGMENTATION_CLASSES.index(s.kind) for s in scene.shapes})
        samples.append(
            {
                "image": image_name,
                "expected": [SEGMENTATION_CLASSES[c] for c in present],
                "mask": mask_name,
                "pixel_accuracy_of_committed_model": round(
                    float(np.mean(predicted[row] == scene.class_map)), 4
                ),
            }
        )
    return write_samples(folder, NAME, "segmentation", samples)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train on generated scenes, export, verify, measure mean IoU on held-out scenes."""
    out_dir = Path(out_dir)
    seed_everything(SEED)
    train_count, test_count = (128, 64) if quick else (TRAIN_SCENES, TEST_SCENES)
    train_images, train_maps = stack(scenes(train_count, SEED))
    test_scenes = scenes(test_count, TEST_SEED)
    test_images, test_maps = stack(test_scenes)
    model = ShapesUNet()
    epochs = 1 if quick else EPOCHS
    losses = train(model, train_images, train_maps, epochs=epochs)

    exported = export_and_measure(
        ClassMap(model).eval(),
        {"image": torch.zeros(2, SCENE_SIZE, SCENE_SIZE, 3, dtype=torch.uint8)},
        ["class_map"],
        {"image": test_images},
        tolerance=1e-3,
        batch_size=64,
    )
    onnx_model, predicted = exported.onnx_model, exported.outputs["class_map"]
    iou = intersection_over_union(predicted, test_maps, len(SEGMENTATION_CLASSES))
    mean_iou = float(np.mean(iou))
    log.info("%s: mean IoU %.4f on %d held-out scenes", NAME, mean_iou, test_count)
    metrics = {
        "mean_iou": round(mean_iou, 4),
        "iou_per_class": {c: round(v, 4) for c, v in zip(SEGMENTATION_CLASSES, iou, strict=True)},
        "pixel_accuracy": round(float(np.mean(predicted == test_maps)), 4),
        "test_scenes": test_count,
        "train_scenes": train_count,
        "epochs": epochs,
        **run_metrics(losses, quick),
    }
    image = ImageInput((SCENE_SIZE, SCENE_SIZE), resize="stretch")
    folder = publish(
        out_dir,
        NAME,
        onnx_model,
        metadata=ModelMetadata.build("segmentation", image, description=DESCRIPTION),
        inputs=[image_tensor(image)],
        outputs=[
            TensorSpec("class_map", "UINT8", [SCENE_SIZE, SCENE_SIZE], label_filename="labels.txt")
        ],
        max_batch_size=32,
        labels=SEGMENTATION_CLASSES,
        card=model_card(onnx_model, metrics, exported.verification),
        metrics=metrics,
    )
    save_samples(out_dir, test_scenes, predicted)
    return folder


def model_card(onnx_model, metrics: dict, verification: list[dict]) -> ModelCard:
    per_class = ", ".join(f"{c} {v:.3f}" for c, v in metrics["iou_per_class"].items())
    return ModelCard(
        title=f"{NAME}: semantic segmentation of generated shapes",
        description=DESCRIPTION + ". Input: an RGB image, uint8, resized to 64x64; output: "
        "the class of each pixel (0 background, 1 circle, 2 square, 3 triangle).",
        source="A small U-Net (Ronneberger et al. 2015 in miniature: two poolings, widths "
        f"{'/'.join(map(str, WIDTHS))}) by the Striate project; weights "
        + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Data: scenes generated by the project "
        "(toolchain/datasets/shapes.py), no third-party data.",
        training=f"{metrics['train_scenes']} generated scenes (seed {SEED}) of 1-4 "
        "non-overlapping circles, squares and upright triangles, 7-15 px half-size, in five "
        "saturated colours with jitter, on flat, graded or mottled grey backgrounds with "
        f"noise; {metrics['epochs']} epochs, AdamW, one-cycle learning rate, per-pixel "
        f"cross-entropy. Held out: {metrics['test_scenes']} scenes from another seed "
        f"({TEST_SEED}).",
        **card_facts(onnx_model),
        metrics={
            "mean IoU over the 4 classes (onnxruntime)": f"{metrics['mean_iou']:.4f} on "
            f"{metrics['test_scenes']} held-out scenes",
            "IoU per class": per_class,
            "pixel accuracy": f"{metrics['pixel_accuracy']:.2%}",
        },
        verification=verification,
        notes="IoU is computed over all pixels of all held-out scenes together, per class, "
        "then averaged over the classes including background.\n\nNot good for: photographs "
        "or any real imagery. It knows three flat shapes drawn without anti-aliasing on grey "
        "backgrounds; overlapping, rotated or outlined shapes, coloured backgrounds and "
        "objects other than these three are outside what it has seen.",
    )
