"""Speech recognition: a recording -> text, with timed segments.

Two front ends (`frontend`): `waveform` feeds 16 kHz samples, normalised, to input `audio`;
`whisper_log_mel` computes 80 log-mel bins per 30 s window for input `input_features`.
Two decodings (`decoding`): `ctc` reads `logits` [T, V] with labels.txt (segments are words,
timed by their frames); `seq2seq` runs the `decoder` component (one segment per 30 s window).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from contract.log_mel import log_mel_spectrogram
from contract.metadata import SpeechFrontEnd, SpeechTokens, TextDecoder

from ..codecs import audio_memory_estimate, decode_audio
from ..core import InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .decoding import ComponentDecoder, beam_search, decoder_of
from .limits import TaskLimits
from .models import infer_one, labels_of, output_name
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


async def _transcribe_window(core: InferenceCore, model: LoadedModel, window: np.ndarray,
                             beam_width: int) -> str:
    features = (await asyncio.to_thread(log_mel_spectrogram, window)).astype(np.float32)
    encoded = await infer_one(core, model, {"input_features": features})
    hidden = encoded[output_name(model, "features")]
    decoder, kind = decoder_of(core, model)
    runner = ComponentDecoder(core, decoder, kind, hidden)
    tokens = model.metadata.section(SpeechTokens)
    start = list(tokens.bos_token_ids)
    max_tokens = model.metadata.section(TextDecoder).max_tokens or DEFAULT_MAX_TOKENS
    best = await beam_search(runner.step, start, tokens.eos_token_id, max_tokens, beam_width)
    return tokenizer_of(model, tokens.tokenizer).decode(list(best.tokens[len(start):]),
                                                        skip_special_tokens=True).strip()


async def _transcribe_seq2seq(core: InferenceCore, model: LoadedModel, audio: np.ndarray,
                              beam_width: int) -> tuple[str, list[Segment]]:
    window = WHISPER_RATE * WHISPER_WINDOW_S
    segments = []
    for offset in range(0, audio.size, window):
        piece = audio[offset : offset + window]
        text = await _transcribe_window(core, model, piece, beam_width)
        if text:
            start = offset / WHISPER_RATE
            segments.append(Segment(start, start + piece.size / WHISPER_RATE, text))
    return " ".join(s.text for s in segments), segments


async def transcribe(core: InferenceCore, model: LoadedModel, audio: bytes,
                     limits: TaskLimits, beam_width: int = 1) -> TranscribeResult:
    if beam_width < 0:
        raise InvalidInput("beam_width must not be negative (0 or 1: greedy)")
    speech = model.metadata.section(SpeechFrontEnd)  # a pipeline the load checked
    rate = speech.sample_rate
    estimate = audio_memory_estimate(audio, rate, limits.audio)
    samples = await limits.decode_budget.run(estimate, decode_audio, audio, rate, limits.audio)
    duration = samples.size / rate
    if speech.decoding == "seq2seq":
        text, segments = await _transcribe_seq2seq(
            core, model, samples, max(1, min(beam_width, limits.max_beam_width)))
    else:
        text, segments = await _transcribe_ctc(core, model, samples, rate)
    return TranscribeResult(text, segments, duration)
