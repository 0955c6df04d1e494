"""Speech recognition: a recording -> text, with timed segments.

Two front ends (`frontend`): `waveform` feeds 16 kHz samples, normalised, to input `audio`;
`whisper_log_mel` computes 80 log-mel bins per 30 s window for input `input_features`.
Two decodings (`decoding`): `ctc` reads `logits` [T, V] with labels.txt (segments are words,
timed by their frames); `seq2seq` runs the `decoder` component (one segment per 30 s window).
A multilingual seq2seq model (parameter `languages`) takes the language spoken, or detects it
from the first window through its decoder's `language_logits`, and can translate into English.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.log_mel import log_mel_spectrogram
from contract.metadata import SpeechFrontEnd, SpeechTokens, TextDecoder

from ..codecs import audio_memory_estimate, decode_audio
from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .decoding import ComponentDecoder, beam_search, decoder_of
from .limits import TaskLimits
from .models import (
    default_model,
    infer_one,
    labels_of,
    output_name,
    read_lines,
    resolve_model,
    task_of,
)
from .text import tokenizer_of

WHISPER_RATE = 16_000
WHISPER_WINDOW_S = 30
DEFAULT_MAX_TOKENS = 128  # per window
WORD_DELIMITERS = ("|", " ", "▁")


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class TranscribeResult:
    text: str
    segments: list[Segment]
    duration_s: float
    language: str = "en"
    """The language spoken: as requested, detected, or "en" for an English-only model."""
    language_probability: float = 0.0
    """The detection's probability; 0 when the language was not detected."""


@dataclass(frozen=True)
class Language:
    """What a request asks of a multilingual model, resolved against the model."""

    code: str
    """The language spoken; "" until detected."""
    translate: bool
    token_ids: dict[str, int]
    """Language code -> token id; empty for an English-only model."""


def ctc_collapse(frame_ids: np.ndarray, blank_id: int) -> list[tuple[int, int, int]]:
    """Best-path CTC: (token id, first frame, last frame) of each token, repeats merged, no
    blanks."""
    tokens: list[tuple[int, int, int]] = []
    previous = -1
    for frame, token in enumerate(frame_ids.tolist()):
        if token == previous and token != blank_id:
            tokens[-1] = (token, tokens[-1][1], frame)
        elif token != blank_id:
            tokens.append((token, frame, frame))
        previous = token
    return tokens


def ctc_words(frame_ids: np.ndarray, vocabulary: tuple[str, ...], blank_id: int,
              seconds_per_frame: float) -> list[Segment]:
    """CTC frames -> words with start and end times (a delimiter token ends a word)."""
    words: list[Segment] = []
    current, start, end = "", 0.0, 0.0
    for token, first, last in ctc_collapse(frame_ids, blank_id):
        piece = vocabulary[token] if 0 <= token < len(vocabulary) else ""
        if piece.startswith("<") and piece.endswith(">"):
            continue
        for char in piece:
            if char in WORD_DELIMITERS:
                if current:
                    words.append(Segment(start, end, current))
                current = ""
                continue
            if not current:
                start = first * seconds_per_frame
            current += char
            end = (last + 1) * seconds_per_frame
    if current:
        words.append(Segment(start, end, current))
    return words


async def _transcribe_ctc(core: InferenceCore, model: LoadedModel,
                          audio: np.ndarray, rate: int) -> tuple[str, list[Segment]]:
    output = output_name(model, "logits")
    normalised = (audio - audio.mean()) / (audio.std() + 1e-7)
    result = await infer_one(core, model, {"audio": normalised.astype(np.float32)}, [output])
    logits = np.asarray(result[output])
    logits = logits.reshape(-1, logits.shape[-1])
    seconds_per_frame = audio.size / rate / max(1, logits.shape[0])
    words = ctc_words(logits.argmax(axis=-1), labels_of(model, output),
                      model.metadata.section(SpeechFrontEnd).blank_id, seconds_per_frame)
    return " ".join(w.text for w in words), words


def _languages_of(model: LoadedModel) -> dict[str, int]:
    """Language code -> token id of a multilingual model; {} for an English-only one."""
    listed = model.metadata.section(SpeechTokens).languages if model.metadata.has(
        SpeechTokens) else ""
    if not listed:
        return {}
    pairs = (line.split() for line in read_lines(Path(model.directory) / listed) if line.strip())
    return {code: int(token_id) for code, token_id in pairs}


def resolve_language(model: LoadedModel, language: str, translate: bool) -> Language:
    """Check the request's language options against the model (InvalidInput if it can't)."""
    token_ids = _languages_of(model)
    language = language.strip().lower()
    if not token_ids:
        if language not in ("", "en") or translate:
            asked = "translation into English" if translate else f"language '{language[:20]}'"
            raise InvalidInput(f"model '{model.name}' knows English only, so {asked} needs a "
                               "multilingual model (whisper_base: `make speech-models`; "
                               "ListModels shows what is served)")
        return Language("en", False, {})
    if language and language not in token_ids:
        raise InvalidInput(f"model '{model.name}' does not know the language '{language[:20]}'; "
                           f"it knows {len(token_ids)} codes such as "
                           f"{', '.join(sorted(token_ids)[:12])}; leave it empty to detect it")
    return Language(language, translate, token_ids)


def speech_model(core: InferenceCore, name: str, version: str, language: str,
                 translate: bool) -> LoadedModel:
    """The named speech model; else the task's default, or, for another language than English
    or a translation, the default among the multilingual models (when one is served)."""
    if name or (language.strip().lower() in ("", "en") and not translate):
        return resolve_model(core, "speech", name, version)
    multilingual = [m for m in core.models() if task_of(m) == "speech" and _languages_of(m)]
    return default_model(multilingual, "speech") or resolve_model(core, "speech")


async def _detect_language(core: InferenceCore, runner: ComponentDecoder,
                           language: Language, start: int) -> tuple[str, float]:
    """The most likely language of one window's encoding, and its probability."""
    if not any(o.name == "language_logits" for o in runner.decoder.config.output):
        raise InvalidInput(f"decoder '{runner.decoder.name}' has no language_logits output, so "
                           "the language cannot be detected; name it in the request")
    inputs = {"features": runner.features, "tokens": np.array([start], dtype=np.int64),
              **runner.empty_past()}
    result = await infer_one(core, runner.decoder, inputs, ["language_logits"])
    scores = np.asarray(result["language_logits"], dtype=np.float64).reshape(
        -1, len(language.token_ids))[-1]
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    best = int(probabilities.argmax())
    codes = sorted(language.token_ids, key=language.token_ids.__getitem__)
    return codes[best], float(probabilities[best])


def _prompt(tokens: SpeechTokens, language: Language) -> list[int]:
    """Whisper's prompt: [start, language, task, ...] for a multilingual model."""
    prompt = list(tokens.bos_token_ids)
    if language.token_ids:
        prompt[1] = language.token_ids[language.code]
        prompt[2] = tokens.translate_token_id if language.translate else tokens.transcribe_token_id
    return prompt


async def _encode_window(core: InferenceCore, model: LoadedModel,
                         window: np.ndarray) -> ComponentDecoder:
    features = (await asyncio.to_thread(log_mel_spectrogram, window)).astype(np.float32)
    encoded = await infer_one(core, model, {"input_features": features})
    decoder, kind = decoder_of(core, model)
    return ComponentDecoder(core, decoder, kind, encoded[output_name(model, "features")])


async def _decode_window(model: LoadedModel, runner: ComponentDecoder, language: Language,
                         beam_width: int) -> str:
    tokens = model.metadata.section(SpeechTokens)
    start = _prompt(tokens, language)
    max_tokens = model.metadata.section(TextDecoder).max_tokens or DEFAULT_MAX_TOKENS
    best = await beam_search(runner.step, start, tokens.eos_token_id, max_tokens, beam_width)
    return tokenizer_of(model, tokens.tokenizer).decode(list(best.tokens[len(start):]),
                                                        skip_special_tokens=True).strip()


async def _transcribe_seq2seq(core: InferenceCore, model: LoadedModel, audio: np.ndarray,
                              beam_width: int, language: Language) -> TranscribeResult:
    window = WHISPER_RATE * WHISPER_WINDOW_S
    segments, probability = [], 0.0
    for offset in range(0, audio.size, window):
        piece = audio[offset : offset + window]
        runner = await _encode_window(core, model, piece)
        if not language.code:  # detected once, from the first window
            start = model.metadata.section(SpeechTokens).bos_token_ids[0]
            code, probability = await _detect_language(core, runner, language, start)
            language = dataclasses.replace(language, code=code)
        text = await _decode_window(model, runner, language, beam_width)
        if text:
            begin = offset / WHISPER_RATE
            segments.append(Segment(begin, begin + piece.size / WHISPER_RATE, text))
    return TranscribeResult(" ".join(s.text for s in segments), segments,
                            audio.size / WHISPER_RATE, language.code or "en", probability)


async def transcribe(core: InferenceCore, model: LoadedModel, audio: bytes,
                     limits: TaskLimits, beam_width: int = 1, *, language: str = "",
                     translate: bool = False) -> TranscribeResult:
    if beam_width < 0:
        raise InvalidInput("beam_width must not be negative (0 or 1: greedy)")
    wanted = resolve_language(model, language, translate)  # before the audio is decoded
    speech = model.metadata.section(SpeechFrontEnd)  # a pipeline the load checked
    rate = speech.sample_rate
    estimate = audio_memory_estimate(audio, rate, limits.audio)
    samples = await limits.decode_budget.run(estimate, decode_audio, audio, rate, limits.audio)
    if speech.decoding == "seq2seq":
        result = await _transcribe_seq2seq(
            core, model, samples, max(1, min(beam_width, limits.max_beam_width)), wanted)
        return dataclasses.replace(result, duration_s=samples.size / rate)
    text, segments = await _transcribe_ctc(core, model, samples, rate)
    return TranscribeResult(text, segments, samples.size / rate)
