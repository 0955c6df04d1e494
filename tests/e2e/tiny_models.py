"""A repository of tiny ONNX models, one per task, that follow docs/model-folders.md.

Each computes something a test can predict from its input: the dominant colour of an
image, the bounding box of its bright pixels, the loud stretches of a recording. They let
the end-to-end tests check real answers without the zoo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.support.models import save, tensor

OPSET = 18  # reductions take their axes as an input from opset 18

COLOURS = ["red", "green", "blue"]
CAPTION_VOCABULARY = ["<pad>", "<bos>", "<eos>", "a", "red", "green", "blue", "square"]
VQA_ANSWERS = ["red", "green", "blue", "yes", "no"]
VQA_WORDS = ["[PAD]", "[UNK]", "what", "colour", "color", "is", "it", "the", "shape", "?"]
CTC_VOCABULARY = ["<blank>", "|", "a", "b"]
SAMPLES_PER_FRAME = 160  # 10 ms at 16 kHz
DETECTOR_SIZE = 64
SEGMENTER_SIZE = 32


def graph(nodes, inputs, outputs, initializers=()):
    return helper.make_model(helper.make_graph(nodes, "tiny", inputs, outputs, list(initializers)),
                             opset_imports=[helper.make_opsetid("", OPSET)])


def const(name: str, array) -> object:
    return numpy_helper.from_array(np.asarray(array), name)


def node(op: str, inputs: list[str], outputs: list[str], **attrs):
    return helper.make_node(op, inputs, outputs, **attrs)


def _mean_colour_nodes(image: str, out: str, batched: bool) -> list:
    """image uint8 [(B,) H, W, 3] -> out float [(B,) 3], the mean of each channel in 0..1."""
    axes = [1, 2] if batched else [0, 1]
    return [
        node("Cast", [image], [f"{out}_f"], to=TensorProto.FLOAT),
        node("ReduceMean", [f"{out}_f", f"{out}_axes"], [f"{out}_sum"], keepdims=0),
        node("Div", [f"{out}_sum", "c255"], [out]),
    ], [const(f"{out}_axes", np.array(axes, np.int64)), const("c255", np.float32(255.0))]


def colour_classifier():
    """probabilities [B, 3] = softmax(10 * mean colour): the dominant channel wins."""
    nodes, inits = _mean_colour_nodes("image", "colour", batched=True)
    nodes += [node("Mul", ["colour", "ten"], ["logits"]),
              node("Softmax", ["logits"], ["probabilities"], axis=-1)]
    inits += [const("ten", np.float32(10.0))]
    return graph(nodes, [tensor("image", TensorProto.UINT8, ["batch", 16, 16, 3])],
                 [tensor("probabilities", TensorProto.FLOAT, ["batch", 3])], inits)


def bright_box_detector():
    """Box around the pixels brighter than 128 (sum over channels > 384 counts as white).

    image uint8 [64, 64, 3] -> boxes [3, 4]: the box (score 0.9), a copy shifted one pixel
    (score 0.8, removed by NMS) and a full-image box (score 0.1, below the threshold).
    """
    size = DETECTOR_SIZE
    nodes = [
        node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        node("ReduceSum", ["f", "ax2"], ["brightness"], keepdims=0),  # [H, W]
        node("Greater", ["brightness", "c384"], ["mask_b"]),
        node("Cast", ["mask_b"], ["mask"], to=TensorProto.FLOAT),
        node("ReduceMax", ["mask", "ax0"], ["cols"], keepdims=0),  # [W]
        node("ReduceMax", ["mask", "ax1"], ["rows"], keepdims=0),  # [H]
        node("ArgMax", ["cols"], ["x1"], keepdims=1),
        node("ArgMax", ["rows"], ["y1"], keepdims=1),
        node("Slice", ["cols", "start_end", "end_start", "ax0", "minus1"], ["cols_r"]),
        node("Slice", ["rows", "start_end", "end_start", "ax0", "minus1"], ["rows_r"]),
        node("ArgMax", ["cols_r"], ["x2_r"], keepdims=1),
        node("ArgMax", ["rows_r"], ["y2_r"], keepdims=1),
        node("Sub", ["size", "x2_r"], ["x2"]),
        node("Sub", ["size", "y2_r"], ["y2"]),
        node("Concat", ["x1", "y1", "x2", "y2"], ["box_i"], axis=0),
        node("Cast", ["box_i"], ["box"], to=TensorProto.FLOAT),
        node("Add", ["box", "shift"], ["shifted"]),
        node("Unsqueeze", ["box", "ax0"], ["box_2d"]),
        node("Unsqueeze", ["shifted", "ax0"], ["shifted_2d"]),
        node("Concat", ["box_2d", "shifted_2d", "whole"], ["boxes"], axis=0),
        node("Identity", ["score_values"], ["scores"]),
        node("Identity", ["label_values"], ["labels"]),
    ]
    inits = [
        const("ax0", np.array([0], np.int64)), const("ax1", np.array([1], np.int64)),
        const("ax2", np.array([2], np.int64)), const("c384", np.float32(384.0)),
        const("start_end", np.array([-1], np.int64)),
        const("end_start", np.array([-size - 1], np.int64)),
        const("minus1", np.array([-1], np.int64)), const("size", np.array([size], np.int64)),
        const("shift", np.ones(4, np.float32)),
        const("whole", np.array([[0, 0, size, size]], np.float32)),
        const("score_values", np.array([0.9, 0.8, 0.1], np.float32)),
        const("label_values", np.array([0, 0, 0], np.int64)),
    ]
    return graph(nodes, [tensor("image", TensorProto.UINT8, [size, size, 3])],
                 [tensor("boxes", TensorProto.FLOAT, [3, 4]),
                  tensor("scores", TensorProto.FLOAT, [3]),
                  tensor("labels", TensorProto.INT64, [3])], inits)


def colour_segmenter():
    """class_map [B, 32, 32] uint8: 1 where red > 128, 2 where green > 128 (else 0)."""
    size = SEGMENTER_SIZE
    nodes = [
        node("Split", ["image", "three"], ["r", "g", "b"], axis=3),
        node("Greater", ["r", "c128"], ["is_r"]),
        node("Greater", ["g", "c128"], ["is_g"]),
        node("Cast", ["is_r"], ["r1"], to=TensorProto.UINT8),
        node("Cast", ["is_g"], ["g1"], to=TensorProto.UINT8),
        node("Add", ["g1", "g1"], ["g2"]),
        node("Max", ["r1", "g2"], ["cls"]),
        node("Squeeze", ["cls", "ax3"], ["class_map"]),
    ]
    inits = [const("three", np.array([1, 1, 1], np.int64)), const("c128", np.uint8(128)),
             const("ax3", np.array([3], np.int64))]
    return graph(nodes, [tensor("image", TensorProto.UINT8, ["batch", size, size, 3])],
                 [tensor("class_map", TensorProto.UINT8, ["batch", size, size])], inits)


def colour_encoder():
    """features [B, 3]: the mean colour."""
    nodes, inits = _mean_colour_nodes("image", "features", batched=True)
    return graph(nodes, [tensor("image", TensorProto.UINT8, ["batch", 8, 8, 3])],
                 [tensor("features", TensorProto.FLOAT, ["batch", 3])], inits)


def caption_decoder(max_positions: int = 256):
    """logits [T, V] for tokens [T]: 'a <colour> square <eos>' whatever came before.

    Position 0 -> 'a', 1 -> the dominant colour of `features`, 2 -> 'square', then '<eos>'.
    """
    vocab = CAPTION_VOCABULARY
    table = np.full((max_positions, len(vocab)), -5.0, np.float32)
    table[0, vocab.index("a")] = 5
    table[2, vocab.index("square")] = 5
    table[3:, vocab.index("<eos>")] = 5
    colour_rows = np.zeros((3, len(vocab)), np.float32)
    for i, colour in enumerate(COLOURS):
        colour_rows[i, vocab.index(colour)] = 20
    at_one = np.zeros((max_positions, 1), np.float32)
    at_one[1] = 1
    nodes = [
        node("Shape", ["tokens"], ["t"]),
        node("Squeeze", ["t"], ["t_scalar"]),
        node("Range", ["zero", "t_scalar", "one"], ["positions"]),
        node("Gather", ["table", "positions"], ["base"], axis=0),
        node("Gather", ["at_one", "positions"], ["mask"], axis=0),
        node("Unsqueeze", ["features", "ax0"], ["f2"]),
        node("MatMul", ["f2", "colour_rows"], ["colour_logits"]),
        node("Mul", ["mask", "colour_logits"], ["colour_term"]),
        node("Add", ["base", "colour_term"], ["logits"]),
    ]
    inits = [const("table", table), const("colour_rows", colour_rows), const("at_one", at_one),
             const("zero", np.int64(0)), const("one", np.int64(1)),
             const("ax0", np.array([0], np.int64))]
    return graph(nodes, [tensor("features", TensorProto.FLOAT, [3]),
                         tensor("tokens", TensorProto.INT64, ["T"])],
                 [tensor("logits", TensorProto.FLOAT, ["T", len(vocab)])], inits)


def colour_vqa(question_tokens: int = 6):
    """probabilities [B, 5] over VQA_ANSWERS: the dominant colour (the question must be sent)."""
    nodes, inits = _mean_colour_nodes("image", "colour", batched=True)
    nodes += [
        node("Cast", ["question"], ["q"], to=TensorProto.FLOAT),
        node("ReduceSum", ["q", "ax1"], ["q_sum"], keepdims=1),
        node("Mul", ["q_sum", "zero"], ["q_zero"]),
        node("Mul", ["colour", "ten"], ["colour_logits"]),
        node("Pad", ["colour_logits", "pads", "minus"], ["padded"]),
        node("Add", ["padded", "q_zero"], ["logits"]),
        node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    inits += [const("ax1", np.array([1], np.int64)), const("zero", np.float32(0)),
              const("ten", np.float32(10)), const("pads", np.array([0, 0, 0, 2], np.int64)),
              const("minus", np.float32(-10))]
    return graph(nodes, [tensor("image", TensorProto.UINT8, ["batch", 8, 8, 3]),
                         tensor("question", TensorProto.INT64, ["batch", question_tokens])],
                 [tensor("probabilities", TensorProto.FLOAT, ["batch", len(VQA_ANSWERS)])], inits)


def energy_ctc():
    """logits [T, 4] per 10 ms frame of `audio`: loud frames say 'a', quiet ones '|'."""
    frame = SAMPLES_PER_FRAME
    nodes = [
        node("Shape", ["audio"], ["n"]),
        node("Div", ["n", "frame"], ["frames"]),
        node("Mul", ["frames", "frame"], ["usable"]),
        node("Slice", ["audio", "zero1", "usable"], ["trimmed"]),
        node("Concat", ["minus1", "frame"], ["frame_shape"], axis=0),
        node("Reshape", ["trimmed", "frame_shape"], ["framed"]),
        node("Mul", ["framed", "framed"], ["squared"]),
        node("ReduceMean", ["squared", "ax1"], ["energy"], keepdims=1),  # [T, 1]
        node("Mul", ["energy", "four"], ["e4"]),
        node("Sub", ["e4", "two"], ["a_logit"]),
        node("Mul", ["energy", "zero"], ["e0"]),
        node("Add", ["e0", "minus10"], ["low"]),
        node("Concat", ["low", "e0", "a_logit", "low"], ["logits"], axis=1),
    ]
    inits = [const("frame", np.array([frame], np.int64)), const("zero1", np.array([0], np.int64)),
             const("minus1", np.array([-1], np.int64)), const("ax1", np.array([1], np.int64)),
             const("four", np.float32(4)), const("two", np.float32(2)),
             const("zero", np.float32(0)), const("minus10", np.float32(-10))]
    return graph(nodes, [tensor("audio", TensorProto.FLOAT, ["N"])],
                 [tensor("logits", TensorProto.FLOAT, ["T", len(CTC_VOCABULARY)])], inits)


SEQ2SEQ_VOCABULARY = ["<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "hello",
                      "silence", "world"]
SILENCE_LEVEL = -1.2  # mean whisper log-mel: exactly -1.5 for silence, above -1.2 for sound


def mean_level_encoder():
    """input_features [B, 80, 3000] -> features [B, 1], the mean log-mel level."""
    nodes = [node("ReduceMean", ["input_features", "ax2"], ["per_band"], keepdims=0),
             node("ReduceMean", ["per_band", "ax1"], ["features"], keepdims=1)]
    inits = [const("ax1", np.array([1], np.int64)), const("ax2", np.array([2], np.int64))]
    return graph(nodes, [tensor("input_features", TensorProto.FLOAT, ["batch", 80, 3000])],
                 [tensor("features", TensorProto.FLOAT, ["batch", 1])], inits)


def kv_cache_decoder(max_positions: int = 256):
    """A batched kv_cache decoder: after the 2 prompt tokens it says 'hello world' when the
    window has sound and 'silence world' when not, then <|endoftext|>.

    The position of each new token is the cache length (past_key_values.0.key [B, 1, T, 1])
    plus its index, so the output is only right if the server feeds `present` back.
    """
    vocab = SEQ2SEQ_VOCABULARY
    table = np.full((max_positions, len(vocab)), -5.0, np.float32)
    # the logits at position p choose the token at p + 1
    table[2, vocab.index("world")] = 5
    table[3:, vocab.index("<|endoftext|>")] = 5
    at_one = np.zeros((max_positions, 1), np.float32)
    at_one[1] = 1
    weights = np.zeros((1, len(vocab)), np.float32)
    weights[0, vocab.index("hello")], weights[0, vocab.index("silence")] = 20, -20
    nodes = [
        node("Shape", ["past_key_values.0.key"], ["t_past_1"], start=2, end=3),
        node("Shape", ["tokens"], ["t_new_1"], start=1, end=2),
        node("Squeeze", ["t_past_1"], ["t_past"]),
        node("Add", ["t_past_1", "t_new_1"], ["t_end_1"]),
        node("Squeeze", ["t_end_1"], ["t_end"]),
        node("Range", ["t_past", "t_end", "one"], ["positions"]),
        node("Gather", ["table", "positions"], ["base"], axis=0),  # [T_new, V]
        node("Gather", ["at_one", "positions"], ["mask"], axis=0),  # [T_new, 1]
        node("Sub", ["features", "level"], ["loudness"]),  # [B, 1]
        node("MatMul", ["loudness", "weights"], ["word_logits"]),  # [B, V]
        node("Unsqueeze", ["word_logits", "ax1"], ["word_3d"]),  # [B, 1, V]
        node("Mul", ["mask", "word_3d"], ["word_term"]),  # [B, T_new, V]
        node("Add", ["base", "word_term"], ["logits"]),
        node("Cast", ["tokens"], ["tokens_f"], to=TensorProto.FLOAT),
        node("Mul", ["tokens_f", "zero"], ["zeros"]),
        node("Unsqueeze", ["zeros", "ax13"], ["new_cache"]),  # [B, 1, T_new, 1]
        node("Concat", ["past_key_values.0.key", "new_cache"], ["present.0.key"], axis=2),
    ]
    inits = [const("table", table), const("at_one", at_one), const("weights", weights),
             const("level", np.float32(SILENCE_LEVEL)), const("one", np.int64(1)),
             const("zero", np.float32(0)), const("ax1", np.array([1], np.int64)),
             const("ax13", np.array([1, 3], np.int64))]
    return graph(nodes, [tensor("features", TensorProto.FLOAT, ["batch", 1]),
                         tensor("tokens", TensorProto.INT64, ["batch", "T"]),
                         tensor("past_key_values.0.key", TensorProto.FLOAT,
                                ["batch", 1, "P", 1])],
                 [tensor("logits", TensorProto.FLOAT, ["batch", "T", len(vocab)]),
                  tensor("present.0.key", TensorProto.FLOAT, ["batch", 1, "S", 1])], inits)


def _seq2seq_tokenizer(path: Path) -> None:
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    vocab = {word: i for i, word in enumerate(SEQ2SEQ_VOCABULARY)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in SEQ2SEQ_VOCABULARY[:3]])
    tokenizer.save(str(path))


def _params(**values: str) -> str:
    return "".join(f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}\n'
                   for k, v in values.items())


def _word_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {word: i for i, word in enumerate(VQA_WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))


def build_repository(root: Path) -> Path:
    """Write every tiny model into `root` (a model repository) and return it."""
    folder = save(colour_classifier(), root, "tiny_colours", config=(
        "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n"
        'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [3] '
        'label_filename: "labels.txt" }]\n'
        + _params(task="classification", default="true", description="dominant colour")))
    (folder / "labels.txt").write_text("\n".join(COLOURS) + "\n")
    save(colour_classifier(), root, "tiny_colours_b",
         config="max_batch_size: 8\n" + _params(task="classification", resize="letterbox"))
    folder = save(bright_box_detector(), root, "tiny_detector", config=(
        "max_batch_size: 0\n" + _params(task="detection", resize="letterbox", nms_iou="0.5",
                                         score_threshold="0.3", description="white boxes")))
    (folder / "labels.txt").write_text("white\n")
    folder = save(colour_segmenter(), root, "tiny_segmenter", config=(
        "max_batch_size: 4\n" + _params(task="segmentation", description="red and green")))
    (folder / "labels.txt").write_text("background\nred\ngreen\n")
    folder = save(colour_encoder(), root, "tiny_captioner", config=(
        "max_batch_size: 4\n" + _params(task="captioning", decoder="tiny_caption_decoder",
                                         vocabulary="vocabulary.txt", bos_token="<bos>",
                                         eos_token="<eos>", max_tokens="10")))
    (folder / "vocabulary.txt").write_text("\n".join(CAPTION_VOCABULARY) + "\n")
    save(caption_decoder(), root, "tiny_caption_decoder", config=(
        "max_batch_size: 0\n" + _params(task="component", decoder_kind="full_sequence")))
    folder = save(colour_vqa(), root, "tiny_vqa", config=(
        "max_batch_size: 4\n" + _params(task="vqa", tokenizer="tokenizer.json",
                                         max_question_tokens="6")))
    (folder / "labels.txt").write_text("\n".join(VQA_ANSWERS) + "\n")
    _word_tokenizer(folder / "tokenizer.json")
    folder = save(energy_ctc(), root, "tiny_ctc", config=(
        # inputs stated, so the server does not take the variable first axis for a batch
        'max_batch_size: 0\ninput [{ name: "audio" data_type: TYPE_FP32 dims: [-1] }]\n'
        + _params(task="speech", frontend="waveform", decoding="ctc")))
    (folder / "labels.txt").write_text("\n".join(CTC_VOCABULARY) + "\n")
    folder = save(mean_level_encoder(), root, "tiny_seq2seq", config=(
        "max_batch_size: 8\n" + _params(task="speech", frontend="whisper_log_mel",
                                         decoding="seq2seq", decoder="tiny_seq2seq_decoder",
                                         tokenizer="tokenizer.json", bos_token_ids="1,2",
                                         eos_token_id="0", max_tokens="8")))
    _seq2seq_tokenizer(folder / "tokenizer.json")
    save(kv_cache_decoder(), root, "tiny_seq2seq_decoder", config=(
        "max_batch_size: 8\n" + _params(task="component", decoder_kind="kv_cache")))
    return root
