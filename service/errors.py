"""Domain errors. Each carries the gRPC status it maps to; the servicers map them in one place.

Messages are sentences a user can act on: they are sent to the client as they are.
Anything that is not a `StriateError` becomes INTERNAL with a generic message.
"""

from __future__ import annotations

import grpc


class StriateError(Exception):
    """Base class: an error whose message is safe and useful to send to the client."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "internal"  # label used in metrics

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(StriateError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "invalid_input"


class NotFound(StriateError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "not_found"


class ModelNotFound(NotFound):
    pass


class Unavailable(StriateError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "unavailable"


class ModelNotReady(Unavailable):
    pass


class WorkerCrashed(StriateError):
    """The model's worker process died while running the request (and was restarted).
    Not a ModelNotReady: the request is not retried on the new worker, it may be the cause."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "crashed"


class QueueFull(StriateError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "queue_full"


class DeadlineExceeded(StriateError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "deadline_exceeded"


class ModelLoadError(StriateError):
    """A model could not be loaded; the reason shows in RepositoryIndex and the log."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "load_failed"


class RepositoryPollError(StriateError):
    """A load request whose model files could not be taken (unknown folder, refused `file:`
    override). INTERNAL with Triton's wording, which its clients match on."""

    code = grpc.StatusCode.INTERNAL
    reason = "load_failed"
