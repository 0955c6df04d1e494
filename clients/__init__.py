"""Striate's thin client: typed access to the task API, a CLI, and rendering of results.

Depends on grpcio, protobuf, numpy and Pillow only.
"""

from .client import AsyncClient, Client, StreamItem
from .results import (
    Analogy,
    Answer,
    Answers,
    Box,
    Caption,
    Classification,
    ClassScore,
    ClassShare,
    ClientError,
    Detection,
    Detections,
    Dreamed,
    Game,
    Handwriting,
    Keypoint,
    ModelInfo,
    ModelList,
    Person,
    Point,
    Poses,
    Segmentation,
    Stylized,
    TaskInfo,
    TaskProgress,
    TextLine,
    TextReading,
    Transcript,
    TranscriptSegment,
    Upscaled,
    WordScore,
)

__all__ = [
    "Analogy", "Answer", "Answers", "AsyncClient", "Box", "Caption", "ClassScore", "ClassShare",
    "Classification", "Client", "ClientError", "Detection", "Detections", "Dreamed", "Game",
    "Handwriting", "ModelInfo", "ModelList", "Keypoint", "Person", "Point", "Poses",
    "Segmentation", "StreamItem", "Stylized", "TaskInfo", "TaskProgress", "TextLine",
    "TextReading", "Transcript", "TranscriptSegment", "Upscaled", "WordScore",
]
