"""Typed clients of the task API: `Client` (blocking) and `AsyncClient` (asyncio), same methods.

    from clients import Client
    with Client("localhost:8001") as client:
        print(client.classify("digit.png").top)

Every method takes the input as bytes or a file path, may name a `model` (else the task's
default serves it) and returns a dataclass from `clients.results`; a failed call raises
`ClientError` carrying the gRPC status code and the server's message.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from contract.protocol import striate_tasks_pb2 as pb
from contract.protocol import striate_tasks_pb2_grpc as pb_grpc

from . import results
from .results import (
    Analogy,
    Answers,
    Caption,
    Classification,
    ClientError,
    Detections,
    Dreamed,
    Game,
    Handwriting,
    ModelList,
    Poses,
    Result,
    Segmentation,
    Stylized,
    TaskProgress,
    TextReading,
    Transcript,
    Upscaled,
)

DEFAULT_SERVER = "localhost:8001"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
Input = bytes | str | os.PathLike


@dataclass(frozen=True)
class _TaskSpec:
    rpc: str  # TaskService method
    field: str  # name in TaskRequest / TaskResponse
    request: type
    convert: Any  # response message -> result dataclass
    payload: str = "image"  # the request's file field; "" for a task without a file


TASKS: dict[str, _TaskSpec] = {
    "classify": _TaskSpec("Classify", "classify", pb.ClassifyRequest, results.classification),
    "detect": _TaskSpec("Detect", "detect", pb.DetectRequest, results.detections),
    "segment": _TaskSpec("Segment", "segment", pb.SegmentRequest, results.segmentation),
    "caption": _TaskSpec("Caption", "caption", pb.CaptionRequest, results.caption),
    "ask": _TaskSpec("AnswerQuestion", "answer_question", pb.AnswerQuestionRequest,
                     results.answers),
    "transcribe": _TaskSpec("Transcribe", "transcribe", pb.TranscribeRequest, results.transcript,
                            payload="audio"),
    "pose": _TaskSpec("EstimatePose", "estimate_pose", pb.EstimatePoseRequest, results.poses),
    "read": _TaskSpec("ReadText", "read_text", pb.ReadTextRequest, results.text_reading),
    "analogy": _TaskSpec("Analogy", "analogy", pb.AnalogyRequest, results.analogy, payload=""),
    "stylize": _TaskSpec("Stylize", "stylize", pb.StylizeRequest, results.stylized),
    "upscale": _TaskSpec("Upscale", "upscale", pb.UpscaleRequest, results.upscaled),
    "dream": _TaskSpec("Dream", "dream", pb.DreamRequest, results.dreamed),
    "play": _TaskSpec("Play", "play", pb.PlayRequest, results.game, payload=""),
    "write": _TaskSpec("Write", "write", pb.WriteRequest, results.handwriting, payload=""),
}


@dataclass(frozen=True)
class StreamItem:
    """One request of a stream: `task` is a key of TASKS; options are the request's fields.
    With `progress`, a dream or a game also yields TaskProgress items before its result."""

    id: str
    task: str
    data: Input
    model: str = ""
    version: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    progress: bool = False


def read_input(data: Input) -> bytes:
    """Bytes as they are; a path's file contents."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return Path(data).read_bytes()


def make_request(task: str, data: Input, model: str = "", version: str = "", **options: Any):
    """The protocol request of a task (options with value None are left unset)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    spec = TASKS[task]
    fields = {name: value for name, value in options.items() if value is not None}
    if fields.get("style_image") is not None:
        fields["style_image"] = read_input(fields["style_image"])
    payload = {spec.payload: read_input(data)} if spec.payload else {}
    return spec.request(model=model, version=version, **payload, **fields)


def _stream_request(item: StreamItem) -> pb.TaskRequest:
    request = make_request(item.task, item.data, item.model, item.version, **item.options)
    return pb.TaskRequest(id=item.id, progress=item.progress,
                          **{TASKS[item.task].field: request})


StreamOutcome = Result | ClientError | TaskProgress


def _stream_result(response: pb.TaskResponse) -> tuple[str, StreamOutcome]:
    kind = response.WhichOneof("result")
    if kind == "error" or kind is None:
        return response.id, ClientError.from_task_error(response.error)
    if kind == "progress":
        report = response.progress
        return response.id, TaskProgress(report.done, report.total, report.unit)
    spec = next(s for s in TASKS.values() if s.field == kind)
    return response.id, spec.convert(getattr(response, kind))


def _channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)]


class Client:
    """Blocking client of the task API. Use as a context manager, or call close()."""

    def __init__(self, server: str = DEFAULT_SERVER, *, timeout_s: float | None = 120.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._channel = grpc.insecure_channel(server, options=_channel_options(max_message_bytes))
        self._stub = pb_grpc.TaskServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _call(self, task: str, data: Input, model: str, version: str, **options: Any):
        spec = TASKS[task]
        request = make_request(task, data, model, version, **options)
        try:
            response = getattr(self._stub, spec.rpc)(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None
        return spec.convert(response)

    def classify(self, image: Input, *, model: str = "", version: str = "",
                 top_k: int = 5) -> Classification:
        """Top-k classes of an image (encoded bytes or a file path), best first."""
        return self._call("classify", image, model, version, top_k=top_k)

    def detect(self, image: Input, *, model: str = "", version: str = "",
               score_threshold: float | None = None, max_detections: int = 0) -> Detections:
        """Boxes in the image's own pixels, with labels and scores (model defaults when unset)."""
        return self._call("detect", image, model, version, score_threshold=score_threshold,
                          max_detections=max_detections)

    def segment(self, image: Input, *, model: str = "", version: str = "") -> Segmentation:
        """Per-pixel class map of an image, with each class's share of the pixels."""
        return self._call("segment", image, model, version)

    def caption(self, image: Input, *, model: str = "", version: str = "", max_tokens: int = 0,
                beam_width: int = 1) -> Caption:
        """A sentence describing the image; beam_width > 1 searches that many beams."""
        return self._call("caption", image, model, version, max_tokens=max_tokens,
                          beam_width=beam_width)

    def ask(self, image: Input, question: str, *, model: str = "", version: str = "",
            top_k: int = 3) -> Answers:
        """Answers to a question about an image, best first."""
        return self._call("ask", image, model, version, question=question, top_k=top_k)

    def transcribe(self, audio: Input, *, model: str = "", version: str = "",
                   beam_width: int = 1, language: str = "", translate: bool = False
                   ) -> Transcript:
        """Speech to text. Multilingual models take `language` (detected when empty) and
        `translate` (English text of speech in any language)."""
        return self._call("transcribe", audio, model, version, beam_width=beam_width,
                          language=language, translate=translate)

    def estimate_pose(self, image: Input, *, model: str = "", version: str = "",
                      score_threshold: float | None = None, max_people: int = 0) -> Poses:
        """People's keypoints (named, scored) and the skeleton's edges."""
        return self._call("pose", image, model, version, score_threshold=score_threshold,
                          max_people=max_people)

    def read_text(self, image: Input, *, model: str = "", version: str = "") -> TextReading:
        """Lines of text with their polygons and confidences."""
        return self._call("read", image, model, version)

    def analogy(self, word: str, minus: str = "", plus: str = "", *, model: str = "",
                version: str = "", top_k: int = 10) -> Analogy:
        """The words nearest to `word - minus + plus` (king - man + woman: queen), or with
        `word` alone, its nearest words; best first, the query words left out."""
        return self._call("analogy", b"", model, version, word=word, minus=minus, plus=plus,
                          top_k=top_k)

    def stylize(self, image: Input, style: str = "", *, style_image: Input | None = None,
                model: str = "", version: str = "") -> Stylized:
        """The photo in a built-in style (its name or index), or in the style of a painting
        (`style_image`: bytes or a path)."""
        return self._call("stylize", image, model, version, style=style,
                          style_image=style_image)

    def upscale(self, image: Input, scale: int = 0, *, model: str = "",
                version: str = "") -> Upscaled:
        """The photo `scale` times wider and taller (0: the model's scale; with no model
        named, a served model of that scale)."""
        return self._call("upscale", image, model, version, scale=scale)

    def dream(self, image: Input, layer: str = "", *, octaves: int = 0, iterations: int = 0,
              step: float = 0.0, model: str = "", version: str = "") -> Dreamed:
        """DeepDream: the photo changed to show more of what `layer` sees (0 and "": the
        model's defaults)."""
        return self._call("dream", image, model, version, layer=layer, octaves=octaves,
                          iterations=iterations, step=step)

    def play(self, *, seed: int = 0, max_frames: int = 0, exploration: float = 0.0,
             sticky_actions: bool = True, animation: bool = True, model: str = "",
             version: str = "") -> Game:
        """The game agent plays one game of Breakout in miniature; `seed` replays a game (0: a
        new one), `animation=False` leaves the GIF out (0 and 0.0: the model's defaults)."""
        return self._call("play", b"", model, version, seed=seed, max_frames=max_frames,
                          exploration=exploration, no_sticky_actions=not sticky_actions,
                          no_animation=not animation)

    def write(self, text: str, *, style: str = "", bias: float | None = None, seed: int = 0,
              drawing: bool = True, model: str = "", version: str = "") -> Handwriting:
        """The handwriting model writes `text` (one line) in a style (empty: the model's first);
        `bias` 0..10 makes it neater (None: the model's default), `seed` repeats a writing (0:
        a new one), `drawing=False` leaves the SVG and PNG out."""
        return self._call("write", b"", model, version, text=text, style=style, bias=bias,
                          seed=seed, no_drawing=not drawing)

    def models(self) -> ModelList:
        """Every served model, and each task's models and default."""
        try:
            response = self._stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None
        return results.model_list(response)

    def stream(self, items: Iterable[StreamItem]) -> Iterator[tuple[str, StreamOutcome]]:
        """Send many requests over one stream; yields (id, result or error) as each finishes,
        and (id, TaskProgress) before it for items that ask for progress."""
        requests = (_stream_request(item) for item in items)
        try:
            for response in self._stub.Stream(requests):
                yield _stream_result(response)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None


class AsyncClient:
    """The asyncio twin of `Client`: the same methods, awaited. Use `async with`."""

    def __init__(self, server: str = DEFAULT_SERVER, *, timeout_s: float | None = 120.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._channel = grpc.aio.insecure_channel(server,
                                                  options=_channel_options(max_message_bytes))
        self._stub = pb_grpc.TaskServiceStub(self._channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def _call(self, task: str, data: Input, model: str, version: str, **options: Any):
        spec = TASKS[task]
        request = make_request(task, data, model, version, **options)
        try:
            response = await getattr(self._stub, spec.rpc)(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None
        return spec.convert(response)

    async def classify(self, image: Input, *, model: str = "", version: str = "",
                       top_k: int = 5) -> Classification:
        """Top-k classes of an image (path, bytes or PIL image), best first."""
        return await self._call("classify", image, model, version, top_k=top_k)

    async def detect(self, image: Input, *, model: str = "", version: str = "",
                     score_threshold: float | None = None, max_detections: int = 0) -> Detections:
        """Boxes in the image's own pixels, with labels and scores (model defaults when unset)."""
        return await self._call("detect", image, model, version, score_threshold=score_threshold,
                                max_detections=max_detections)

    async def segment(self, image: Input, *, model: str = "", version: str = "") -> Segmentation:
        """Per-pixel class map of an image, with each class's share of the pixels."""
        return await self._call("segment", image, model, version)

    async def caption(self, image: Input, *, model: str = "", version: str = "",
                      max_tokens: int = 0, beam_width: int = 1) -> Caption:
        """A sentence describing the image; beam_width > 1 searches that many beams."""
        return await self._call("caption", image, model, version, max_tokens=max_tokens,
                                beam_width=beam_width)

    async def ask(self, image: Input, question: str, *, model: str = "", version: str = "",
                  top_k: int = 3) -> Answers:
        """Answers to a question about an image, best first."""
        return await self._call("ask", image, model, version, question=question, top_k=top_k)

    async def transcribe(self, audio: Input, *, model: str = "", version: str = "",
                         beam_width: int = 1, language: str = "", translate: bool = False
                         ) -> Transcript:
        """Speech to text. Multilingual models take `language` (detected when empty) and
        `translate` (English text of speech in any language)."""
        return await self._call("transcribe", audio, model, version, beam_width=beam_width,
                                language=language, translate=translate)

    async def estimate_pose(self, image: Input, *, model: str = "", version: str = "",
                            score_threshold: float | None = None, max_people: int = 0) -> Poses:
        """People's keypoints (named, scored) and the skeleton's edges."""
        return await self._call("pose", image, model, version, score_threshold=score_threshold,
                                max_people=max_people)

    async def read_text(self, image: Input, *, model: str = "", version: str = ""
                        ) -> TextReading:
        """Lines of text with their polygons and confidences."""
        return await self._call("read", image, model, version)

    async def analogy(self, word: str, minus: str = "", plus: str = "", *, model: str = "",
                version: str = "", top_k: int = 10) -> Analogy:
        """The words nearest to `word - minus + plus` (king - man + woman: queen), or with
        `word` alone, its nearest words; best first, the query words left out."""
        return await self._call("analogy", b"", model, version, word=word, minus=minus, plus=plus,
                          top_k=top_k)

    async def stylize(self, image: Input, style: str = "", *, style_image: Input | None = None,
                model: str = "", version: str = "") -> Stylized:
        """The photo in a built-in style (its name or index), or in the style of a painting
        (`style_image`: bytes or a path)."""
        return await self._call("stylize", image, model, version, style=style,
                          style_image=style_image)

    async def upscale(self, image: Input, scale: int = 0, *, model: str = "",
                      version: str = "") -> Upscaled:
        """The photo `scale` times wider and taller (0: the model's scale; with no model
        named, a served model of that scale)."""
        return await self._call("upscale", image, model, version, scale=scale)

    async def dream(self, image: Input, layer: str = "", *, octaves: int = 0,
                    iterations: int = 0, step: float = 0.0, model: str = "",
                    version: str = "") -> Dreamed:
        """DeepDream: the photo changed to show more of what `layer` sees (0 and "": the
        model's defaults)."""
        return await self._call("dream", image, model, version, layer=layer, octaves=octaves,
                                iterations=iterations, step=step)

    async def play(self, *, seed: int = 0, max_frames: int = 0, exploration: float = 0.0,
                   sticky_actions: bool = True, animation: bool = True, model: str = "",
                   version: str = "") -> Game:
        """The game agent plays one game of Breakout in miniature; `seed` replays a game (0: a
        new one), `animation=False` leaves the GIF out (0 and 0.0: the model's defaults)."""
        return await self._call("play", b"", model, version, seed=seed, max_frames=max_frames,
                                exploration=exploration, no_sticky_actions=not sticky_actions,
                                no_animation=not animation)

    async def write(self, text: str, *, style: str = "", bias: float | None = None,
                    seed: int = 0, drawing: bool = True, model: str = "",
                    version: str = "") -> Handwriting:
        """The handwriting model writes `text` (one line) in a style (empty: the model's first);
        `bias` 0..10 makes it neater (None: the model's default), `seed` repeats a writing (0:
        a new one), `drawing=False` leaves the SVG and PNG out."""
        return await self._call("write", b"", model, version, text=text, style=style,
                                bias=bias, seed=seed, no_drawing=not drawing)

    async def models(self) -> ModelList:
        """Every served model, and each task's models and default."""
        try:
            response = await self._stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None
        return results.model_list(response)

    async def stream(self, items: Iterable[StreamItem] | AsyncIterable[StreamItem]
                     ) -> AsyncIterator[tuple[str, StreamOutcome]]:
        """Send many requests over one stream; yields (id, result or error) as each finishes,
        and (id, TaskProgress) before it for items that ask for progress."""

        async def requests() -> AsyncIterator[pb.TaskRequest]:
            if isinstance(items, AsyncIterable):
                async for item in items:
                    yield _stream_request(item)
            else:
                for item in items:
                    yield _stream_request(item)

        try:
            async for response in self._stub.Stream(requests()):
                yield _stream_result(response)
        except grpc.RpcError as error:
            raise ClientError.from_rpc_error(error) from None
