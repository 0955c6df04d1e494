"""Image pre-processing for a model: decode the upload, then fit it as its metadata says.

Models take `image` UINT8 NHWC; the model's `ImageInput` metadata (contract/metadata.py) says
the size, channels and resize mode, and contract/imaging.py does the fitting that the
toolchain's samples use too. A `Placement` remembers where the original image went, so boxes
and masks computed on the model's input come back in the original pixels.
"""

from __future__ import annotations

import numpy as np

from contract.imaging import Placement, fit, for_input
from contract.metadata import ImageInput

from ..codecs import ImageLimits, decode_image, image_memory_estimate
from ..repository import LoadedModel
from .limits import TaskLimits
from .models import input_dims

__all__ = ["Placement", "image_spec", "prepare_image", "prepare_image_async"]


def image_spec(model: LoadedModel, input_name: str = "image") -> ImageInput:
    """The model's image metadata, completed from its input's dims."""
    return for_input(model.metadata.section(ImageInput), input_dims(model, input_name))


def prepare_image(data: bytes, model: LoadedModel, limits: ImageLimits,
                  input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """Bytes of an uploaded image -> the model's input array and its placement."""
    spec = image_spec(model, input_name)
    image = decode_image(data, limits, spec.channels)
    return fit(image, spec)


async def prepare_image_async(data: bytes, model: LoadedModel, limits: TaskLimits,
                              input_name: str = "image") -> tuple[np.ndarray, Placement]:
    """`prepare_image` in a worker thread within the decode budget, so decoding never stalls
    the event loop and a burst of huge images waits instead of exhausting memory."""
    estimate = image_memory_estimate(data, limits.image)
    return await limits.decode_budget.run(estimate, prepare_image, data, model, limits.image,
                                          input_name)
