"""Token ids <-> text: a vocabulary file (one token per line) or a Hugging Face tokenizer.json."""

from __future__ import annotations

import functools
from pathlib import Path

from tokenizers import Tokenizer

from contract.metadata import Vocabulary as VocabularyMetadata

from ..errors import InvalidInput
from ..repository import LoadedModel
from .models import model_file, read_lines


@functools.lru_cache(maxsize=32)
def _tokenizer(path: Path, mtime: float) -> Tokenizer:
    del mtime
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def tokenizer_of(model: LoadedModel, filename: str) -> Tokenizer:
    """The model's tokenizer file (its metadata names it), loaded once."""
    path = model_file(model, filename)
    if not path.exists():
        raise InvalidInput(f"model '{model.name}' has no tokenizer file {path.name}")
    return _tokenizer(path, path.stat().st_mtime)


class Vocabulary:
    """A word-per-line vocabulary (id = line number) with its special tokens."""

    def __init__(self, model: LoadedModel) -> None:
        metadata = model.metadata.section(VocabularyMetadata)
        path = model_file(model, metadata.vocabulary)
        self.tokens = read_lines(path)
        if not self.tokens:
            raise InvalidInput(f"model '{model.name}' has no vocabulary file {path.name}")
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        self.bos_id = self._id(model, "bos_token", metadata.bos_token)
        self.eos_id = self._id(model, "eos_token", metadata.eos_token)
        specials = {metadata.pad_token, metadata.unk_token}
        self.skipped = {self.bos_id, self.eos_id} | {self.ids[t] for t in specials if t in self.ids}

    def _id(self, model: LoadedModel, key: str, token: str) -> int:
        if token not in self.ids:
            raise InvalidInput(f"model '{model.name}': {key} '{token}' is not in its vocabulary")
        return self.ids[token]

    def decode(self, ids: list[int]) -> str:
        words = [self.tokens[i] for i in ids if i not in self.skipped and 0 <= i < len(self.tokens)]
        return " ".join(words)
