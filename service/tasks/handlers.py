"""Task requests to task responses: the one place both transports call.

The gRPC servicer (servicer.py) and the HTTP task routes (service/http/tasks.py) pass the same
request messages to `TaskHandlers` and send back the same response messages, so the two APIs
answer alike by construction. Errors are raised as `StriateError`s; each transport maps them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from contract.protocol import striate_tasks_pb2 as pb

from ..core import InferenceCore
from ..repository import LoadedModel
from .analogy import analogy
from .caption import caption
from .classify import ClassScore, classify
from .detect import detect
from .dream import DreamOptions, dream, dream_model
from .limits import TaskLimits
from .models import TASKS, default_model, resolve_model, task_of
from .ocr import read_text
from .play import PlayOptions, play, play_model
from .pose import estimate_pose
from .progress import Progress, no_progress
from .segment import segment
from .speech import speech_model, transcribe
from .stylize import stylize
from .upscale import upscale, upscale_model
from .vqa import answer_question
from .write import WriteOptions, write, write_model

Handler = Callable[..., Awaitable[Any]]  # a task's request message (and for REPORTS_PROGRESS,
# a Progress report) -> its response message

REPORTS_PROGRESS = {"dream": "gradient steps", "play": "frames", "write": "pen points"}
"""The tasks whose handlers take a `progress` report, and what they count."""

TASK_OF_KIND: dict[str, str] = {
    "classify": "classification", "detect": "detection", "segment": "segmentation",
    "caption": "captioning", "answer_question": "vqa", "transcribe": "speech",
    "read_text": "ocr", "estimate_pose": "pose", "analogy": "analogy",
    "stylize": "stylize", "upscale": "upscale", "dream": "dream", "play": "play",
    "write": "write",
}
"""TaskRequest's `request` oneof names (the HTTP routes too) -> the model-folder task served."""


def _model_ref(model: LoadedModel) -> pb.ModelRef:
    return pb.ModelRef(name=model.name, version=str(model.version))


def _classes(scores: list[ClassScore]) -> list[pb.ClassScore]:
    return [pb.ClassScore(index=s.index, label=s.label, score=s.score) for s in scores]


class TaskHandlers:
    """One async method per task over the shared InferenceCore, plus ListModels."""

    def __init__(self, core: InferenceCore, limits: TaskLimits | None = None) -> None:
        self.core = core
        self.limits = limits or TaskLimits()

    def _model(self, kind: str, request: Any) -> LoadedModel:
        return resolve_model(self.core, TASK_OF_KIND[kind], request.model, request.version)

    def by_kind(self) -> dict[str, Handler]:
        """The handlers keyed by TaskRequest's `request` oneof names (classify, detect, ...)."""
        return {"classify": self.classify, "detect": self.detect, "segment": self.segment,
                "caption": self.caption, "answer_question": self.answer_question,
                "transcribe": self.transcribe, "read_text": self.read_text,
                "estimate_pose": self.estimate_pose, "analogy": self.analogy,
                "stylize": self.stylize, "upscale": self.upscale, "dream": self.dream,
                "play": self.play, "write": self.write}

    async def classify(self, request: pb.ClassifyRequest) -> pb.ClassifyResponse:
        model = self._model("classify", request)
        scores = await classify(self.core, model, request.image, request.top_k or 5, self.limits)
        return pb.ClassifyResponse(model=_model_ref(model), classes=_classes(scores))

    async def detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
        model = self._model("detect", request)
        threshold = request.score_threshold if request.HasField("score_threshold") else None
        result = await detect(self.core, model, request.image, threshold,
                              request.max_detections, self.limits)
        detections = [
            pb.Detection(box=pb.Box(x1=d.box[0], y1=d.box[1], x2=d.box[2], y2=d.box[3]),
                         index=d.index, label=d.label, score=d.score)
            for d in result.detections
        ]
        return pb.DetectResponse(model=_model_ref(model), detections=detections,
                                 width=result.width, height=result.height)

    async def segment(self, request: pb.SegmentRequest) -> pb.SegmentResponse:
        model = self._model("segment", request)
        result = await segment(self.core, model, request.image, self.limits)
        shares = [pb.ClassShare(index=s.index, label=s.label, pixel_fraction=s.pixel_fraction)
                  for s in result.shares]
        return pb.SegmentResponse(model=_model_ref(model), class_map_png=result.class_map_png,
                                  class_names=result.class_names, shares=shares,
                                  width=result.width, height=result.height)

    async def caption(self, request: pb.CaptionRequest) -> pb.CaptionResponse:
        model = self._model("caption", request)
        result = await caption(self.core, model, request.image, request.max_tokens,
                               request.beam_width, self.limits)
        return pb.CaptionResponse(model=_model_ref(model), caption=result.caption,
                                  log_probability=result.log_probability)

    async def answer_question(self, request: pb.AnswerQuestionRequest
                              ) -> pb.AnswerQuestionResponse:
        model = self._model("answer_question", request)
        scores = await answer_question(self.core, model, request.image, request.question,
                                       request.top_k or 3, self.limits)
        answers = [pb.Answer(text=s.label, score=s.score) for s in scores]
        return pb.AnswerQuestionResponse(model=_model_ref(model), answers=answers)

    async def transcribe(self, request: pb.TranscribeRequest) -> pb.TranscribeResponse:
        model = speech_model(self.core, request.model, request.version, request.language,
                             request.translate)
        result = await transcribe(self.core, model, request.audio, self.limits,
                                  request.beam_width, language=request.language,
                                  translate=request.translate)
        segments = [pb.TranscriptSegment(start_s=s.start_s, end_s=s.end_s, text=s.text)
                    for s in result.segments]
        return pb.TranscribeResponse(model=_model_ref(model), text=result.text,
                                     segments=segments, duration_s=result.duration_s,
                                     language=result.language,
                                     language_probability=result.language_probability)

    async def estimate_pose(self, request: pb.EstimatePoseRequest) -> pb.EstimatePoseResponse:
        model = self._model("estimate_pose", request)
        threshold = request.score_threshold if request.HasField("score_threshold") else None
        result = await estimate_pose(self.core, model, request.image, threshold,
                                     request.max_people, self.limits)
        people = [
            pb.Person(keypoints=[pb.Keypoint(name=k.name, position=pb.Point(x=k.x, y=k.y),
                                             score=k.score) for k in person.keypoints],
                      score=person.score,
                      box=pb.Box(x1=person.box[0], y1=person.box[1], x2=person.box[2],
                                 y2=person.box[3]))
            for person in result.people
        ]
        skeleton = [pb.SkeletonEdge(start=a, end=b) for a, b in result.skeleton]
        return pb.EstimatePoseResponse(model=_model_ref(model), people=people,
                                       keypoint_names=result.keypoint_names, skeleton=skeleton,
                                       width=result.width, height=result.height)

    async def read_text(self, request: pb.ReadTextRequest) -> pb.ReadTextResponse:
        model = self._model("read_text", request)
        result = await read_text(self.core, model, request.image, self.limits)
        lines = [pb.TextLine(polygon=[pb.Point(x=x, y=y) for x, y in line.polygon],
                             text=line.text, score=line.score, upside_down=line.upside_down)
                 for line in result.lines]
        return pb.ReadTextResponse(model=_model_ref(model), lines=lines, width=result.width,
                                   height=result.height)

    async def analogy(self, request: pb.AnalogyRequest) -> pb.AnalogyResponse:
        model = self._model("analogy", request)
        found = await analogy(self.core, model, request.word, request.minus, request.plus,
                              request.top_k)
        return pb.AnalogyResponse(model=_model_ref(model),
                                  words=[pb.WordScore(word=w.word, score=w.score) for w in found])

    async def stylize(self, request: pb.StylizeRequest) -> pb.StylizeResponse:
        model, result = await stylize(self.core, self._model("stylize", request), request.image,
                                      request.style, request.style_image, self.limits,
                                      named=bool(request.model))
        return pb.StylizeResponse(model=_model_ref(model), image_png=result.png,
                                  style=result.style, width=result.width,
                                  height=result.height, styles=result.styles)

    async def upscale(self, request: pb.UpscaleRequest) -> pb.UpscaleResponse:
        model = upscale_model(self.core, request.model, request.version, request.scale)
        result = await upscale(self.core, model, request.image, self.limits)
        return pb.UpscaleResponse(model=_model_ref(model), image_png=result.png,
                                  width=result.width, height=result.height, scale=result.scale)

    async def dream(self, request: pb.DreamRequest,
                    progress: Progress = no_progress) -> pb.DreamResponse:
        model = dream_model(self.core, request.model, request.version)
        options = DreamOptions(request.layer, request.octaves, request.iterations, request.step)
        result = await dream(self.core, model, request.image, options, self.limits, progress)
        return pb.DreamResponse(model=_model_ref(model), image_png=result.png, width=result.width,
                                height=result.height, layer=result.layer, layers=result.layers,
                                score=result.score)

    async def play(self, request: pb.PlayRequest,
                   progress: Progress = no_progress) -> pb.PlayResponse:
        model = play_model(self.core, request.model, request.version)
        options = PlayOptions(request.seed, request.max_frames, request.exploration,
                              sticky_actions=not request.no_sticky_actions,
                              animation=not request.no_animation)
        game = await play(self.core, model, options, progress)
        return pb.PlayResponse(model=_model_ref(model), game=game.game, seed=game.seed,
                               score=game.score, frames=game.frames, game_over=game.over,
                               actions=game.actions, animation_gif=game.gif)

    async def write(self, request: pb.WriteRequest,
                    progress: Progress = no_progress) -> pb.WriteResponse:
        model = write_model(self.core, request.model, request.version)
        options = WriteOptions(request.style, request.bias if request.HasField("bias") else None,
                               request.seed, drawing=not request.no_drawing)
        result = await write(self.core, model, request.text, options, progress)
        return pb.WriteResponse(
            model=_model_ref(model), text=result.text, style=result.style, bias=result.bias,
            seed=result.seed, steps=result.steps, finished=result.finished, svg=result.svg,
            png=result.png, styles=result.styles, alphabet=result.alphabet,
            strokes=[pb.PenStroke(x=stroke[:, 0].tolist(), y=stroke[:, 1].tolist())
                     for stroke in result.strokes])

    def list_models(self) -> pb.ListModelsResponse:
        models = self.core.models()
        response = pb.ListModelsResponse()
        for task in TASKS:
            serving = sorted(m.name for m in models if task_of(m) == task)
            default = default_model(models, task)
            if serving and default is not None:
                response.tasks.add(task=task, default_model=default.name, models=serving)
        defaults = {summary.task: summary.default_model for summary in response.tasks}
        for model in sorted(models, key=lambda m: m.name):
            response.models.add(name=model.name, version=str(model.version),
                                task=task_of(model), description=model.metadata.description,
                                is_default=defaults.get(task_of(model)) == model.name)
        return response
