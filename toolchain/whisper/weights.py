"""CTranslate2's Whisper tensors <-> transformers' `WhisperForConditionalGeneration`.

The tensors map one to one, except that CTranslate2 fuses the q, k and v projections (and the
cross-attention's k and v) along the output axis and stores zeros for k_proj's missing bias.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import nn

from toolchain.ctranslate2_reader import CTranslate2Model
from toolchain.whisper.source import SpecialTokens

Pairs = list[tuple[str, list[str]]]

QKV = ("q_proj", "k_proj", "v_proj")
KV = ("k_proj", "v_proj")


def _linear(ct2: str, hf: str, parts: tuple[str, ...] = ("",)) -> Pairs:
    """Names of one linear layer: CTranslate2 fuses `parts` (q, k, v) along the output axis."""
    return [
        (f"{ct2}/weight", [f"{hf}{part}.weight" for part in parts]),
        (f"{ct2}/bias", [f"{hf}{part}.bias" for part in parts]),
    ]


def _norm(ct2: str, hf: str) -> Pairs:
    return [(f"{ct2}/gamma", [f"{hf}.weight"]), (f"{ct2}/beta", [f"{hf}.bias"])]


def _layer(ct2: str, hf: str, *, cross_attention: bool) -> Pairs:
    """One transformer layer: self-attention, the decoder's cross-attention, feed-forward."""
    pairs = _norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
    pairs += _linear(f"{ct2}/self_attention/linear_0", f"{hf}.self_attn.", QKV)
    pairs += _linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
    if cross_attention:
        pairs += _norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
        pairs += _linear(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
        pairs += _linear(f"{ct2}/attention/linear_1", f"{hf}.encoder_attn.", KV)
        pairs += _linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
    pairs += _norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
    pairs += _linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
    pairs += _linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2")
    return pairs


def weight_map(encoder_layers: int, decoder_layers: int) -> Pairs:
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
        pairs += _layer(f"encoder/layer_{i}", f"model.encoder.layers.{i}", cross_attention=False)
    for i in range(decoder_layers):
        pairs += _layer(f"decoder/layer_{i}", f"model.decoder.layers.{i}", cross_attention=True)
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
