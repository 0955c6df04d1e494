"""Autoregressive decoding over a decoder component: greedy and beam search.

The decoder is an ordinary served model (task `component`) named by the task model's `decoder`
parameter. `decoder_kind: full_sequence` takes `features` and all `tokens` so far and returns
`logits` [T, V]; `kv_cache` takes `features`, the new `tokens` and `past_key_values.*`, and
returns `logits` and `present.*` (fed back as the next step's past). Every step goes through
the core, so the beams of one request, and concurrent requests, batch together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract.batching import is_batched
from contract.metadata import TextDecoder

from ..core import CACHE_INPUT_PREFIX, InferenceCore
from ..errors import InvalidInput
from ..repository import LoadedModel
from .models import infer_one


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]  # including the start tokens
    log_probability: float
    state: Any = None  # decoder state after `tokens` (kv cache), None before the first step
    finished: bool = False


# one decoding step: a hypothesis -> log-probabilities of its next token [V], and its new state
StepFn = Callable[[Hypothesis], Awaitable[tuple[np.ndarray, Any]]]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


async def beam_search(step: StepFn, start_tokens: list[int], eos_id: int, max_tokens: int,
                      beam_width: int = 1) -> Hypothesis:
    """The best hypothesis by log-probability per generated token; beam width 1 is greedy."""
    start = len(start_tokens)
    beams = [Hypothesis(tuple(start_tokens), 0.0)]
    finished: list[Hypothesis] = []
    for _ in range(max_tokens):
        steps = await asyncio.gather(*(step(beam) for beam in beams))
        candidates = []
        for beam, (log_probs, state) in zip(beams, steps):
            best = np.argsort(-log_probs, kind="stable")[:beam_width]
            for token in best:
                candidates.append(Hypothesis(beam.tokens + (int(token),),
                                             beam.log_probability + float(log_probs[token]),
                                             state, int(token) == eos_id))
        candidates.sort(key=lambda h: -h.log_probability)
        beams = []
        for candidate in candidates:
            if candidate.finished:
                finished.append(candidate)
            elif len(beams) < beam_width:
                beams.append(candidate)
            if len(beams) == beam_width:
                break
        if not beams or len(finished) >= beam_width:
            break
    pool = finished or beams
    return max(pool, key=lambda h: h.log_probability / max(1, len(h.tokens) - start))


class ComponentDecoder:
    """Runs a decoder component one step at a time for one request's encoder features."""

    def __init__(self, core: InferenceCore, decoder: LoadedModel, kind: str,
                 features: np.ndarray) -> None:
        if kind not in ("full_sequence", "kv_cache"):
            raise InvalidInput(f"decoder '{decoder.name}' has decoder_kind '{kind}'; the server "
                               "knows full_sequence and kv_cache")
        self.core = core
        self.decoder = decoder
        self.kind = kind
        self.features = features
        self.batched = is_batched(decoder.config)

    async def step(self, hypothesis: Hypothesis) -> tuple[np.ndarray, Any]:
        tokens = np.array(hypothesis.tokens, dtype=np.int64)
        inputs = {"features": self.features}
        if self.kind == "kv_cache":
            past = hypothesis.state if hypothesis.state is not None else self.empty_past()
            if hypothesis.state is not None:
                tokens = tokens[-1:]
            inputs.update(past)
        inputs["tokens"] = tokens
        result = await infer_one(self.core, self.decoder, inputs)
        logits = np.asarray(result["logits"])
        state = None
        if self.kind == "kv_cache":
            state = {CACHE_INPUT_PREFIX + name[len("present"):]: value
                     for name, value in result.items() if name.startswith("present")}
        return log_softmax(logits.reshape(-1, logits.shape[-1])[-1]), state

    def empty_past(self) -> dict[str, np.ndarray]:
        """Zero-length past for every past_key_values.* input (its variable axis set to 0)."""
        past = {}
        for tensor in self.decoder.config.input:
            if tensor.name.startswith(CACHE_INPUT_PREFIX):
                shape = tuple(0 if d < 0 else int(d) for d in tensor.dims)
                past[tensor.name] = np.zeros(shape, dtype=np.float32)
        return past


def decoder_of(core: InferenceCore, model: LoadedModel) -> tuple[LoadedModel, str]:
    """The decoder component the task model names, and its kind."""
    wanted = model.metadata.section(TextDecoder)
    if not wanted.decoder:
        raise InvalidInput(f"model '{model.name}' names no decoder component (parameter "
                           "'decoder'); it cannot generate text")
    decoder = core.model(wanted.decoder)
    own = (decoder.metadata.section(TextDecoder).decoder_kind
           if decoder.metadata.has(TextDecoder) else None)
    return decoder, own or wanted.decoder_kind or "full_sequence"
