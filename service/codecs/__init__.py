"""Stateless decoders for the task API's inputs: images and audio.

Each takes the bytes a client sent and limits, and returns numpy/Pillow data or raises
`InvalidInput` with a sentence the user can act on. No transport types, no model knowledge.
"""

from .audio import AudioLimits, decode_audio
from .image import ImageLimits, decode_image, encode_png

__all__ = ["AudioLimits", "ImageLimits", "decode_audio", "decode_image", "encode_png"]
