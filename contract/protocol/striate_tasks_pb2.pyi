from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelRef(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("model", "version", "image", "top_k")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    top_k: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., top_k: _Optional[int] = ...) -> None: ...

class ClassScore(_message.Message):
    __slots__ = ("index", "label", "score")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    index: int
    label: str
    score: float
    def __init__(self, index: _Optional[int] = ..., label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("model", "classes")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    classes: _containers.RepeatedCompositeFieldContainer[ClassScore]
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., classes: _Optional[_Iterable[_Union[ClassScore, _Mapping]]] = ...) -> None: ...

class DetectRequest(_message.Message):
    __slots__ = ("model", "version", "image", "score_threshold", "max_detections")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    score_threshold: float
    max_detections: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., score_threshold: _Optional[float] = ..., max_detections: _Optional[int] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x1", "y1", "x2", "y2")
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    X2_FIELD_NUMBER: _ClassVar[int]
    Y2_FIELD_NUMBER: _ClassVar[int]
    x1: float
    y1: float
    x2: float
    y2: float
    def __init__(self, x1: _Optional[float] = ..., y1: _Optional[float] = ..., x2: _Optional[float] = ..., y2: _Optional[float] = ...) -> None: ...

class Detection(_message.Message):
    __slots__ = ("box", "index", "label", "score")
    BOX_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    box: Box
    index: int
    label: str
    score: float
    def __init__(self, box: _Optional[_Union[Box, _Mapping]] = ..., index: _Optional[int] = ..., label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class DetectResponse(_message.Message):
    __slots__ = ("model", "detections", "width", "height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    detections: _containers.RepeatedCompositeFieldContainer[Detection]
    width: int
    height: int
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., detections: _Optional[_Iterable[_Union[Detection, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class SegmentRequest(_message.Message):
    __slots__ = ("model", "version", "image")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ...) -> None: ...

class ClassShare(_message.Message):
    __slots__ = ("index", "label", "pixel_fraction")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PIXEL_FRACTION_FIELD_NUMBER: _ClassVar[int]
    index: int
    label: str
    pixel_fraction: float
    def __init__(self, index: _Optional[int] = ..., label: _Optional[str] = ..., pixel_fraction: _Optional[float] = ...) -> None: ...

class SegmentResponse(_message.Message):
    __slots__ = ("model", "class_map_png", "class_names", "shares", "width", "height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CLASS_MAP_PNG_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    class_map_png: bytes
    class_names: _containers.RepeatedScalarFieldContainer[str]
    shares: _containers.RepeatedCompositeFieldContainer[ClassShare]
    width: int
    height: int
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., class_map_png: _Optional[bytes] = ..., class_names: _Optional[_Iterable[str]] = ..., shares: _Optional[_Iterable[_Union[ClassShare, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class CaptionRequest(_message.Message):
    __slots__ = ("model", "version", "image", "max_tokens", "beam_width")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    BEAM_WIDTH_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    max_tokens: int
    beam_width: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., max_tokens: _Optional[int] = ..., beam_width: _Optional[int] = ...) -> None: ...

class CaptionResponse(_message.Message):
    __slots__ = ("model", "caption", "log_probability")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    LOG_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    caption: str
    log_probability: float
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., caption: _Optional[str] = ..., log_probability: _Optional[float] = ...) -> None: ...

class AnswerQuestionRequest(_message.Message):
    __slots__ = ("model", "version", "image", "question", "top_k")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    question: str
    top_k: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., question: _Optional[str] = ..., top_k: _Optional[int] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("text", "score")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    text: str
    score: float
    def __init__(self, text: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class AnswerQuestionResponse(_message.Message):
    __slots__ = ("model", "answers")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    answers: _containers.RepeatedCompositeFieldContainer[Answer]
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., answers: _Optional[_Iterable[_Union[Answer, _Mapping]]] = ...) -> None: ...

class TranscribeRequest(_message.Message):
    __slots__ = ("model", "version", "audio", "beam_width", "language", "translate")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    BEAM_WIDTH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    audio: bytes
    beam_width: int
    language: str
    translate: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., audio: _Optional[bytes] = ..., beam_width: _Optional[int] = ..., language: _Optional[str] = ..., translate: _Optional[bool] = ...) -> None: ...

class TranscriptSegment(_message.Message):
    __slots__ = ("start_s", "end_s", "text")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    text: str
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ("model", "text", "segments", "duration_s", "language", "language_probability")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    text: str
    segments: _containers.RepeatedCompositeFieldContainer[TranscriptSegment]
    duration_s: float
    language: str
    language_probability: float
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., text: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[TranscriptSegment, _Mapping]]] = ..., duration_s: _Optional[float] = ..., language: _Optional[str] = ..., language_probability: _Optional[float] = ...) -> None: ...

class EstimatePoseRequest(_message.Message):
    __slots__ = ("model", "version", "image", "score_threshold", "max_people")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_PEOPLE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    score_threshold: float
    max_people: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., score_threshold: _Optional[float] = ..., max_people: _Optional[int] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Keypoint(_message.Message):
    __slots__ = ("name", "position", "score")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    name: str
    position: Point
    score: float
    def __init__(self, name: _Optional[str] = ..., position: _Optional[_Union[Point, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("keypoints", "score", "box")
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    keypoints: _containers.RepeatedCompositeFieldContainer[Keypoint]
    score: float
    box: Box
    def __init__(self, keypoints: _Optional[_Iterable[_Union[Keypoint, _Mapping]]] = ..., score: _Optional[float] = ..., box: _Optional[_Union[Box, _Mapping]] = ...) -> None: ...

class SkeletonEdge(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class EstimatePoseResponse(_message.Message):
    __slots__ = ("model", "people", "keypoint_names", "skeleton", "width", "height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    KEYPOINT_NAMES_FIELD_NUMBER: _ClassVar[int]
    SKELETON_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    people: _containers.RepeatedCompositeFieldContainer[Person]
    keypoint_names: _containers.RepeatedScalarFieldContainer[str]
    skeleton: _containers.RepeatedCompositeFieldContainer[SkeletonEdge]
    width: int
    height: int
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., people: _Optional[_Iterable[_Union[Person, _Mapping]]] = ..., keypoint_names: _Optional[_Iterable[str]] = ..., skeleton: _Optional[_Iterable[_Union[SkeletonEdge, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ReadTextRequest(_message.Message):
    __slots__ = ("model", "version", "image")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ...) -> None: ...

class TextLine(_message.Message):
    __slots__ = ("polygon", "text", "score", "upside_down")
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    UPSIDE_DOWN_FIELD_NUMBER: _ClassVar[int]
    polygon: _containers.RepeatedCompositeFieldContainer[Point]
    text: str
    score: float
    upside_down: bool
    def __init__(self, polygon: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., text: _Optional[str] = ..., score: _Optional[float] = ..., upside_down: _Optional[bool] = ...) -> None: ...

class ReadTextResponse(_message.Message):
    __slots__ = ("model", "lines", "width", "height")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    lines: _containers.RepeatedCompositeFieldContainer[TextLine]
    width: int
    height: int
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[TextLine, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class AnalogyRequest(_message.Message):
    __slots__ = ("model", "version", "word", "minus", "plus", "top_k")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WORD_FIELD_NUMBER: _ClassVar[int]
    MINUS_FIELD_NUMBER: _ClassVar[int]
    PLUS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    word: str
    minus: str
    plus: str
    top_k: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., word: _Optional[str] = ..., minus: _Optional[str] = ..., plus: _Optional[str] = ..., top_k: _Optional[int] = ...) -> None: ...

class WordScore(_message.Message):
    __slots__ = ("word", "score")
    WORD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    word: str
    score: float
    def __init__(self, word: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class AnalogyResponse(_message.Message):
    __slots__ = ("model", "words")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    words: _containers.RepeatedCompositeFieldContainer[WordScore]
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., words: _Optional[_Iterable[_Union[WordScore, _Mapping]]] = ...) -> None: ...

class StylizeRequest(_message.Message):
    __slots__ = ("model", "version", "image", "style", "style_image")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    STYLE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    style: str
    style_image: bytes
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., style: _Optional[str] = ..., style_image: _Optional[bytes] = ...) -> None: ...

class StylizeResponse(_message.Message):
    __slots__ = ("model", "image_png", "style", "width", "height", "styles")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PNG_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    image_png: bytes
    style: str
    width: int
    height: int
    styles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., image_png: _Optional[bytes] = ..., style: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., styles: _Optional[_Iterable[str]] = ...) -> None: ...

class UpscaleRequest(_message.Message):
    __slots__ = ("model", "version", "image", "scale")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    scale: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., scale: _Optional[int] = ...) -> None: ...

class UpscaleResponse(_message.Message):
    __slots__ = ("model", "image_png", "width", "height", "scale")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    image_png: bytes
    width: int
    height: int
    scale: int
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., image_png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., scale: _Optional[int] = ...) -> None: ...

class DreamRequest(_message.Message):
    __slots__ = ("model", "version", "image", "layer", "octaves", "iterations", "step")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    OCTAVES_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    image: bytes
    layer: str
    octaves: int
    iterations: int
    step: float
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., image: _Optional[bytes] = ..., layer: _Optional[str] = ..., octaves: _Optional[int] = ..., iterations: _Optional[int] = ..., step: _Optional[float] = ...) -> None: ...

class DreamResponse(_message.Message):
    __slots__ = ("model", "image_png", "width", "height", "layer", "layers", "score")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    image_png: bytes
    width: int
    height: int
    layer: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    score: float
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., image_png: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., layer: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ...) -> None: ...

class PlayRequest(_message.Message):
    __slots__ = ("model", "version", "seed", "max_frames", "exploration", "no_sticky_actions", "no_animation")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAMES_FIELD_NUMBER: _ClassVar[int]
    EXPLORATION_FIELD_NUMBER: _ClassVar[int]
    NO_STICKY_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    NO_ANIMATION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    seed: int
    max_frames: int
    exploration: float
    no_sticky_actions: bool
    no_animation: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., seed: _Optional[int] = ..., max_frames: _Optional[int] = ..., exploration: _Optional[float] = ..., no_sticky_actions: _Optional[bool] = ..., no_animation: _Optional[bool] = ...) -> None: ...

class PlayResponse(_message.Message):
    __slots__ = ("model", "game", "seed", "score", "frames", "game_over", "actions", "animation_gif")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GAME_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    GAME_OVER_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ANIMATION_GIF_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    game: str
    seed: int
    score: int
    frames: int
    game_over: bool
    actions: bytes
    animation_gif: bytes
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., game: _Optional[str] = ..., seed: _Optional[int] = ..., score: _Optional[int] = ..., frames: _Optional[int] = ..., game_over: _Optional[bool] = ..., actions: _Optional[bytes] = ..., animation_gif: _Optional[bytes] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("model", "version", "text", "style", "bias", "seed", "no_drawing")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NO_DRAWING_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    text: str
    style: str
    bias: float
    seed: int
    no_drawing: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., text: _Optional[str] = ..., style: _Optional[str] = ..., bias: _Optional[float] = ..., seed: _Optional[int] = ..., no_drawing: _Optional[bool] = ...) -> None: ...

class PenStroke(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: _containers.RepeatedScalarFieldContainer[float]
    y: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, x: _Optional[_Iterable[float]] = ..., y: _Optional[_Iterable[float]] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("model", "text", "style", "bias", "seed", "strokes", "steps", "finished", "svg", "png", "styles", "alphabet")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STROKES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    SVG_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    ALPHABET_FIELD_NUMBER: _ClassVar[int]
    model: ModelRef
    text: str
    style: str
    bias: float
    seed: int
    strokes: _containers.RepeatedCompositeFieldContainer[PenStroke]
    steps: int
    finished: bool
    svg: str
    png: bytes
    styles: _containers.RepeatedScalarFieldContainer[str]
    alphabet: str
    def __init__(self, model: _Optional[_Union[ModelRef, _Mapping]] = ..., text: _Optional[str] = ..., style: _Optional[str] = ..., bias: _Optional[float] = ..., seed: _Optional[int] = ..., strokes: _Optional[_Iterable[_Union[PenStroke, _Mapping]]] = ..., steps: _Optional[int] = ..., finished: _Optional[bool] = ..., svg: _Optional[str] = ..., png: _Optional[bytes] = ..., styles: _Optional[_Iterable[str]] = ..., alphabet: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelSummary(_message.Message):
    __slots__ = ("name", "version", "task", "description", "is_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    task: str
    description: str
    is_default: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., task: _Optional[str] = ..., description: _Optional[str] = ..., is_default: _Optional[bool] = ...) -> None: ...

class TaskSummary(_message.Message):
    __slots__ = ("task", "default_model", "models")
    TASK_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    task: str
    default_model: str
    models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., default_model: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("tasks", "models")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSummary]
    models: _containers.RepeatedCompositeFieldContainer[ModelSummary]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskSummary, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[ModelSummary, _Mapping]]] = ...) -> None: ...

class TaskRequest(_message.Message):
    __slots__ = ("id", "classify", "detect", "segment", "caption", "answer_question", "transcribe", "estimate_pose", "read_text", "analogy", "stylize", "upscale", "dream", "play", "write", "progress")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    DETECT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_QUESTION_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIBE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_POSE_FIELD_NUMBER: _ClassVar[int]
    READ_TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALOGY_FIELD_NUMBER: _ClassVar[int]
    STYLIZE_FIELD_NUMBER: _ClassVar[int]
    UPSCALE_FIELD_NUMBER: _ClassVar[int]
    DREAM_FIELD_NUMBER: _ClassVar[int]
    PLAY_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    id: str
    classify: ClassifyRequest
    detect: DetectRequest
    segment: SegmentRequest
    caption: CaptionRequest
    answer_question: AnswerQuestionRequest
    transcribe: TranscribeRequest
    estimate_pose: EstimatePoseRequest
    read_text: ReadTextRequest
    analogy: AnalogyRequest
    stylize: StylizeRequest
    upscale: UpscaleRequest
    dream: DreamRequest
    play: PlayRequest
    write: WriteRequest
    progress: bool
    def __init__(self, id: _Optional[str] = ..., classify: _Optional[_Union[ClassifyRequest, _Mapping]] = ..., detect: _Optional[_Union[DetectRequest, _Mapping]] = ..., segment: _Optional[_Union[SegmentRequest, _Mapping]] = ..., caption: _Optional[_Union[CaptionRequest, _Mapping]] = ..., answer_question: _Optional[_Union[AnswerQuestionRequest, _Mapping]] = ..., transcribe: _Optional[_Union[TranscribeRequest, _Mapping]] = ..., estimate_pose: _Optional[_Union[EstimatePoseRequest, _Mapping]] = ..., read_text: _Optional[_Union[ReadTextRequest, _Mapping]] = ..., analogy: _Optional[_Union[AnalogyRequest, _Mapping]] = ..., stylize: _Optional[_Union[StylizeRequest, _Mapping]] = ..., upscale: _Optional[_Union[UpscaleRequest, _Mapping]] = ..., dream: _Optional[_Union[DreamRequest, _Mapping]] = ..., play: _Optional[_Union[PlayRequest, _Mapping]] = ..., write: _Optional[_Union[WriteRequest, _Mapping]] = ..., progress: _Optional[bool] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class TaskProgress(_message.Message):
    __slots__ = ("done", "total", "unit")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    unit: str
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ..., unit: _Optional[str] = ...) -> None: ...

class TaskResponse(_message.Message):
    __slots__ = ("id", "classify", "detect", "segment", "caption", "answer_question", "transcribe", "error", "estimate_pose", "read_text", "analogy", "stylize", "upscale", "dream", "play", "progress", "write")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    DETECT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_QUESTION_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIBE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_POSE_FIELD_NUMBER: _ClassVar[int]
    READ_TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALOGY_FIELD_NUMBER: _ClassVar[int]
    STYLIZE_FIELD_NUMBER: _ClassVar[int]
    UPSCALE_FIELD_NUMBER: _ClassVar[int]
    DREAM_FIELD_NUMBER: _ClassVar[int]
    PLAY_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    id: str
    classify: ClassifyResponse
    detect: DetectResponse
    segment: SegmentResponse
    caption: CaptionResponse
    answer_question: AnswerQuestionResponse
    transcribe: TranscribeResponse
    error: TaskError
    estimate_pose: EstimatePoseResponse
    read_text: ReadTextResponse
    analogy: AnalogyResponse
    stylize: StylizeResponse
    upscale: UpscaleResponse
    dream: DreamResponse
    play: PlayResponse
    progress: TaskProgress
    write: WriteResponse
    def __init__(self, id: _Optional[str] = ..., classify: _Optional[_Union[ClassifyResponse, _Mapping]] = ..., detect: _Optional[_Union[DetectResponse, _Mapping]] = ..., segment: _Optional[_Union[SegmentResponse, _Mapping]] = ..., caption: _Optional[_Union[CaptionResponse, _Mapping]] = ..., answer_question: _Optional[_Union[AnswerQuestionResponse, _Mapping]] = ..., transcribe: _Optional[_Union[TranscribeResponse, _Mapping]] = ..., error: _Optional[_Union[TaskError, _Mapping]] = ..., estimate_pose: _Optional[_Union[EstimatePoseResponse, _Mapping]] = ..., read_text: _Optional[_Union[ReadTextResponse, _Mapping]] = ..., analogy: _Optional[_Union[AnalogyResponse, _Mapping]] = ..., stylize: _Optional[_Union[StylizeResponse, _Mapping]] = ..., upscale: _Optional[_Union[UpscaleResponse, _Mapping]] = ..., dream: _Optional[_Union[DreamResponse, _Mapping]] = ..., play: _Optional[_Union[PlayResponse, _Mapping]] = ..., progress: _Optional[_Union[TaskProgress, _Mapping]] = ..., write: _Optional[_Union[WriteResponse, _Mapping]] = ...) -> None: ...
