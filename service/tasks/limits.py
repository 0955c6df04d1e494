"""Limits on what task requests may carry; each breach is an INVALID_ARGUMENT with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..codecs import AudioLimits, ImageLimits


@dataclass(frozen=True)
class TaskLimits:
    image: ImageLimits = field(default_factory=ImageLimits)
    audio: AudioLimits = field(default_factory=AudioLimits)
    max_question_chars: int = 1000
    max_top_k: int = 1000
    max_caption_tokens: int = 256
    max_beam_width: int = 16
