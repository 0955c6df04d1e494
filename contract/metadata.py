"""Typed model metadata: the `parameters` of a config.pbtxt, parsed once, when a model loads.

A model folder states its task and how to feed it in the config's `parameters` (all values
strings, docs/model-folders.md). This module is their one schema: one frozen dataclass per
kind of contract (a *section*: image input, detection thresholds, text decoder, speech front
end, ...), and a registry saying which sections each task has. The server parses a folder's
parameters with `parse_metadata` when the model loads, so a misspelt or mistyped parameter
fails the load with a `MetadataError` naming the key, and handlers read typed fields. The
toolchain builds the same dataclasses (`ModelMetadata.build(...).to_parameters()`), so what it
writes is what the server reads.

Declaring a new task: write its section dataclasses (fields declared with `param`) and call
`register_task("pose", ImageInput, PoseEstimation)`; add a `validate` method to a section for
checks across its fields. The docs table is generated from the fields (`parameters_markdown`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound="DataclassInstance")


class MetadataError(ValueError):
    """A model's parameters break the schema: `key` is the parameter, `reason` says why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"parameter '{key}' {reason}")
        self.key = key
        self.reason = reason


def param(default: Any = None, doc: str = "", *, choices: tuple[Any, ...] = (),
          minimum: float | None = None, maximum: float | None = None) -> Any:
    """A section field: its default, one line of meaning (for the docs), and its bounds."""
    return dataclasses.field(default=default, metadata={
        "doc": doc, "choices": choices, "minimum": minimum, "maximum": maximum})


# ---------------------------------------------------------------------------------------------
# sections


@dataclass(frozen=True)
class ModelInfo:
    """Every model: which task it serves and how ListModels shows it."""

    title: ClassVar[str] = "every model"
    task: str = param("", "the task the model serves; `component`: a part another model names; "
                          "empty: a plain model served through the v2 API only")
    default: bool = param(False, "this model serves its task when a request names none")
    default_rank: int = param(0, "among several models marked `default` for a task, the "
                                 "highest rank serves (ties: the first by name)", minimum=0)
    description: str = param("", "one line for ListModels")


@dataclass(frozen=True)
class RuntimeParameters:
    """Every model: how ONNX Runtime runs it (Triton's onnxruntime backend keys)."""

    title: ClassVar[str] = "every model: the runtime"
    intra_op_thread_count: int | None = param(
        None, "threads inside one operator; empty: the server's --intra-op-threads (with "
        "--thread-pool shared the model is refused if set)", minimum=0)
    inter_op_thread_count: int = param(0, "threads across operators (0: ONNX Runtime's choice; "
                                       "with --thread-pool shared, refused unless 0)", minimum=0)
    allow_cpu_fallback: bool = param(False, "on --device cuda, run on the CPU when CUDA cannot "
                                            "take the model (else the load fails)")


RESIZE_MODES = ("stretch", "letterbox", "center_crop")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class ImageInput:
    """Image tasks: what the `image` input (UINT8, [H, W, C], 0..255) wants."""

    title: ClassVar[str] = "image input"
    image_size: tuple[int, int] | None = param(
        None, "`H,W` the input expects; empty: the input's fixed dims, else any size",
        minimum=1)
    channels: int | None = param(None, "3 (RGB) or 1 (greyscale); empty: the input's last "
                                       "dim, else 3", choices=(1, 3))
    resize: str = param("stretch", "`stretch` to the size; `letterbox`: aspect kept, padded "
                                   "with `pad_value`, centred; `center_crop`: the shorter side "
                                   "resized to `resize_size`, then the centre cut out",
                        choices=RESIZE_MODES)
    pad_value: int = param(0, "the letterbox padding, 0..255", minimum=0, maximum=255)
    resize_size: int | None = param(
        None, "`center_crop`: the shorter side's length before the crop (torchvision presets: "
              "256 for a 224 crop); empty: the crop's shorter side", minimum=1)
    interpolation: str = param("bilinear", "the resampling filter", choices=INTERPOLATIONS)


@dataclass(frozen=True)
class DetectionThresholds:
    """Detection: which boxes the server returns."""

    title: ClassVar[str] = "detection"
    score_threshold: float = param(0.5, "the lowest score returned when a request sets none",
                                   minimum=0.0, maximum=1.0)
    nms_iou: float | None = param(None, "when set, the graph has no suppression and the server "
                                        "applies per-class NMS at this IoU",
                                  minimum=0.0, maximum=1.0)


DECODER_KINDS = ("full_sequence", "kv_cache")


@dataclass(frozen=True)
class TextDecoder:
    """Text generation (captioning, seq2seq speech): the decoder component and its budget."""

    title: ClassVar[str] = "text decoder"
    decoder: str = param("", "the name of the decoder component model")
    decoder_kind: str | None = param(
        None, "`full_sequence` (all tokens each step) or `kv_cache` (new tokens and cached "
              "keys/values); the component's own value wins; empty everywhere: full_sequence",
        choices=DECODER_KINDS)
    max_tokens: int | None = param(None, "the most tokens generated; empty: 20 for a caption, "
                                         "128 per 30 s speech window", minimum=1)


@dataclass(frozen=True)
class Vocabulary:
    """Captioning: token ids <-> words, by a word list or a tokenizer."""

    title: ClassVar[str] = "captioning vocabulary"
    vocabulary: str = param("vocabulary.txt", "file beside the config, one token per line, "
                                              "id = line number")
    tokenizer: str = param("", "a tokenizer.json beside the config; when set it decodes the "
                               "caption instead of the vocabulary")
    bos_token: str = param("<bos>", "the token that starts a caption (in the vocabulary)")
    eos_token: str = param("<eos>", "the token that ends a caption (in the vocabulary)")
    pad_token: str = param("<pad>", "a token never shown in a caption")
    unk_token: str = param("", "a token never shown in a caption")


@dataclass(frozen=True)
class Question:
    """VQA: how the question becomes the `question` input."""

    title: ClassVar[str] = "vqa question"
    tokenizer: str = param("tokenizer.json", "the tokenizer file beside the config")
    max_question_tokens: int | None = param(
        None, "the question length L; empty: the `question` input's last dim", minimum=1)


FRONTENDS = ("waveform", "whisper_log_mel")
DECODINGS = ("ctc", "seq2seq")
SPEECH_PIPELINES = {("waveform", "ctc"), ("whisper_log_mel", "seq2seq")}


@dataclass(frozen=True)
class SpeechFrontEnd:
    """Speech: how a recording reaches the model, and how its output becomes text."""

    title: ClassVar[str] = "speech"
    frontend: str = param("waveform", "`waveform`: normalised samples to input `audio`; "
                                      "`whisper_log_mel`: 80 log-mel bins per 30 s window to "
                                      "`input_features`", choices=FRONTENDS)
    decoding: str = param("ctc", "`ctc` (with `waveform`) or `seq2seq` (with "
                                 "`whisper_log_mel`)", choices=DECODINGS)
    sample_rate: int = param(16_000, "the rate the model hears, in Hz", minimum=1)
    blank_id: int = param(0, "ctc: the blank token's id", minimum=0)

    def validate(self) -> None:
        """Refuse a decoding that cannot follow the front end (MetadataError)."""
        if (self.frontend, self.decoding) not in SPEECH_PIPELINES:
            raise MetadataError("decoding", f"is '{self.decoding}', which cannot follow frontend "
                                            f"'{self.frontend}'; the server runs "
                                            f"{sorted(SPEECH_PIPELINES)}")


@dataclass(frozen=True)
class SpeechTokens:
    """Seq2seq speech: the prompt, the end token and the tokenizer."""

    title: ClassVar[str] = "seq2seq speech tokens"
    tokenizer: str = param("tokenizer.json", "the tokenizer file beside the config")
    bos_token_ids: tuple[int, ...] = param((), "comma-separated ids that start every window "
                                               "(Whisper's prompt)", minimum=0)
    eos_token_id: int = param(-1, "the id that ends a window's text (-1: none)", minimum=-1)
    languages: str = param("", "multilingual models: the file beside the config listing each "
                               "language's code and token id (`en 50259`), one per line, in "
                               "the order of the decoder's `language_logits`; empty: the model "
                               "knows English only")
    transcribe_token_id: int = param(-1, "multilingual models: the task token for "
                                         "transcription (the prompt's third id)", minimum=-1)
    translate_token_id: int = param(-1, "multilingual models: the task token for translation "
                                        "into English (replaces the prompt's third id)",
                                    minimum=-1)

    def validate(self) -> None:
        """A multilingual model needs its task tokens and a prompt with room for them."""
        if not self.languages:
            return
        if self.transcribe_token_id < 0 or self.translate_token_id < 0:
            raise MetadataError("translate_token_id", "and transcribe_token_id are needed "
                                                      "when `languages` is set")
        if len(self.bos_token_ids) < 3:
            raise MetadataError("bos_token_ids", "of a multilingual model are [start, "
                                                 "language, task, ...]: at least three ids")


@dataclass(frozen=True)
class Grounding:
    """Grounded captioning and VQA: outputs composed from what other served models see."""

    title: ClassVar[str] = "grounded captions and answers"
    object_detector: str = param(
        "", "the detection model whose objects (counts, positions) the captions and answers "
            "name; set: the model is grounded (its own graph names the colours of regions) "
            "and needs no decoder or question tokenizer; empty: a neural model")
    pose_estimator: str = param("", "the pose model that says how the main person holds "
                                    "their arms; empty: no pose")
    text_reader: str = param("", "the text-reading model for \"what does it say?\"; empty: "
                                 "such questions are answered \"I can't tell\"")
    object_score: float = param(0.4, "the lowest detection score counted as an object",
                                minimum=0.0, maximum=1.0)
    keypoint_score: float = param(0.3, "the lowest score of a keypoint used for a pose",
                                  minimum=0.0, maximum=1.0)
    text_score: float = param(0.5, "the lowest score of a line of text read",
                              minimum=0.0, maximum=1.0)
    max_objects: int = param(4, "the most kinds of object a caption names", minimum=1)


def is_grounded(metadata: ModelMetadata) -> bool:
    """Whether a captioning or VQA model composes its output from other models (Grounding)."""
    return metadata.has(Grounding) and bool(metadata.section(Grounding).object_detector)


@dataclass(frozen=True)
class ComponentFiles:
    """Components: files that travel with a decoder for reference (the task model decodes)."""

    title: ClassVar[str] = "component files"
    vocabulary: str = param("", "the decoder's word list beside the config, if it has one")


@dataclass(frozen=True)
class TextReading:
    """Text reading (PP-OCR, as RapidOCR composes it): the detector is the task model and
    names its recogniser and orientation components; the rest are the pipeline's knobs."""

    title: ClassVar[str] = "text reading"
    recognizer: str = param("", "the name of the CTC recogniser component (its output's "
                                "labels file: the classes, blank first)")
    orientation_classifier: str = param("", "the name of the 0/180 degree line classifier "
                                            "component; empty: lines are read as found")
    max_side: int = param(2000, "a longer image side is shrunk to this first", minimum=32)
    min_side: int = param(30, "a shorter image side is enlarged to this first", minimum=1)
    flat_ratio: float = param(8.0, "images wider than this times their height are padded "
                                   "top and bottom", minimum=1.0)
    min_height: int = param(30, "images at most this high are padded top and bottom",
                            minimum=1)
    limit_side: int = param(736, "the detector sees the short side enlarged to at least this",
                            minimum=32)
    pixel_threshold: float = param(0.3, "text probability above which a pixel is text",
                                   minimum=0.0, maximum=1.0)
    box_threshold: float = param(0.5, "the lowest mean probability of a kept box", minimum=0.0,
                                 maximum=1.0)
    unclip_ratio: float = param(1.6, "a box grows by area * this / perimeter on each side",
                                minimum=0.0)
    max_candidates: int = param(1000, "the most text regions looked at", minimum=1)
    orientation_threshold: float = param(0.9, "the 180 degree score above which a line is "
                                              "turned", minimum=0.0, maximum=1.0)
    text_threshold: float = param(0.5, "lines read with a lower mean confidence are dropped",
                                  minimum=0.0, maximum=1.0)
    orientation_size: tuple[int, int] = param((48, 192), "`H,W` of the classifier's input",
                                              minimum=1)
    recognition_height: int = param(48, "the recogniser's input height", minimum=1)
    recognition_min_width: int = param(320, "the recogniser's narrowest input", minimum=1)
    recognition_group: int = param(6, "lines of similar shape read in one call", minimum=1)


@dataclass(frozen=True)
class PoseEstimation:
    """Pose: the model's `keypoints` output is [people, K, 3] (x, y in input pixels, score),
    its `scores` [people]; a `boxes` output [people, 4] when the model finds people itself.
    Keypoint names are the labels file of `keypoints`."""

    title: ClassVar[str] = "pose estimation"
    skeleton: tuple[int, ...] = param((), "pairs of keypoint indices joined by a line, "
                                          "flattened: `0,1,0,2,...`", minimum=0)
    score_threshold: float = param(0.2, "the lowest person score returned when a request sets "
                                        "none", minimum=0.0, maximum=1.0)
    keypoint_threshold: float = param(0.3, "keypoints scored below it do not shape a person's "
                                           "box (models without a `boxes` output)",
                                      minimum=0.0, maximum=1.0)

    def validate(self) -> None:
        """The skeleton lists whole pairs."""
        if len(self.skeleton) % 2:
            raise MetadataError("skeleton", f"has {len(self.skeleton)} indices; it needs pairs")


@dataclass(frozen=True)
class WordVectors:
    """Analogies: the graph takes `query_ids` [3] and `signs` [3] (the query is the signed sum of
    the three unit word vectors) and `k` [1]; it returns the `ids` and cosine `scores` of the
    k nearest words, the three query words excluded."""

    title: ClassVar[str] = "word vectors"
    vocabulary: str = param("vocabulary.txt", "file beside the config, one word per line, "
                                              "id = line number")
    lowercase: bool = param(True, "words are lowercased before lookup (GloVe 6B's vocabulary "
                                  "is lowercase)")


@dataclass(frozen=True)
class StyleTransfer:
    """Stylize: the graph takes a photo and a style (weights over the built-in styles, or a
    style vector that the `style_predictor` component computes from a painting)."""

    title: ClassVar[str] = "style transfer"
    styles: str = param("styles.txt", "file beside the config naming the built-in styles, one "
                                      "per line, index = line number; empty: none")
    style_predictor: str = param("", "the component that turns a painting into a style "
                                     "vector; empty: built-in styles only")
    max_side: int = param(1024, "a longer photo side is shrunk to this first", minimum=32)


@dataclass(frozen=True)
class SuperResolution:
    """Upscale: the graph takes uint8 pixels [H, W, 3] and returns them `scale` times larger.
    The server runs big photos in tiles of `tile_side` with `tile_margin` pixels of context
    around each, so a margin of at least the network's receptive radius gives the same pixels
    as one run over the whole photo."""

    title: ClassVar[str] = "super-resolution"
    scale: int = param(2, "how many times wider and taller the answer is", minimum=2)
    tile_side: int = param(128, "the photo is upscaled in squares of this side", minimum=16)
    tile_margin: int = param(16, "context pixels around each tile, cut off afterwards "
                                 "(the network's receptive radius or more)", minimum=0)
    max_input_pixels: int = param(1_048_576, "the largest photo taken (width x height); "
                                             "bigger ones are refused, not shrunk", minimum=1)


@dataclass(frozen=True)
class Dreaming:
    """Dream: the graph takes float pixels [H, W, 3] (0..255, sides multiples of
    `size_multiple`) and `layer_weights` (one per line of `layers`), and returns the gradient
    of its dream score with respect to the pixels; the server climbs it, octave by octave."""

    title: ClassVar[str] = "dreaming"
    layers: str = param("layers.txt", "file beside the config naming the layers whose "
                                      "activations can be amplified, in layer_weights order")
    default_layer: str = param("", "the layer dreamt of when a request names none; empty: "
                                   "the first")
    size_multiple: int = param(32, "both sides of the graph's input are multiples of this",
                               minimum=1)
    max_side: int = param(384, "a longer photo side is shrunk to this first", minimum=64)
    octaves: int = param(3, "default number of octaves (scales, each 1.4 times the last)",
                         minimum=1, maximum=8)
    iterations: int = param(10, "default gradient steps per octave", minimum=1, maximum=100)
    step: float = param(1.5, "default step, in grey levels per unit of normalised gradient",
                        minimum=0.0)


@dataclass(frozen=True)
class GameAgent:
    """Play: the graph takes boards `[N, 4, 10, 10]` (contract.breakout's observation) and
    returns each action's value `[N, 3]`; the server plays the game, picking the best action
    each frame."""

    title: ClassVar[str] = "game agent"
    game: str = param("minatar_breakout", "the game the agent was trained on",
                      choices=("minatar_breakout",))
    max_frames: int = param(2000, "default length limit of one game, in frames", minimum=1,
                            maximum=100_000)
    exploration: float = param(0.0, "default chance of a random action each frame (0: always "
                                    "the best)", minimum=0.0, maximum=1.0)


@dataclass(frozen=True)
class PenWriter:
    """Write: the graph is one step of a handwriting network. It takes the last pen offset
    `pen` [3] (dx, dy, lifted), the `style` [1], the text's `letters` [U] (indices: 0 the
    space, then the `alphabet`'s characters; the text followed by one space) and the
    recurrent state (`hidden`, `cell`, `kappa`, `window`, zeros at the start); it returns the
    next offset's mixture (`lift` [1], `weight_logits` [M], `means` [M, 2], `log_scales`
    [M, 2], `correlations` [M]), the window's `attention` [U] on each letter and the state
    again (`*_out`). The server draws each offset (contract/handwriting.py) and stops once
    the attention is largest on the closing space."""

    title: ClassVar[str] = "pen writer"
    alphabet: str = param("", "the characters the model writes besides the space, in index "
                              "order from 1 (the space is 0)")
    styles: str = param("", "the style names, comma-separated, in index order")
    steps_per_letter: int = param(40, "the step limit of a text, per letter", minimum=1,
                                  maximum=1000)
    bias: float = param(0.5, "default neatness: 0 samples the model as trained, higher "
                             "values write more regularly (Graves 2013, section 5.4)",
                        minimum=0.0, maximum=10.0)


def _needs_recognizer(metadata: ModelMetadata) -> None:
    if not metadata.section(TextReading).recognizer:
        raise MetadataError("recognizer", "is missing: a text reading model names its "
                                          "recogniser component")


# ---------------------------------------------------------------------------------------------
# tasks

COMMON_SECTIONS: tuple[type, ...] = (ModelInfo, RuntimeParameters)
TASK_SECTIONS: dict[str, tuple[type, ...]] = {}
TASK_CHECKS: dict[str, Callable[[ModelMetadata], None]] = {}


def register_task(task: str, *sections: type,
                  check: Callable[[ModelMetadata], None] | None = None) -> None:
    """Declare a task and the sections its models carry (keys must be unique per task)."""
    keys = [f.name for section in COMMON_SECTIONS + sections
            for f in dataclasses.fields(section)]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"task {task!r}: keys {repeated} are declared by two sections")
    TASK_SECTIONS[task] = sections
    if check is not None:
        TASK_CHECKS[task] = check


def _needs_decoder(metadata: ModelMetadata) -> None:
    if not is_grounded(metadata) and not metadata.section(TextDecoder).decoder:
        raise MetadataError("decoder", "is missing: a captioning model names its decoder "
                                       "component")


def _speech_seq2seq(metadata: ModelMetadata) -> None:
    if metadata.section(SpeechFrontEnd).decoding != "seq2seq":
        return
    if not metadata.section(TextDecoder).decoder:
        raise MetadataError("decoder", "is missing: seq2seq decoding names its decoder "
                                       "component")
    if not metadata.section(SpeechTokens).bos_token_ids:
        raise MetadataError("bos_token_ids", "is missing: seq2seq decoding needs the ids "
                                             "that start a window")


register_task("classification", ImageInput)
register_task("detection", ImageInput, DetectionThresholds)
register_task("segmentation", ImageInput)
register_task("captioning", ImageInput, TextDecoder, Vocabulary, Grounding,
              check=_needs_decoder)
register_task("vqa", ImageInput, Question, Grounding)
register_task("speech", SpeechFrontEnd, TextDecoder, SpeechTokens, check=_speech_seq2seq)
register_task("pose", ImageInput, PoseEstimation)
register_task("ocr", TextReading, check=_needs_recognizer)
register_task("analogy", WordVectors)
register_task("stylize", StyleTransfer)
register_task("upscale", SuperResolution)
register_task("dream", Dreaming)
register_task("play", GameAgent)
register_task("write", PenWriter)
register_task("component", TextDecoder, ComponentFiles)
register_task("")


def tasks() -> tuple[str, ...]:
    """The tasks a request can name (not `component`, not the empty task)."""
    return tuple(t for t in TASK_SECTIONS if t not in ("", "component"))


# ---------------------------------------------------------------------------------------------
# the metadata of one model


@dataclass(frozen=True)
class ModelMetadata:
    """A model's parsed parameters: the common sections and its task's sections."""

    info: ModelInfo
    runtime: RuntimeParameters
    sections: tuple[Any, ...] = ()

    @property
    def task(self) -> str:
        """The task the model serves ("" for none, "component" for a part of another)."""
        return self.info.task

    @property
    def default(self) -> bool:
        """Whether the model is its task's default."""
        return self.info.default

    @property
    def description(self) -> str:
        """One line for model listings."""
        return self.info.description

    def section(self, kind: type[S]) -> S:
        """The section of that kind; a MetadataError when the model's task has none."""
        for section in (self.info, self.runtime, *self.sections):
            if isinstance(section, kind):
                return section
        raise MetadataError("task", f"'{self.task}' has no {kind.__name__} metadata")

    def has(self, kind: type) -> bool:
        """Whether the model carries a section of that kind."""
        return any(isinstance(s, kind) for s in (self.info, self.runtime, *self.sections))

    @classmethod
    def build(cls, task: str, *sections: Any, default: bool = False, default_rank: int = 0,
              description: str = "", runtime: RuntimeParameters | None = None) -> ModelMetadata:
        """The metadata of a `task` model (the toolchain's way to write parameters): sections
        not given take their defaults. Raises MetadataError as parsing would."""
        declared = _sections_of(task)
        given = {type(s): s for s in sections}
        strange = [kind.__name__ for kind in given if kind not in declared]
        if strange:
            raise MetadataError("task", f"'{task}' has no {', '.join(strange)} metadata; its "
                                        f"sections are {[k.__name__ for k in declared]}")
        metadata = cls(ModelInfo(task, default, default_rank, description),
                       runtime or RuntimeParameters(),
                       tuple(given.get(kind) or kind() for kind in declared))
        metadata.validate()
        return metadata

    def validate(self) -> None:
        """Bounds, choices and the checks across fields; raises MetadataError."""
        for section in (self.info, self.runtime, *self.sections):
            for spec in dataclasses.fields(section):
                _check_bounds(spec, getattr(section, spec.name))
            if hasattr(section, "validate"):
                section.validate()
        check = TASK_CHECKS.get(self.task)
        if check is not None:
            check(self)

    def to_parameters(self) -> dict[str, str]:
        """config.pbtxt `parameters`: `task`, what differs from the defaults of the common
        sections, and every set value of the task's sections (explicit, self-describing)."""
        written = {"task": self.task}
        for section in (self.info, self.runtime):
            written.update({spec.name: format_value(getattr(section, spec.name))
                            for spec in dataclasses.fields(section)
                            if spec.name != "task" and getattr(section, spec.name) != spec.default})
        for section in self.sections:
            written.update({spec.name: format_value(getattr(section, spec.name))
                            for spec in dataclasses.fields(section)
                            if getattr(section, spec.name) not in (None, "", ())})
        return written


def _sections_of(task: str) -> tuple[type, ...]:
    if task not in TASK_SECTIONS:
        known = [t for t in TASK_SECTIONS if t]
        raise MetadataError("task", f"is '{task}', which is not a task; "
                                    f"use one of {known}{_did_you_mean(task, known)}")
    return TASK_SECTIONS[task]


def parse_metadata(parameters: Mapping[str, str]) -> ModelMetadata:
    """A config's parameters -> typed metadata; MetadataError names the first bad key.

    A task model may carry only its task's keys, so a misspelt key fails. A model without a
    task may carry other keys (Triton backends read their own), but not a near miss of ours.
    """
    values = {key: value.strip() for key, value in parameters.items()}
    task = values.get("task", "")
    kinds = COMMON_SECTIONS + _sections_of(task)
    known = {f.name for kind in kinds for f in dataclasses.fields(kind)}
    _check_unknown_keys(task, values, known)
    parsed: list[Any] = [_parse_section(kind, values) for kind in kinds]
    metadata = ModelMetadata(parsed[0], parsed[1], tuple(parsed[2:]))
    metadata.validate()
    return metadata


def _check_unknown_keys(task: str, values: Mapping[str, str], known: set[str]) -> None:
    every_key = {f.name for kinds in TASK_SECTIONS.values() for kind in COMMON_SECTIONS + kinds
                 for f in dataclasses.fields(kind)}
    for key in sorted(set(values) - known):
        if task and task != "component":
            raise MetadataError(key, f"is not a {task} parameter"
                                     f"{_did_you_mean(key, sorted(known))}; "
                                     f"{task} models read {sorted(known)}")
        hint = "" if key in every_key else _did_you_mean(key, sorted(every_key))
        if task == "component" or hint or key in every_key:
            what = "a component" if task == "component" else "a model without a task"
            raise MetadataError(key, f"is not read for {what}{hint}; set `task` or remove it")


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_section(kind: type[S], values: Mapping[str, str]) -> S:
    hints = typing.get_type_hints(kind)
    arguments = {}
    for spec in dataclasses.fields(kind):
        text = values.get(spec.name, "")
        if text:
            arguments[spec.name] = parse_value(spec.name, text, hints[spec.name])
    return kind(**arguments)


def parse_value(key: str, text: str, kind: Any) -> Any:
    """One parameter's text -> its typed value; MetadataError says what was wanted."""
    if isinstance(kind, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    try:
        return _convert(text, kind)
    except ValueError:
        raise MetadataError(key, f"is '{text}', which is not {type_words(kind)}") from None


def _convert(text: str, kind: Any) -> Any:
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind in (int, float, str):
        return kind(text)
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        items = tuple(int(part) for part in text.split(",") if part.strip())
        if args[-1] is not Ellipsis and len(items) != len(args):
            raise ValueError(text)
        return items
    raise TypeError(f"no parser for {kind}")


def type_words(kind: Any) -> str:
    """How the docs and error messages name a field's type."""
    if isinstance(kind, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        return "comma-separated integers" if args[-1] is Ellipsis else "`H,W` (two integers)"
    return {bool: "`true` or `false`", int: "an integer", float: "a number",
            str: "a string"}.get(kind, str(kind))


def format_value(value: Any) -> str:
    """A typed value -> its parameter text (the inverse of `parse_value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _check_bounds(spec: dataclasses.Field, value: Any) -> None:
    if value is None:
        return
    meta = spec.metadata
    items = value if isinstance(value, tuple) else (value,)
    if meta.get("choices") and value not in meta["choices"]:
        raise MetadataError(spec.name, f"is '{format_value(value)}'; use one of "
                                       f"{list(meta['choices'])}")
    low, high = meta.get("minimum"), meta.get("maximum")
    if any(not isinstance(v, (int, float)) for v in items):
        return
    if low is not None and any(v < low for v in items):
        raise MetadataError(spec.name, f"is {format_value(value)}; it must be at least {low}")
    if high is not None and any(v > high for v in items):
        raise MetadataError(spec.name, f"is {format_value(value)}; it must be at most {high}")


# ---------------------------------------------------------------------------------------------
# documentation


def parameters_markdown() -> str:
    """The table of every typed parameter, as docs/model-folders.md carries it."""
    lines = []
    for kind in _every_section():
        used_by = [t for t, kinds in TASK_SECTIONS.items() if kind in kinds and t]
        where = kind.title + (f" (tasks: {', '.join(used_by)})" if used_by else "")
        lines += [f"#### {kind.__name__}: {where}", "", "| key | type | default | meaning |",
                  "|---|---|---|---|"]
        hints = typing.get_type_hints(kind)
        for spec in dataclasses.fields(kind):
            default = format_value(spec.default) if spec.default not in (None, "", ()) else ""
            kind_words = type_words(hints[spec.name])
            if spec.metadata.get("choices"):
                kind_words = "one of " + ", ".join(f"`{c}`" for c in spec.metadata["choices"])
            lines.append(f"| `{spec.name}` | {kind_words} | "
                         f"{f'`{default}`' if default else '(empty)'} | "
                         f"{spec.metadata.get('doc', '')} |")
        lines.append("")
    return "\n".join(lines)


def _every_section() -> list[type[Any]]:
    kinds = list(COMMON_SECTIONS)
    for sections in TASK_SECTIONS.values():
        kinds += [k for k in sections if k not in kinds]
    return kinds
