"""Each domain error answers HTTP with the status of its gRPC code and its sentence."""

from __future__ import annotations

import json

import pytest

from service.errors import (
    DeadlineExceeded,
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    QueueFull,
)
from service.http.errors import response_of


@pytest.mark.parametrize("error,status", [
    (InvalidInput("the image is empty"), 400), (ModelNotFound("no model named 'x'"), 404),
    (QueueFull("the queue is full"), 429), (ModelNotReady("still loading"), 503),
    (DeadlineExceeded("too slow"), 504),
])
def test_domain_errors_keep_their_sentence(error, status):
    response = response_of(error)
    assert response.status_code == status
    assert json.loads(response.body) == {"error": error.message}


def test_anything_else_is_a_500_with_an_incident_and_no_details():
    response = response_of(KeyError("secret path /etc/x"))
    assert response.status_code == 500
    message = json.loads(response.body)["error"]
    assert "incident" in message and "secret" not in message
