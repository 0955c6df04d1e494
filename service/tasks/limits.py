"""Limits on what task requests may carry; each breach is an INVALID_ARGUMENT with a reason."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..codecs import AudioLimits, DecodeBudget, ImageLimits
from ..settings import Settings


@dataclass(frozen=True)
class TaskLimits:
    image: ImageLimits = field(default_factory=ImageLimits)
    audio: AudioLimits = field(default_factory=AudioLimits)
    max_question_chars: int = 1000
    max_top_k: int = 1000
    max_caption_tokens: int = 256
    max_beam_width: int = 16
    decode_budget: DecodeBudget = field(default_factory=DecodeBudget)
    """Shared by every media decode of the server: how many at once, how much memory."""


@functools.cache
def task_limits(settings: Settings) -> TaskLimits:
    """The limits the server's settings ask for; one object for both transports, so that they
    share one decode budget."""
    return TaskLimits(image=ImageLimits(max_pixels=settings.max_image_pixels),
                      audio=AudioLimits(max_seconds=settings.max_audio_seconds),
                      max_question_chars=settings.max_question_chars,
                      decode_budget=DecodeBudget(settings.decode_memory_mb << 20,
                                                 settings.max_decodes))
