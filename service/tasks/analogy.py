"""Analogy: "word - minus + plus" over word vectors (king - man + woman: queen), or a word's
nearest words.

The model (contract.metadata.WordVectors) holds the vectors and does the arithmetic and the
cosine top-k itself; this module turns words into ids with the vocabulary file beside the
config, and ids back into words. An unknown word is an error naming it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.metadata import WordVectors

from ..core import InferenceCore
from ..errors import InvalidInput
from ..names import shown
from ..repository import LoadedModel
from .models import infer_one, model_file, read_lines

MAX_TOP_K = 100
DEFAULT_TOP_K = 10


@dataclass(frozen=True)
class WordScore:
    word: str
    score: float


@functools.lru_cache(maxsize=8)
def _index(lines: tuple[str, ...]) -> dict[str, int]:
    return {word: i for i, word in enumerate(lines)}


def vocabulary(model: LoadedModel) -> tuple[tuple[str, ...], dict[str, int]]:
    """The model's words (id = position) and the word -> id map."""
    path = model_file(model, model.metadata.section(WordVectors).vocabulary)
    lines = read_lines(Path(path))
    if not lines:
        raise InvalidInput(f"model '{model.name}' has no vocabulary file {path.name}")
    return lines, _index(lines)


def _word_id(word: str, role: str, index: dict[str, int], lowercase: bool) -> int:
    key = word.strip().lower() if lowercase else word.strip()
    if not key:
        raise InvalidInput(f"the {role} word is empty; send a word")
    if key not in index:
        raise InvalidInput(f"the word {shown(word)} ({role}) is not in the model's "
                           f"vocabulary of {len(index):,} words; try another word")
    return index[key]


def _query(word: str, minus: str, plus: str, index: dict[str, int],
           lowercase: bool) -> tuple[np.ndarray, np.ndarray]:
    if bool(minus) != bool(plus):
        raise InvalidInput("set both minus and plus (word - minus + plus), or neither (the "
                           "word's nearest words)")
    first = _word_id(word, "word", index, lowercase)
    if not minus:
        return np.array([first] * 3, np.int64), np.array([1, 0, 0], np.float32)
    ids = [first, _word_id(minus, "minus", index, lowercase),
           _word_id(plus, "plus", index, lowercase)]
    return np.array(ids, np.int64), np.array([1, -1, 1], np.float32)


async def analogy(core: InferenceCore, model: LoadedModel, word: str, minus: str, plus: str,
                  top_k: int) -> list[WordScore]:
    """The top_k words nearest to `word - minus + plus` (or to `word`), best first."""
    if not 0 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be between 1 and {MAX_TOP_K} (0: {DEFAULT_TOP_K})")
    words, index = vocabulary(model)
    lowercase = model.metadata.section(WordVectors).lowercase
    ids, signs = _query(word, minus, plus, index, lowercase)
    k = np.array([min(top_k or DEFAULT_TOP_K, len(words) - 3)], np.int64)
    result = await infer_one(core, model, {"query_ids": ids, "signs": signs, "k": k},
                             ["ids", "scores"])
    found = np.asarray(result["ids"]).reshape(-1)
    scores = np.asarray(result["scores"], np.float32).reshape(-1)
    return [WordScore(words[int(i)], float(s)) for i, s in zip(found, scores, strict=True)]
