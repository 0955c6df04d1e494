"""Captioning: an image -> text, by an encoder (the task model) and a decoder component."""

from __future__ import annotations

from dataclasses import dataclass

from contract.metadata import TextDecoder, is_grounded
from contract.metadata import Vocabulary as VocabularyMetadata

from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .decoding import ComponentDecoder, beam_search, decoder_of
from .grounding import grounded_caption
from .imaging import prepare_image_async
from .limits import TaskLimits
from .models import infer_one, output_name
from .text import Vocabulary, tokenizer_of

DEFAULT_MAX_TOKENS = 20


@dataclass(frozen=True)
class CaptionResult:
    caption: str
    log_probability: float


async def caption(core: InferenceCore, model: LoadedModel, image: bytes, max_tokens: int,
                  beam_width: int, limits: TaskLimits) -> CaptionResult:
    if max_tokens < 0 or beam_width < 0:
        raise InvalidInput("max_tokens and beam_width must not be negative (0: the defaults)")
    if is_grounded(model.metadata):
        return CaptionResult(*await grounded_caption(core, model, image, limits))
    array, _ = await prepare_image_async(image, model, limits)
    features_name = output_name(model, "features")
    encoded = await infer_one(core, model, {"image": array}, [features_name])
    decoder, kind = decoder_of(core, model)
    runner = ComponentDecoder(core, decoder, kind, encoded[features_name])
    vocabulary = Vocabulary(model)
    budget = model.metadata.section(TextDecoder).max_tokens or DEFAULT_MAX_TOKENS
    max_tokens = min(max_tokens or budget, limits.max_caption_tokens)
    best = await beam_search(runner.step, [vocabulary.bos_id], vocabulary.eos_id, max_tokens,
                             max(1, min(beam_width, limits.max_beam_width)))
    generated = list(best.tokens[1:])
    tokenizer = model.metadata.section(VocabularyMetadata).tokenizer
    if tokenizer:
        text = tokenizer_of(model, tokenizer).decode(generated, skip_special_tokens=True)
    else:
        text = vocabulary.decode(generated)
    return CaptionResult(text.strip(), best.log_probability)
