"""Stateless decoders for the task API's inputs: images and audio.

Each takes the bytes a client sent and limits, and returns numpy/Pillow data or raises
`InvalidInput` with a sentence the user can act on. No transport types, no model knowledge.
"""

from .audio import AudioLimits, audio_memory_estimate, decode_audio
from .budget import DecodeBudget
from .image import (
    ImageLimits,
    decode_image,
    decode_image_reduced,
    encode_png,
    image_memory_estimate,
)

__all__ = ["AudioLimits", "DecodeBudget", "ImageLimits", "audio_memory_estimate",
           "decode_audio", "decode_image", "decode_image_reduced", "encode_png",
           "image_memory_estimate"]
