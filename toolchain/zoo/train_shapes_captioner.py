"""A NeuralTalk-style captioner for generated scenes of two shapes: a CNN encoder and a GRU
decoder, served as two models (the encoder names the decoder, a `component`).

The image features go into the decoder at every step, concatenated with the word embedding,
and set its first hidden state too; given only as the first state, training collapses to one
constant caption. Captions say "a red circle left of a blue square" or "a green triangle
above a yellow circle" (toolchain/datasets/shapes.py). Exact match is measured with greedy
decoding on the ONNX models.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from contract.metadata import ComponentFiles, ImageInput, ModelMetadata, TextDecoder, Vocabulary
from toolchain.datasets.shapes import SCENE_SIZE, caption_scene, caption_vocabulary
from toolchain.model_folder import ModelCard, TensorSpec
from toolchain.zoo._publish import image_tensor, publish
from toolchain.zoo._training import (
    Batch,
    UInt8Images,
    card_facts,
    export_batched,
    export_onnx,
    fit,
    onnx_session,
    prefer,
    run_batched,
    run_metrics,
    samples_folder,
    seed_everything,
    trained_here,
    verify_against_pytorch,
    write_samples,
)

NAME = "shapes_captioner"
DECODER_NAME = "shapes_captioner_decoder"
DESCRIPTION = "CNN + GRU captioner (NeuralTalk style) for generated scenes of two shapes"
SEED = 2014
TEST_SEED = 414
TRAIN_SCENES, TEST_SCENES, EPOCHS = 6000, 500, 25
FEATURES, HIDDEN, EMBEDDING = 128, 128, 32
MAX_TOKENS = 12
VOCABULARY = caption_vocabulary()
PAD, BOS, EOS = 0, VOCABULARY.index("<bos>"), VOCABULARY.index("<eos>")

log = logging.getLogger(__name__)


def conv(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class ShapesEncoder(nn.Module):
    """uint8 [B, 64, 64, 3] -> features [B, 128]; the flattened 8x8 map keeps positions."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = UInt8Images([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        self.convs = nn.Sequential(conv(3, 16), conv(16, 32), conv(32, 32))
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8 * 8, FEATURES), nn.ReLU())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.convs(self.normalize(images)))


class CaptionDecoder(nn.Module):
    """(features [B, F], tokens [B, T]) -> next-token logits [B, T, V], one pass per call."""

    def __init__(self, vocabulary_size: int = len(VOCABULARY)) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, EMBEDDING, padding_idx=PAD)
        self.initial_state = nn.Linear(FEATURES, HIDDEN)
        self.gru = nn.GRU(EMBEDDING + FEATURES, HIDDEN, batch_first=True)
        self.output = nn.Linear(HIDDEN, vocabulary_size)

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        words = self.embed(tokens)
        image = features.unsqueeze(1).expand(-1, tokens.shape[1], -1)
        state = torch.tanh(self.initial_state(features)).unsqueeze(0)
        hidden, _ = self.gru(torch.cat([words, image], dim=2), state)
        return self.output(hidden)


class Captioner(nn.Module):
    """Encoder and decoder together, for training with teacher forcing."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.decoder = ShapesEncoder(), CaptionDecoder()

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images), tokens)


def encode_captions(captions: list[str]) -> np.ndarray:
    """Token ids [N, longest + 2]: <bos> words <eos>, padded with <pad>."""
    ids = [[BOS, *(VOCABULARY.index(w) for w in c.split()), EOS] for c in captions]
    longest = max(len(row) for row in ids)
    return np.array([row + [PAD] * (longest - len(row)) for row in ids], dtype=np.int64)


def decode_tokens(ids: np.ndarray) -> str:
    """Words up to the first <eos>."""
    words = []
    for token in ids:
        if token == EOS:
            break
        words.append(VOCABULARY[int(token)])
    return " ".join(words)


def dataset(count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    pairs = [caption_scene(rng) for _ in range(count)]
    return np.stack([scene.image for scene, _ in pairs]), [caption for _, caption in pairs]


def train(model: Captioner, images: np.ndarray, tokens: np.ndarray, *, epochs: int) -> list[float]:
    rng = np.random.default_rng(SEED)
    images_t, tokens_t = torch.from_numpy(images), torch.from_numpy(tokens)

    def make_batch(rows: np.ndarray) -> Batch:
        index = torch.from_numpy(rows)
        sequence = tokens_t[index]
        return (images_t[index], sequence[:, :-1]), sequence[:, 1:]

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD
        )

    return fit(
        model,
        len(images),
        make_batch,
        rng=rng,
        batch_size=64,
        epochs=epochs,
        learning_rate=4e-3,
        loss_fn=loss_fn,
        name=NAME,
    )


def greedy_captions(
    encoder: ort.InferenceSession, decoder: ort.InferenceSession, images: np.ndarray
) -> list[str]:
    """Greedy decoding with the ONNX models, as the server's captioning task runs them."""
    features = run_batched(encoder, {"image": images})["features"]
    tokens = np.full((len(images), 1), BOS, dtype=np.int64)
    for _ in range(MAX_TOKENS):
        logits = decoder.run(["logits"], {"features": features, "tokens": tokens})[0]
        tokens = np.concatenate([tokens, logits[:, -1].argmax(-1)[:, None]], axis=1)
        if np.all((tokens == EOS).any(axis=1)):
            break
    return [decode_tokens(row[1:]) for row in tokens]


def export(model: Captioner):
    """The encoder and decoder graphs, batch (and sequence) dimensions dynamic."""
    images = torch.zeros(2, SCENE_SIZE, SCENE_SIZE, 3, dtype=torch.uint8)
    encoder = export_batched(model.encoder, {"image": images}, ["features"])
    decoder = export_onnx(
        model.decoder,
        (torch.zeros(2, FEATURES), torch.full((2, 3), BOS, dtype=torch.int64)),
        ["features", "tokens"],
        ["logits"],
        {
            "features": {0: "batch"},
            "tokens": {0: "batch", 1: "sequence"},
            "logits": {0: "batch", 1: "sequence"},
        },
    )
    return encoder, decoder


def save_samples(
    out_dir: Path, images: np.ndarray, captions: list[str], predicted: list[str]
) -> Path:
    """Six held-out scenes that the ONNX models caption right (the first six after a quick
    run, when none is), with their true captions."""
    folder = samples_folder(out_dir, NAME)
    right = [i for i, (p, c) in enumerate(zip(predicted, captions, strict=True)) if p == c]
    samples = []
    for index, row in enumerate(prefer(right, list(range(len(captions))), 6)):
        file_name = f"scene_{index}.png"
        Image.fromarray(images[row]).save(folder / file_name)
        samples.append({"image": file_name, "expected": captions[row]})
    return write_samples(folder, NAME, "captioning", samples)


def main(out_dir: Path, *, quick: bool = False) -> Path:
    """Train, export both graphs, verify them, measure exact match, write both folders."""
    out_dir = Path(out_dir)
    seed_everything(SEED)
    train_count, test_count = (256, 64) if quick else (TRAIN_SCENES, TEST_SCENES)
    train_images, train_captions = dataset(train_count, SEED)
    test_images, test_captions = dataset(test_count, TEST_SEED)
    model = Captioner()
    epochs = 1 if quick else EPOCHS
    losses = train(model, train_images, encode_captions(train_captions), epochs=epochs)
    model.eval()

    encoder, decoder = export(model)
    encoder_session, decoder_session = onnx_session(encoder), onnx_session(decoder)
    verification = verify_against_pytorch(
        model.encoder, encoder_session, {"image": test_images[:5]}, tolerance=1e-4
    )
    with torch.no_grad():
        features = model.encoder(torch.from_numpy(test_images[:5])).numpy()
    tokens = encode_captions(test_captions[:5])
    verification += verify_against_pytorch(
        model.decoder, decoder_session, {"features": features, "tokens": tokens}, tolerance=1e-4
    )
    predicted = greedy_captions(encoder_session, decoder_session, test_images)
    exact = float(np.mean([p == t for p, t in zip(predicted, test_captions, strict=True)]))
    log.info("%s: exact match %.4f on %d held-out scenes", NAME, exact, test_count)
    for guess, truth in list(zip(predicted, test_captions, strict=True))[:5]:
        log.info("  %r (true: %r)", guess, truth)
    metrics = {
        "exact_match": round(exact, 4),
        "distinct_predicted_captions": len(set(predicted)),
        "test_scenes": test_count,
        "train_scenes": train_count,
        "epochs": epochs,
        "decoding": "greedy",
        **run_metrics(losses, quick),
    }
    vocabulary_file = "".join(f"{token}\n" for token in VOCABULARY)
    card = model_card(encoder, decoder, metrics, verification)
    image = ImageInput((SCENE_SIZE, SCENE_SIZE), resize="stretch")
    words = Vocabulary("vocabulary.txt", bos_token="<bos>", eos_token="<eos>")
    folder = publish(
        out_dir,
        NAME,
        encoder,
        metadata=ModelMetadata.build(
            "captioning", image, TextDecoder(DECODER_NAME, "full_sequence", MAX_TOKENS), words,
            description=DESCRIPTION),
        inputs=[image_tensor(image)],
        outputs=[TensorSpec("features", "FP32", [FEATURES])],
        max_batch_size=32,
        files={words.vocabulary: vocabulary_file},
        card=card,
        metrics=metrics,
    )
    publish(
        out_dir,
        DECODER_NAME,
        decoder,
        metadata=ModelMetadata.build(
            "component", ComponentFiles(words.vocabulary),
            description=f"GRU caption decoder of {NAME} (full_sequence)"),
        inputs=[TensorSpec("features", "FP32", [FEATURES]), TensorSpec("tokens", "INT64", [-1])],
        outputs=[TensorSpec("logits", "FP32", [-1, len(VOCABULARY)])],
        max_batch_size=32,
        files={words.vocabulary: vocabulary_file},
        card=card,
        metrics=metrics,
    )
    save_samples(out_dir, test_images, test_captions, predicted)
    return folder


def model_card(encoder, decoder, metrics: dict, verification: list[dict]) -> ModelCard:
    return ModelCard(
        title=f"{NAME} (+ {DECODER_NAME}): captions of generated shape scenes",
        description=DESCRIPTION + ". The encoder takes an RGB image (uint8, resized to "
        f"64x64) and gives {FEATURES} features; the decoder takes the features and the tokens "
        "so far and gives next-token logits for every position (`full_sequence`); the server "
        "runs it once per generated word.",
        source="NeuralTalk-style (Karpathy and Fei-Fei 2015; Vinyals et al. 2015) CNN encoder "
        "+ GRU decoder by the Striate project, with the image features fed at every step. "
        "Weights " + trained_here(NAME, SEED),
        license="Apache-2.0 (the project's). Data: scenes and captions generated by the "
        "project (toolchain/datasets/shapes.py), no third-party data.",
        training=f"{metrics['train_scenes']} generated scenes (seed {SEED}) of two "
        "non-overlapping shapes (circle, square, triangle; red, green, blue, yellow, purple) "
        "on grey backgrounds, each with its one canonical caption: '<left shape> left of "
        "<right shape>' when they are further apart across than down, else '<upper shape> "
        f"above <lower shape>'. Teacher forcing, {metrics['epochs']} epochs, AdamW, one-cycle "
        f"learning rate. Held out: {metrics['test_scenes']} scenes from another seed "
        f"({TEST_SEED}).",
        **card_facts(encoder, decoder),
        metrics={
            "exact-match caption accuracy, greedy, onnxruntime": f"{metrics['exact_match']:.2%}"
            f" on {metrics['test_scenes']} held-out scenes",
            "distinct captions predicted": str(metrics["distinct_predicted_captions"]),
        },
        verification=verification,
        notes="Parameters and size are the encoder and decoder together.\n\nNot good for: "
        "photographs or any scene that is not two flat shapes on a grey background. Its "
        f"vocabulary is {len(VOCABULARY) - 3} words; it cannot say anything else, and with one "
        "or three shapes it still describes two.",
    )
