"""Faithful classifier pre-processing: a torchvision classifier exported by the toolchain and
served by a real server answers a real, non-square photo as PyTorch does through the weights'
own preset (shorter side resized to 232 or 256, centre crop 224, the preset's filter).

Seeded random weights (the published ones are not reachable offline), made to tell photos
apart: batch-norm statistics measured on the photos and the head scaled so that logits spread
(a fresh random network answers every image alike, and any pre-processing would pass). One
export per architecture, one server for the three.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models

from clients import Client
from tests.support.server import running_server
from toolchain.architectures import BuildOptions
from toolchain.exporter import ExportRequest, export

ARCHITECTURES = ["resnet50", "efficientnet_b0", "vit_b_16"]
PHOTOS = ["coffee", "chelsea", "rocket"]  # 600x400, 451x300, 640x427: none of them square
CLASSES = 1000
LOGIT_SPREAD = 2.0


def photo_png(name: str) -> tuple[Image.Image, bytes]:
    import skimage.data

    image = Image.fromarray(getattr(skimage.data, name)())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return image, buffer.getvalue()


@functools.cache
def seeded_network(name: str) -> torch.nn.Module:
    """Random weights (seed 0), batch norm calibrated on the photos, head logits spread ~2."""
    torch.manual_seed(0)
    network = models.get_model(name, weights=None)
    preset = models.get_model_weights(name).DEFAULT.transforms()
    photos = torch.stack([preset(photo_png(p)[0]) for p in PHOTOS])
    for norm in network.modules():
        if isinstance(norm, torch.nn.modules.batchnorm._BatchNorm):
            norm.momentum = None  # a plain average over the calibration batch
            norm.reset_running_stats()
    with torch.no_grad():
        network.train()(photos)
    head = [m for m in network.modules() if isinstance(m, torch.nn.Linear)][-1]
    features = []
    hook = head.register_forward_hook(lambda module, inputs, output: features.append(inputs[0]))
    with torch.no_grad():
        network.eval()(photos)
    hook.remove()
    rms = float(features[0].pow(2).mean().sqrt())
    torch.nn.init.normal_(head.weight, std=LOGIT_SPREAD / (rms * head.in_features**0.5))
    torch.nn.init.zeros_(head.bias)
    return network


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    repository = tmp_path_factory.mktemp("presets")
    for name in ARCHITECTURES:
        weights = repository.parent / f"{name}.pth"
        torch.save(seeded_network(name).state_dict(), weights)
        options = BuildOptions(weights=str(weights), max_batch_size=2)
        export(ExportRequest(name, repository, options=options))
        weights.unlink()
    with running_server(repository, timeout=300) as server:
        yield server


def torch_probabilities(name: str, image: Image.Image) -> np.ndarray:
    preset = models.get_model_weights(name).DEFAULT.transforms()
    with torch.no_grad():
        logits = seeded_network(name)(preset(image).unsqueeze(0))
    return torch.softmax(logits, dim=1)[0].numpy()


def served_probabilities(client: Client, name: str, data: bytes) -> np.ndarray:
    result = client.classify(data, model=name, top_k=CLASSES)
    probabilities = np.zeros(CLASSES, np.float32)
    for entry in result.classes:
        probabilities[entry.index] = entry.score
    return probabilities


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_served_classifier_matches_pytorch_through_the_torchvision_preset(served, name):
    with Client(served.grpc_url, timeout_s=300) as client:
        for photo in PHOTOS:
            image, data = photo_png(photo)
            assert image.width != image.height
            ours = served_probabilities(client, name, data)
            theirs = torch_probabilities(name, image)
            assert int(ours.argmax()) == int(theirs.argmax()), photo
            assert cosine(ours, theirs) >= 0.999, photo


def test_the_check_fails_for_a_photo_stretched_to_the_input(served):
    """The comparison can fail: a server that stretched the photo would be caught."""
    image, _ = photo_png("chelsea")
    buffer = io.BytesIO()
    image.resize((224, 224), Image.BILINEAR).save(buffer, format="PNG")
    with Client(served.grpc_url, timeout_s=300) as client:
        stretched = served_probabilities(client, "resnet50", buffer.getvalue())
    assert cosine(stretched, torch_probabilities("resnet50", image)) < 0.99
