"""The import: a CTranslate2 folder (model.bin, config.json, tokenizer.json) -> verified model
folders."""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from toolchain.ctranslate2_reader import read_model_bin
from toolchain.whisper.audio import POCKETSPHINX_DATA, Recording, pocketsphinx_recordings
from toolchain.whisper.folders import INT8_MIN_AGREEMENT, ImportResult, write_folders
from toolchain.whisper.graphs import CachedDecoder, export_decoder, export_encoder, quantize_int8
from toolchain.whisper.languages import evaluate_languages
from toolchain.whisper.runtime import OnnxWhisper
from toolchain.whisper.scoring import evaluate
from toolchain.whisper.source import (
    TINY_EN,
    WhisperSource,
    fetch_source,
    special_tokens,
    suppressed_token_ids,
    token_budget,
)
from toolchain.whisper.verify import pytorch_tokens, verify, verify_decoder_rows
from toolchain.whisper.weights import whisper_from_ctranslate2

log = logging.getLogger(__name__)


def import_source(spec: WhisperSource, out_dir: Path, *, quick: bool = False) -> Path:
    """Fetch `spec` once, import, verify and write its folders into `out_dir`, scored on
    pocketsphinx-testdata when installed (two recordings when `quick`, else all)."""
    recordings = pocketsphinx_recordings() if POCKETSPHINX_DATA.is_dir() else []
    if not recordings:
        log.warning("no pocketsphinx-testdata (apt-get install pocketsphinx-testdata): "
                    "verifying on a synthetic tone, no word error rate")
    return import_whisper(fetch_source(spec), Path(out_dir), source=spec,
                          recordings=recordings[:2] if quick else recordings)


def samples_cli(module: str, title: str, name: str, samples_help: str,
                write: Callable[[Path, Path], object]) -> None:
    """`python -m toolchain.zoo.<module> samples`: write a Whisper model's sample clips."""
    parser = argparse.ArgumentParser(
        prog=f"python -m toolchain.zoo.{module}",
        description=f"{title} import helpers. The import itself is "
                    f"`python -m toolchain import {name} --out exported_models/`.")
    commands = parser.add_subparsers(dest="command", required=True)
    samples = commands.add_parser("samples", help=samples_help)
    samples.add_argument("--model", type=Path, default=Path("exported_models") / name,
                         help="the imported task model folder (default: %(default)s)")
    samples.add_argument("--out", type=Path, default=Path("exported_models/samples") / name,
                         help="where to write the clips (default: %(default)s)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(write(arguments.model, arguments.out))


def import_whisper(source_dir: Path, repository: Path, *, source: WhisperSource = TINY_EN,
                   name: str = "", recordings: list[Recording] | None = None,
                   int8: bool = True) -> Path:
    """CTranslate2 folder (model.bin, config.json, tokenizer.json) -> verified model folders.

    The encoder and the decoder are checked against PyTorch (transformers' model with the same
    weights) on the first recordings, or on a synthetic tone without any; with `recordings`
    every one is transcribed for the word error rate. The folders are named `name` (default:
    the source's). With `int8` and recordings, an int8
    decoder is tried and shipped only when it keeps accuracy: a word error rate no worse than
    float32's and PyTorch's greedy tokens on INT8_MIN_AGREEMENT of the recordings.
    """
    started = time.perf_counter()
    recordings = recordings or []
    special = special_tokens(source_dir / "tokenizer.json")
    whisper = whisper_from_ctranslate2(read_model_bin(source_dir / "model.bin"), special)
    source_config = json.loads((source_dir / "config.json").read_text())
    suppressed = suppressed_token_ids(source_config, special, whisper.config.vocab_size)
    language_ids = tuple(token_id for _, token_id in special.languages)
    bias = CachedDecoder(whisper, suppressed).logit_bias
    log.info("exporting the encoder and the decoder (about a minute each)")
    encoder = export_encoder(whisper)
    decoder = export_decoder(whisper, suppressed, language_ids)
    export_seconds = time.perf_counter() - started
    tokenizer = source_dir / "tokenizer.json"
    budget = token_budget(whisper.config, special)
    runner = OnnxWhisper(encoder, decoder, tokenizer, special, budget)
    verification = verify(whisper, runner, recordings, bias)
    reference = pytorch_tokens(whisper, recordings, special, bias, budget) if recordings else None
    evaluation = evaluate(runner, recordings, reference) if recordings else None
    shipped, shipped_evaluation, int8_evaluation, use_int8 = decoder, evaluation, None, False
    if int8 and recordings:
        quantized = quantize_int8(decoder)
        int8_runner = OnnxWhisper(encoder, quantized, tokenizer, special, budget)
        check = verify_decoder_rows(whisper, int8_runner, recordings, bias)
        verification.append({"check": "decoder logits, int8 weights (step by step)",
                             "max_abs_diff": check["max_abs_diff"],
                             "top1_agreement": check["top1_agreement"]})
        int8_evaluation = evaluate(int8_runner, recordings, reference)
        use_int8 = (int8_evaluation.wer <= evaluation.wer
                    and int8_evaluation.agreement_with_pytorch >= INT8_MIN_AGREEMENT)
        log.info("word errors: float32 decoder %d, int8 decoder %d of %d words: int8 %s",
                 evaluation.word_errors, int8_evaluation.word_errors,
                 evaluation.reference_words, "kept" if use_int8 else "rejected")
        if use_int8:
            shipped, shipped_evaluation = quantized, int8_evaluation
    languages = []
    if special.multilingual:
        shipped_runner = OnnxWhisper(encoder, shipped, tokenizer, special, budget)
        languages = evaluate_languages(shipped_runner)
    result = ImportResult(verification, shipped_evaluation, int8_evaluation, use_int8,
                          export_seconds, languages)
    return write_folders(repository, source, name or source.name, encoder, shipped, whisper,
                         source_dir, special, result)
