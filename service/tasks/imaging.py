"""Image pre-processing for a model: decode the upload, then fit it as its metadata says.

Models take `image` UINT8 NHWC; the model's `ImageInput` metadata (contract/metadata.py) says
the size, channels and resize mode, and contract/imaging.py does the fitting that the
toolchain's samples use too. A `Placement` remembers where the original image went, so boxes
and masks computed on the model's input come back in the original pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from contract.imaging import Placement, fit, for_input
from contract.metadata import ImageInput

from ..codecs import ImageLimits, decode_image, decode_image_reduced, image_memory_estimate
from ..errors import InvalidInput
from ..repository import LoadedModel
from .limits import TaskLimits
from .models import input_dims

__all__ = ["Placement", "decode_and_fit", "decode_photo", "image_spec", "prepare_image",
           "prepare_image_async"]


def image_spec(model: LoadedModel, input_name: str = "image") -> ImageInput:
    """The model's image metadata, completed from its input's dims."""
    return for_input(model.metadata.section(ImageInput), input_dims(model, input_name))


def prepare_image(data: bytes, model: LoadedModel, limits: ImageLimits,
                  input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """Bytes of an uploaded image -> the model's input array and its placement."""
    return decode_and_fit(data, image_spec(model, input_name), limits)


def decode_and_fit(data: bytes, spec: ImageInput,
                   limits: ImageLimits) -> tuple[np.ndarray, Placement]:
    """Bytes -> the input array `spec` describes, and its placement in the original's pixels.
    A big JPEG is decoded at a reduced scale that still leaves the fit twice the pixels it
    keeps."""
    image, original_size = decode_image_reduced(data, limits, spec.channels or 3,
                                                decode_size(spec))
    array, placement = fit(image, spec)
    return array, _on_original(placement, original_size)


async def prepare_image_async(data: bytes, model: LoadedModel, limits: TaskLimits,
                              input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """`prepare_image` in a worker thread within the decode budget, so decoding never stalls
    the event loop and a burst of huge images waits instead of exhausting memory."""
    estimate = image_memory_estimate(data, limits.image)
    return await limits.decode_budget.run(estimate, prepare_image, data, model, limits.image,
                                          input_name)


async def decode_photo(data: bytes, what: str, limits: TaskLimits) -> Image.Image:
    """A whole photo, decoded at full size in a worker thread within the decode budget (for
    tasks that answer an image: stylize, upscale); `what` names the field in the error."""
    if not data:
        raise InvalidInput(f"the request carries no {what}; send a JPEG, PNG, WebP or BMP")
    estimate = image_memory_estimate(data, limits.image)
    return await limits.decode_budget.run(estimate, decode_image, data, limits.image)


def decode_size(spec: ImageInput) -> int | None:
    """The shortest side a decoded photo needs so that fitting it loses nothing: twice the
    largest side the fit resizes to (Pillow's own reducing gap for thumbnails); None when
    the model takes any size."""
    if spec.image_size is None:
        return None
    return 2 * max(*spec.image_size, spec.resize_size or 0)


def _on_original(placement: Placement, original_size: tuple[int, int]) -> Placement:
    """A placement computed on a reduced decode (the original divided by 1, 2, 4 or 8),
    restated against the original's pixels."""
    if placement.original_size == original_size:
        return placement
    factor = round(original_size[0] / placement.original_size[0])
    return dataclasses.replace(placement, original_size=original_size,
                               scale=(placement.scale[0] / factor, placement.scale[1] / factor))

