"""The decoder graphs of encoder-decoder models: `FullSequenceDecoder` (`decoder_kind:
"full_sequence"`: all tokens each step) and `KvCacheDecoder` with its component (`"kv_cache"`).

transformers 5 passes caches as `Cache` objects; the served graph takes and returns flat
tensors instead. Per item: `features` (as the encoder gave it), `tokens` INT64 [T_new], and for
each decoder layer i `past_key_values.{i}.key` / `.value` FP32 [H, T_past, D/H]; outputs
`logits` FP32 [T_new, V] and `present.{i}.key` / `.value` [H, T_past + T_new, D/H]. The first
step has T_past = 0. Cross-attention keys and values are computed from `features` each step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from toolchain.architectures import Component
from toolchain.model_folder import TensorSpec


class FullSequenceDecoder(nn.Module):
    """Encoder features and all tokens so far -> logits for every position (no cache)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        outputs = self.model(encoder_outputs=(features,), decoder_input_ids=tokens, use_cache=False)
        return outputs.logits


class KvCacheDecoder(nn.Module):
    """An encoder-decoder model's decoder step over flat past tensors."""

    def __init__(self, model: nn.Module, layers: int) -> None:
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, features: torch.Tensor, tokens: torch.Tensor, *past: torch.Tensor):
        from transformers import DynamicCache, EncoderDecoderCache

        self_attention = DynamicCache()
        for layer in range(self.layers):
            self_attention.update(past[2 * layer], past[2 * layer + 1], layer)
        outputs = self.model(
            encoder_outputs=(features,),
            decoder_input_ids=tokens,
            cache=EncoderDecoderCache(self_attention, DynamicCache()),
            use_cache=True,
        )
        cache = outputs.past_key_values.self_attention_cache
        presents = [t for layer in cache.layers[: self.layers] for t in (layer.keys, layer.values)]
        return (outputs.logits, *presents)


def kv_cache_component(
    model: nn.Module,
    *,
    features: list[int],
    layers: int,
    heads: int,
    head_size: int,
    vocabulary_size: int,
    max_batch_size: int,
    description: str,
) -> Component:
    """The `_decoder` component of an encoder-decoder model, with a self-attention cache."""
    names = [f"{i}.{part}" for i in range(layers) for part in ("key", "value")]
    cache_dims = [heads, -1, head_size]

    def make_inputs(purpose: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch, new, past = {"dummy": (2, 2, 3), "verify": (3, 1, 5), "first_step": (1, 4, 0)}[
            purpose
        ]
        inputs = {
            "features": rng.standard_normal((batch, *features)).astype(np.float32),
            "tokens": rng.integers(0, vocabulary_size, (batch, new), dtype=np.int64),
        }
        for name in names:
            shape = (batch, heads, past, head_size)
            inputs[f"past_key_values.{name}"] = rng.standard_normal(shape).astype(np.float32)
        return inputs

    return Component(
        suffix="_decoder",
        module=KvCacheDecoder(model, layers).eval(),
        inputs=[TensorSpec("features", "FP32", features), TensorSpec("tokens", "INT64", [-1])]
        + [TensorSpec(f"past_key_values.{n}", "FP32", cache_dims) for n in names],
        outputs=[TensorSpec("logits", "FP32", [-1, vocabulary_size])]
        + [TensorSpec(f"present.{n}", "FP32", cache_dims) for n in names],
        max_batch_size=max_batch_size,
        make_inputs=make_inputs,
        parameters={"task": "component", "description": description, "decoder_kind": "kv_cache"},
        tolerance=1e-3,
        dynamo=True,
        verify_purposes=("verify", "first_step"),
    )
