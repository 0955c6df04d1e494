"""Speech recognition: Hugging Face Whisper (encoder + decoder) and wav2vec2 CTC.

Whisper: the task model `<name>` is the encoder (`input_features` FP32 [N, 80, 3000], the log-mel
features the server computes -> `features` FP32 [N, 1500, D]); `<name>_decoder` is a
`component` with decoder_kind `kv_cache` (see kv_cache.py) or, with `--decoder full_sequence`,
`full_sequence` (`features`, `tokens` -> `logits`).

wav2vec2: one graph, one recording per execution: `audio` FP32 [T] (16 kHz, zero mean, unit
variance) -> `logits` FP32 [T', V], CTC vocabulary in labels.txt (blank = the pad token).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from toolchain.architectures import Architecture, BuildOptions, Component, ExportError, register
from toolchain.families.common import check_weights_option
from toolchain.families.hf import load_hf_model, tokenizer_json
from toolchain.families.kv_cache import FullSequenceDecoder, kv_cache_component
from toolchain.model_folder import TensorSpec

WHISPER_HUB_ID = "openai/whisper-tiny"
WAV2VEC2_HUB_ID = "facebook/wav2vec2-base-960h"
MEL_BINS = 80
MEL_FRAMES = 3000
WHISPER_SPECIALS = [
    "<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>",
]  # fmt: skip
TINY_WORDS = ["hello", "world", "yes", "no", "one", "two", "three", "stop", "go"]
CTC_LETTERS = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVKXJQZ", "'"]


class WhisperEncoder(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder = model.model.encoder

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_features=input_features).last_hidden_state


class CtcModel(nn.Module):
    """One normalised recording [T] -> CTC logits [T', V]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.model(input_values=audio[None]).logits[0]


def tiny_whisper() -> tuple[nn.Module, str]:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    vocabulary = {token: i for i, token in enumerate(WHISPER_SPECIALS + TINY_WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<|endoftext|>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(WHISPER_SPECIALS)
    config = WhisperConfig(
        vocab_size=len(vocabulary), num_mel_bins=MEL_BINS, d_model=32, encoder_layers=2,
        encoder_attention_heads=2, decoder_layers=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=MEL_FRAMES // 2,
        max_target_positions=64, pad_token_id=0, bos_token_id=0, eos_token_id=0,
        decoder_start_token_id=1,
    )  # fmt: skip
    return WhisperForConditionalGeneration(config), tokenizer.to_str()


def whisper_start_tokens(model: nn.Module, tokenizer: str) -> tuple[list[int], int]:
    """<|startoftranscript|> [<|en|> <|transcribe|>] <|notimestamps|>, and <|endoftext|>."""
    from tokenizers import Tokenizer

    ids = Tokenizer.from_str(tokenizer).get_vocab(with_added_tokens=True)
    multilingual = "<|en|>" in ids and model.config.vocab_size >= 51865
    names = ["<|startoftranscript|>"]
    names += ["<|en|>", "<|transcribe|>"] if multilingual or "<|en|>" in ids else []
    names += ["<|notimestamps|>"]
    missing = [n for n in names + ["<|endoftext|>"] if n not in ids]
    if missing:
        raise ExportError(f"the tokenizer lacks Whisper's special tokens {missing}")
    return [ids[n] for n in names], ids["<|endoftext|>"]


def build_whisper(options: BuildOptions) -> list[Component]:
    from transformers import WhisperForConditionalGeneration

    check_weights_option(options)
    if options.tiny:
        model, tokenizer = tiny_whisper()
    else:
        model = load_hf_model(WhisperForConditionalGeneration, options, WHISPER_HUB_ID)
        tokenizer = tokenizer_json(options, WHISPER_HUB_ID)
    model.eval()
    if model.config.num_mel_bins != MEL_BINS:
        raise ExportError(
            f"this Whisper takes {model.config.num_mel_bins} mel bins; the server computes "
            f"{MEL_BINS} (whisper tiny to large-v2)"
        )
    start, eos = whisper_start_tokens(model, tokenizer)
    features = [model.config.max_source_positions, model.config.d_model]
    vocabulary_size = model.config.vocab_size

    def encoder_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch = 2 if purpose == "dummy" else 3
        mel = rng.standard_normal((batch, MEL_BINS, MEL_FRAMES)).astype(np.float32)
        return {"input_features": mel}

    def decoder_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch, length = (2, 3) if purpose == "dummy" else (3, 6)
        return {
            "features": rng.standard_normal((batch, *features)).astype(np.float32),
            "tokens": rng.integers(0, vocabulary_size, (batch, length), dtype=np.int64),
        }

    encoder = Component(
        suffix="",
        module=WhisperEncoder(model).eval(),
        inputs=[TensorSpec("input_features", "FP32", [MEL_BINS, MEL_FRAMES])],
        outputs=[TensorSpec("features", "FP32", features)],
        max_batch_size=options.max_batch_size,
        make_inputs=encoder_inputs,
        parameters={
            "task": "speech",
            "description": "Whisper speech recognition (encoder)",
            "frontend": "whisper_log_mel",
            "decoding": "seq2seq",
            "decoder": "{name}_decoder",
            "decoder_kind": options.decoder_kind,
            "tokenizer": "tokenizer.json",
            "bos_token_ids": ",".join(map(str, start)),
            "eos_token_id": str(eos),
            "max_tokens": str(min(128, model.config.max_target_positions - len(start))),
        },
        tolerance=1e-3,
        files={"tokenizer.json": tokenizer},
    )
    if options.decoder_kind == "kv_cache":
        decoder = kv_cache_component(
            model,
            features=features,
            layers=model.config.decoder_layers,
            heads=model.config.decoder_attention_heads,
            head_size=model.config.d_model // model.config.decoder_attention_heads,
            vocabulary_size=vocabulary_size,
            max_batch_size=options.max_batch_size,
            description="Whisper decoder with a self-attention cache",
        )
        return [encoder, decoder]
    decoder = Component(
        suffix="_decoder",
        module=FullSequenceDecoder(model).eval(),
        inputs=[TensorSpec("features", "FP32", features), TensorSpec("tokens", "INT64", [-1])],
        outputs=[TensorSpec("logits", "FP32", [-1, vocabulary_size])],
        max_batch_size=options.max_batch_size,
        make_inputs=decoder_inputs,
        parameters={
            "task": "component",
            "description": "Whisper decoder (one step per token)",
            "decoder_kind": "full_sequence",
        },
        tolerance=1e-3,
        dynamo=True,
    )
    return [encoder, decoder]


def tiny_wav2vec2() -> tuple[nn.Module, list[str]]:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    config = Wav2Vec2Config(
        vocab_size=len(CTC_LETTERS), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, conv_dim=(32, 32, 32),
        conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, pad_token_id=0,
    )  # fmt: skip
    return Wav2Vec2ForCTC(config), list(CTC_LETTERS)


def ctc_vocabulary(options: BuildOptions) -> list[str]:
    """Tokens by id from the folder's vocab.json (Wav2Vec2CTCTokenizer)."""
    folder = Path(options.weights) if options.weights != "default" else None
    if folder is None or not (folder / "vocab.json").is_file():
        raise ExportError("pass a wav2vec2 model folder that holds its vocab.json (the processor)")
    vocabulary = json.loads((folder / "vocab.json").read_text())
    if vocabulary and isinstance(next(iter(vocabulary.values())), dict):
        vocabulary = next(iter(vocabulary.values()))  # per-language vocabularies: the first
    by_id = {index: token for token, index in vocabulary.items()}
    return [by_id.get(i, f"<unused{i}>") for i in range(max(by_id) + 1)]


def build_wav2vec2(options: BuildOptions) -> list[Component]:
    from transformers import Wav2Vec2ForCTC

    check_weights_option(options)
    if options.tiny:
        model, labels = tiny_wav2vec2()
    else:
        model = load_hf_model(Wav2Vec2ForCTC, options, WAV2VEC2_HUB_ID)
        labels = ctc_vocabulary(options)
    model.eval()
    if len(labels) != model.config.vocab_size:
        raise ExportError(f"{len(labels)} tokens in vocab.json, {model.config.vocab_size} logits")

    def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        samples = 16_000 if purpose == "dummy" else 23_456
        return {"audio": rng.standard_normal(samples).astype(np.float32)}

    return [
        Component(
            suffix="",
            module=CtcModel(model).eval(),
            inputs=[TensorSpec("audio", "FP32", [-1])],
            outputs=[TensorSpec("logits", "FP32", [-1, len(labels)], "labels.txt")],
            max_batch_size=0,
            make_inputs=make_inputs,
            parameters={
                "task": "speech",
                "description": "wav2vec2 CTC speech recognition",
                "frontend": "waveform",
                "decoding": "ctc",
                "blank_id": str(model.config.pad_token_id or 0),
                "sample_rate": "16000",
            },
            tolerance=1e-3,
            labels=labels,
        )
    ]


register(
    Architecture(
        name="whisper",
        task="speech",
        description="Hugging Face Whisper (tiny to large-v2) as encoder and decoder models",
        source="transformers WhisperForConditionalGeneration",
        license="Apache-2.0 (code); OpenAI Whisper weights are MIT",
        build=build_whisper,
        default_weights=f"{WHISPER_HUB_ID} from the Hugging Face cache",
    )
)
register(
    Architecture(
        name="wav2vec2_ctc",
        task="speech",
        description="Hugging Face Wav2Vec2ForCTC (character CTC)",
        source="transformers Wav2Vec2ForCTC",
        license="Apache-2.0 (code); weights under the checkpoint's license",
        build=build_wav2vec2,
        default_weights=f"{WAV2VEC2_HUB_ID} from the Hugging Face cache",
    )
)
