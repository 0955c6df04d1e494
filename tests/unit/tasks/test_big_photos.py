"""Big JPEGs decode at a reduced DCT scale; what the model sees and where boxes land must not
change beyond resampling noise."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contract.imaging import fit
from contract.metadata import ImageInput
from service.codecs import ImageLimits, decode_image, decode_image_reduced
from service.tasks.imaging import decode_and_fit, decode_size

SAMPLES = Path(__file__).resolve().parents[3] / "exported_models" / "samples"
PHOTO = SAMPLES / "blazeface_faces" / "astronaut.jpg"
LIMITS = ImageLimits()


def _big_jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    """The astronaut photo enlarged to width x height, with a little sensor-like noise."""
    picture = Image.open(PHOTO).convert("RGB").resize((width, height), Image.BICUBIC)
    noise = np.random.default_rng(0).integers(-4, 5, (height, width, 3))
    noisy = np.asarray(picture, np.int16) + noise
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90,
                                                                  exif=exif)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return _big_jpeg(3000, 2000)


def test_a_big_jpeg_decodes_at_a_fraction_of_its_size(big_photo):
    image, original = decode_image_reduced(big_photo, LIMITS, min_size=448)
    assert original == (3000, 2000)
    assert image.size == (750, 500)  # 1/4: the smallest DCT scale leaving both sides >= 448
    assert decode_image_reduced(big_photo, LIMITS)[0].size == (3000, 2000)


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "center_crop"])
def test_the_model_input_is_what_a_full_decode_gives(big_photo, resize):
    spec = ImageInput(image_size=(224, 224), channels=3, resize=resize)
    reduced, reduced_place = decode_and_fit(big_photo, spec, LIMITS)
    full, full_place = fit(decode_image(big_photo, LIMITS), spec)
    difference = np.abs(reduced.astype(np.int16) - full.astype(np.int16))
    assert difference.mean() < 1.0 and difference.max() <= 8  # measured: 0.3 and 4
    assert reduced_place.original_size == full_place.original_size == (3000, 2000)
    assert reduced_place.offset == full_place.offset
    np.testing.assert_allclose(reduced_place.scale, full_place.scale, rtol=1e-3)


def test_boxes_map_back_to_the_original_pixels(big_photo):
    spec = ImageInput(image_size=(128, 128), channels=3, resize="letterbox")
    _, reduced = decode_and_fit(big_photo, spec, LIMITS)
    _, full = fit(decode_image(big_photo, LIMITS), spec)
    box = np.array([[30.0, 40.0, 90.0, 100.0]])
    np.testing.assert_allclose(reduced.boxes_to_original(box), full.boxes_to_original(box),
                               atol=2.0)


def test_a_rotated_photo_reports_its_upright_size():
    photo = _big_jpeg(1600, 1200, orientation=6)  # stored landscape, shown portrait
    image, original = decode_image_reduced(photo, LIMITS, min_size=300)
    assert original == (1200, 1600)
    assert image.size == (300, 400)
    spec = ImageInput(image_size=(150, 150), channels=3, resize="letterbox")
    _, placement = decode_and_fit(photo, spec, LIMITS)
    assert placement.original_size == (1200, 1600)


def test_small_images_and_any_size_models_decode_in_full():
    assert decode_size(ImageInput(image_size=None)) is None
    assert decode_size(ImageInput(image_size=(224, 224), resize_size=256)) == 512
    small = _big_jpeg(400, 300)
    image, original = decode_image_reduced(small, LIMITS, min_size=448)
    assert image.size == original == (400, 300)
    spec = dataclasses.replace(ImageInput(), image_size=(224, 224), channels=3)
    assert decode_and_fit(small, spec, LIMITS)[1].original_size == (400, 300)
