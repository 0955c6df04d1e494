"""Typed results of the task API, and their conversion from the protocol messages."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import grpc
import numpy as np
from PIL import Image

from contract.protocol import striate_tasks_pb2 as pb


class ClientError(Exception):
    """A failed request: the gRPC status code and the server's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> ClientError:
        return cls(error.code(), error.details() or "")

    @classmethod
    def from_task_error(cls, error: pb.TaskError) -> ClientError:
        codes = {code.value[0]: code for code in grpc.StatusCode}
        return cls(codes.get(error.code, grpc.StatusCode.UNKNOWN), error.message)


@dataclass(frozen=True)
class ClassScore:
    index: int
    label: str
    score: float


@dataclass(frozen=True)
class Classification:
    model: str
    classes: list[ClassScore]

    @property
    def top(self) -> ClassScore:
        return self.classes[0]


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Detection:
    box: Box
    index: int
    label: str
    score: float


@dataclass(frozen=True)
class Detections:
    model: str
    detections: list[Detection]
    width: int
    height: int


@dataclass(frozen=True)
class ClassShare:
    index: int
    label: str
    pixel_fraction: float


@dataclass(frozen=True)
class Segmentation:
    model: str
    class_map_png: bytes = field(repr=False)
    class_names: list[str]
    shares: list[ClassShare]
    width: int
    height: int

    @property
    def class_map(self) -> np.ndarray:
        """[height, width] uint8 array of class indices."""
        return np.asarray(Image.open(io.BytesIO(self.class_map_png)))


@dataclass(frozen=True)
class Caption:
    model: str
    text: str
    log_probability: float


@dataclass(frozen=True)
class Answer:
    text: str
    score: float


@dataclass(frozen=True)
class Answers:
    model: str
    answers: list[Answer]


@dataclass(frozen=True)
class TranscriptSegment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    model: str
    text: str
    segments: list[TranscriptSegment]
    duration_s: float
    language: str = "en"
    """The language spoken: as requested, detected, or "en" for an English-only model."""
    language_probability: float = 0.0
    """The detection's probability; 0 when the language was not detected."""


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Keypoint:
    name: str
    position: Point
    score: float


@dataclass(frozen=True)
class Person:
    keypoints: list[Keypoint]
    score: float
    box: Box


@dataclass(frozen=True)
class Poses:
    model: str
    people: list[Person]
    keypoint_names: list[str]
    skeleton: list[tuple[int, int]]  # pairs of indices into keypoint_names
    width: int
    height: int


@dataclass(frozen=True)
class TextLine:
    polygon: list[Point]  # 4 corners, clockwise from the line's top-left
    text: str
    score: float
    upside_down: bool


@dataclass(frozen=True)
class TextReading:
    model: str
    lines: list[TextLine]  # top to bottom, then left to right
    width: int
    height: int

    @property
    def text(self) -> str:
        """All lines, one a line."""
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class WordScore:
    word: str
    score: float  # cosine similarity to the query


@dataclass(frozen=True)
class Analogy:
    model: str
    words: list[WordScore]  # best first, the query words left out

    @property
    def best(self) -> str:
        return self.words[0].word


class PictureAnswer:
    """A result that is a picture (stylize, upscale, dream): `image_png`, and `image()`."""

    image_png: bytes

    def image(self) -> Image.Image:
        """The answer as a PIL image."""
        return Image.open(io.BytesIO(self.image_png))


@dataclass(frozen=True)
class Stylized(PictureAnswer):
    model: str
    image_png: bytes
    style: str  # the style's name; "painting" for a style image
    width: int
    height: int
    styles: list[str]  # the model's built-in styles, index order


@dataclass(frozen=True)
class Upscaled(PictureAnswer):
    model: str
    image_png: bytes
    width: int
    height: int
    scale: int  # the answer is this many times wider and taller than the photo


@dataclass(frozen=True)
class Dreamed(PictureAnswer):
    model: str
    image_png: bytes
    width: int
    height: int
    layer: str  # the layer dreamt of
    layers: list[str]  # the model's layers, shallow to deep
    score: float  # mean squared activation of the layer after the last step


@dataclass(frozen=True)
class Game:
    """One game the agent played; `animation_gif` shows it (empty when not asked for)."""

    model: str
    game: str
    seed: int  # send it again to replay this game
    score: int
    frames: int
    game_over: bool  # the ball was lost (False: stopped at max_frames)
    actions: str  # one letter a frame: s (stay), l (left), r (right)
    animation_gif: bytes


@dataclass(frozen=True)
class Handwriting:
    """A text the handwriting model wrote: its strokes (pen-down lines of (x, y) points, y
    down) and, unless left out, the writing as SVG and PNG."""

    model: str
    text: str
    style: str
    bias: float
    seed: int  # send it again (same text, style and bias) to repeat the writing
    strokes: list[list[tuple[float, float]]]
    steps: int  # pen points drawn
    finished: bool  # the pen reached the end of the text (False: the step limit stopped it)
    svg: str
    png: bytes
    styles: list[str]  # the model's styles
    alphabet: str  # what it can write


@dataclass(frozen=True)
class TaskProgress:
    """How far a streamed request that asked for progress (dream, play, write) has got; its
    result comes after."""

    done: int
    total: int
    unit: str  # "gradient steps", "frames", "pen points"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    task: str
    description: str
    is_default: bool


@dataclass(frozen=True)
class TaskInfo:
    task: str
    default_model: str
    models: list[str]


@dataclass(frozen=True)
class ModelList:
    tasks: list[TaskInfo]
    models: list[ModelInfo]


Result = (Classification | Detections | Segmentation | Caption | Answers | Transcript | Poses
          | TextReading | Analogy | Stylized | Upscaled | Dreamed | Game | Handwriting)


def to_jsonable(result: Result | ModelList) -> dict:
    """A result as plain data for --json (pictures and animations left out)."""
    data = asdict(result)
    for picture in ("class_map_png", "image_png", "animation_gif", "png", "svg"):
        data.pop(picture, None)
    return data


def classification(response: pb.ClassifyResponse) -> Classification:
    classes = [ClassScore(c.index, c.label, c.score) for c in response.classes]
    return Classification(response.model.name, classes)


def detections(response: pb.DetectResponse) -> Detections:
    found = [Detection(Box(d.box.x1, d.box.y1, d.box.x2, d.box.y2), d.index, d.label, d.score)
             for d in response.detections]
    return Detections(response.model.name, found, response.width, response.height)


def segmentation(response: pb.SegmentResponse) -> Segmentation:
    shares = [ClassShare(s.index, s.label, s.pixel_fraction) for s in response.shares]
    return Segmentation(response.model.name, response.class_map_png, list(response.class_names),
                        shares, response.width, response.height)


def caption(response: pb.CaptionResponse) -> Caption:
    return Caption(response.model.name, response.caption, response.log_probability)


def answers(response: pb.AnswerQuestionResponse) -> Answers:
    return Answers(response.model.name, [Answer(a.text, a.score) for a in response.answers])


def transcript(response: pb.TranscribeResponse) -> Transcript:
    segments = [TranscriptSegment(s.start_s, s.end_s, s.text) for s in response.segments]
    return Transcript(response.model.name, response.text, segments, response.duration_s,
                      response.language or "en", response.language_probability)


def _point(point: pb.Point) -> Point:
    return Point(point.x, point.y)


def poses(response: pb.EstimatePoseResponse) -> Poses:
    people = [Person([Keypoint(k.name, _point(k.position), k.score) for k in p.keypoints],
                     p.score, Box(p.box.x1, p.box.y1, p.box.x2, p.box.y2))
              for p in response.people]
    skeleton = [(edge.start, edge.end) for edge in response.skeleton]
    return Poses(response.model.name, people, list(response.keypoint_names), skeleton,
                 response.width, response.height)


def text_reading(response: pb.ReadTextResponse) -> TextReading:
    lines = [TextLine([_point(p) for p in line.polygon], line.text, line.score,
                      line.upside_down) for line in response.lines]
    return TextReading(response.model.name, lines, response.width, response.height)


def analogy(response: pb.AnalogyResponse) -> Analogy:
    return Analogy(response.model.name, [WordScore(w.word, w.score) for w in response.words])


def stylized(response: pb.StylizeResponse) -> Stylized:
    return Stylized(response.model.name, response.image_png, response.style, response.width,
                    response.height, list(response.styles))


def upscaled(response: pb.UpscaleResponse) -> Upscaled:
    return Upscaled(response.model.name, response.image_png, response.width, response.height,
                    response.scale)


def dreamed(response: pb.DreamResponse) -> Dreamed:
    return Dreamed(response.model.name, response.image_png, response.width, response.height,
                   response.layer, list(response.layers), response.score)


ACTION_LETTERS = "slr"  # stay, left, right: PlayResponse.actions' 0, 1, 2


def game(response: pb.PlayResponse) -> Game:
    actions = "".join(ACTION_LETTERS[a] if a < len(ACTION_LETTERS) else "?"
                      for a in response.actions)
    return Game(response.model.name, response.game, response.seed, response.score,
                response.frames, response.game_over, actions, response.animation_gif)


def handwriting(response: pb.WriteResponse) -> Handwriting:
    strokes = [list(zip(stroke.x, stroke.y, strict=True)) for stroke in response.strokes]
    return Handwriting(response.model.name, response.text, response.style, response.bias,
                       response.seed, strokes, response.steps, response.finished, response.svg,
                       response.png, list(response.styles), response.alphabet)


def model_list(response: pb.ListModelsResponse) -> ModelList:
    tasks = [TaskInfo(t.task, t.default_model, list(t.models)) for t in response.tasks]
    models = [ModelInfo(m.name, m.version, m.task, m.description, m.is_default)
              for m in response.models]
    return ModelList(tasks, models)
