"""The two served graphs, their ONNX export and the int8 decoder.

`CrossAttentionEncoder` computes every decoder layer's cross-attention keys and values once per
clip; `CachedDecoder` is one decoding step with cached self-attention keys and values and -inf
logits for suppressed tokens. The contract is in toolchain/zoo/import_whisper.py and
docs/model-folders.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import torch
from torch import nn

from contract.onnx_limits import MAX_IR_VERSION

OPSET = 18


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
    them. Suppressed tokens get -inf logits. A multilingual model (`language_ids` given) also
    returns `language_logits` [B, T_new, languages] after `logits`: the unsuppressed logits of
    the language tokens, from which the server detects the language spoken.
    """

    def __init__(self, whisper: nn.Module, suppressed: list[int],
                 language_ids: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.decoder = whisper.model.decoder
        self.projection = whisper.proj_out
        self.heads = whisper.config.decoder_attention_heads
        bias = torch.zeros(whisper.config.vocab_size)
        bias[suppressed] = float("-inf")
        self.register_buffer("logit_bias", bias)
        self.multilingual = bool(language_ids)
        if self.multilingual:
            self.register_buffer("language_ids", torch.tensor(language_ids, dtype=torch.int64))

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
        raw = self.projection(self.decoder.layer_norm(hidden))
        if self.multilingual:
            return (raw + self.logit_bias, raw[..., self.language_ids], *presents)
        return (raw + self.logit_bias, *presents)

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


def _cache_names(prefix: str, layers: int) -> list[str]:
    return [f"{prefix}.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def past_names(layers: int) -> list[str]:
    return _cache_names("past_key_values", layers)


def present_names(layers: int) -> list[str]:
    return _cache_names("present", layers)


def _cap_ir_version(model: onnx.ModelProto) -> onnx.ModelProto:
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
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
    return _cap_ir_version(program.model_proto)


def export_decoder(whisper: nn.Module, suppressed: list[int],
                   language_ids: tuple[int, ...] = ()) -> onnx.ModelProto:
    module = CachedDecoder(whisper, suppressed, language_ids).eval()
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
        output_names=["logits", *(["language_logits"] if language_ids else []),
                      *present_names(layers)],
        dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, verbose=False,
    )
    return _cap_ir_version(program.model_proto)


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
    return _cap_ir_version(quantized)
