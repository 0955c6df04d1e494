"""Greedy transcription with the two exported graphs (as the server runs them) and with
transformers' full forward pass (the reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from contract.log_mel import log_mel_spectrogram
from contract.metadata import TextDecoder
from toolchain.model_folder import read_metadata
from toolchain.whisper.source import MAX_TOKENS, SpecialTokens, special_tokens


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

    def run_step(self, features: np.ndarray, tokens: np.ndarray,
                 past: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One decoder call for one clip: every output by name, batch dimension removed."""
        outputs = self.decoder.run(None, {"features": features[np.newaxis],
                                          "tokens": tokens[np.newaxis], **past})
        names = [o.name for o in self.decoder.get_outputs()]
        return {name: value[0] for name, value in zip(names, outputs, strict=True)}

    def step(self, features: np.ndarray, tokens: np.ndarray,
             past: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One decoder call for one clip: logits [T_new, V] and the next past."""
        result = self.run_step(features, tokens, past)
        next_past = {"past_key_values" + name[len("present"):]: value[np.newaxis]
                     for name, value in result.items() if name.startswith("present")}
        return result["logits"], next_past

    def detect_language(self, features: np.ndarray) -> tuple[str, float]:
        """The most likely language of one clip and its probability (multilingual models)."""
        start = np.array([self.special.start], dtype=np.int64)
        scores = self.run_step(features, start, self.empty_past())["language_logits"][-1]
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        return self.special.languages[best][0], float(probabilities[best])

    def empty_past(self) -> dict[str, np.ndarray]:
        return {name: np.zeros((1, shape[1], 0, shape[3]), np.float32)
                for name, shape in self.past_shapes.items()}

    def greedy_tokens(self, features: np.ndarray, prompt: list[int] | None = None) -> list[int]:
        """Generated token ids (without the prompt, ending before <|endoftext|>)."""
        tokens = np.array(prompt or self.special.prompt, dtype=np.int64)
        past, generated = self.empty_past(), []
        for _ in range(self.max_tokens):
            logits, past = self.step(features, tokens, past)
            token = int(logits[-1].argmax())
            if token == self.special.end:
                break
            generated.append(token)
            tokens = np.array([token], dtype=np.int64)
        return generated

    def log_mel_tokens(self, log_mel: np.ndarray) -> list[int]:
        """Greedy tokens of one clip's log-mel [80, 3000]."""
        return self.greedy_tokens(self.encode(log_mel[np.newaxis])[0])

    def detect_language_of(self, audio: np.ndarray) -> tuple[str, float]:
        """The language of one clip (at most 30 s) and its probability."""
        return self.detect_language(self.encode(log_mel_spectrogram(audio)[np.newaxis])[0])

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def transcribe(self, audio: np.ndarray, language: str = "en", translate: bool = False) -> str:
        """Greedy text of one clip (at most 30 s); multilingual models take the language
        spoken and whether to translate into English."""
        features = self.encode(log_mel_spectrogram(audio)[np.newaxis])[0]
        return self.decode(self.greedy_tokens(features,
                                              self.special.prompt_for(language, translate)))


def load_model_folder(folder: Path) -> OnnxWhisper:
    """An OnnxWhisper over a written task model folder and the decoder it names."""
    metadata = read_metadata(folder)
    special = special_tokens(folder / "tokenizer.json")
    decoder_folder = folder.parent / metadata.section(TextDecoder).decoder
    encoder = onnx.load_model(str(folder / "1" / "model.onnx"))
    decoder = onnx.load_model(str(decoder_folder / "1" / "model.onnx"))
    return OnnxWhisper(encoder, decoder, folder / "tokenizer.json", special,
                       metadata.section(TextDecoder).max_tokens or MAX_TOKENS)


def torch_encoder_states(whisper: nn.Module, log_mel: np.ndarray) -> torch.Tensor:
    """transformers' encoder output [1, 1500, D] for one clip's log-mel [80, 3000]."""
    return whisper.model.encoder(torch.from_numpy(log_mel[np.newaxis])).last_hidden_state


@torch.no_grad()
def torch_greedy_tokens(whisper: nn.Module, log_mel: np.ndarray, special: SpecialTokens,
                        logit_bias: torch.Tensor, max_tokens: int = MAX_TOKENS) -> list[int]:
    """The reference: greedy decoding with transformers' full forward pass at every step."""
    hidden = torch_encoder_states(whisper, log_mel)
    tokens = list(special.prompt)
    for _ in range(max_tokens):
        logits = whisper(encoder_outputs=(hidden,),
                         decoder_input_ids=torch.tensor([tokens])).logits[0, -1] + logit_bias
        token = int(logits.argmax())
        if token == special.end:
            break
        tokens.append(token)
    return tokens[len(special.prompt):]
