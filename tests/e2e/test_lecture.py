"""The lecture's other demos against one real server over the real imported models: word
analogies (glove_6b_50d) and painting styles (style_transfer_26, style_transfer_arbitrary)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest

from clients import Analogy, AsyncClient, Client, ClientError, StreamItem
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
MODELS = ("glove_6b_50d",)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("lecture")
    for name in MODELS:
        (repository / name).symlink_to(ZOO / name, target_is_directory=True)
    with running_server(repository, timeout=300) as running:
        yield running


@pytest.fixture()
def client(server):
    with Client(server.grpc_url, timeout_s=120) as client:
        yield client


def _http(server, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.http_url}{path}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_king_minus_man_plus_woman_is_queen_in_the_top_3(client):
    result = client.analogy("king", "man", "woman", top_k=3)
    assert result.model == "glove_6b_50d"
    assert "queen" in [w.word for w in result.words]
    assert not {"king", "man", "woman"} & {w.word for w in result.words}
    assert result.words[0].score >= result.words[1].score >= result.words[2].score


def test_capitals_and_nearest_words(client):
    assert client.analogy("paris", "france", "italy", top_k=1).best == "rome"
    near = client.analogy("Frog", top_k=5)  # lowercased, as GloVe 6B's vocabulary
    assert len(near.words) == 5 and "frog" not in [w.word for w in near.words]
    assert {"toad", "frogs"} & {w.word for w in near.words}
    assert all(-1.0 <= w.score <= 1.0 for w in near.words)


def test_unknown_word_is_invalid_argument_naming_it(client):
    with pytest.raises(ClientError) as caught:
        client.analogy("king", "man", "womanzzz")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "womanzzz" in caught.value.message and "plus" in caught.value.message
    with pytest.raises(ClientError) as caught:
        client.analogy("king", "man")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "both minus and plus" in caught.value.message
    with pytest.raises(ClientError) as caught:
        client.analogy("king", top_k=1000)
    assert "top_k" in caught.value.message
    assert client.analogy("king", top_k=1).words  # still serving


def test_analogy_over_the_stream_and_async(server, client):
    items = [StreamItem("a", "analogy", b"", options={"word": "king", "minus": "man",
                                                     "plus": "woman", "top_k": 3}),
             StreamItem("b", "analogy", b"", options={"word": "qqqzzz"})]
    outcomes = dict(client.stream(items))
    assert isinstance(outcomes["a"], Analogy) and "queen" in [w.word for w in
                                                              outcomes["a"].words]
    assert isinstance(outcomes["b"], ClientError) and "qqqzzz" in outcomes["b"].message

    async def ask() -> Analogy:
        async with AsyncClient(server.grpc_url) as aclient:
            return await aclient.analogy("berlin", "germany", "france", top_k=3)

    assert "paris" in [w.word for w in asyncio.run(ask()).words]


def test_analogy_over_http(server):
    query = urllib.parse.urlencode({"word": "king", "minus": "man", "plus": "woman",
                                    "top_k": 3})
    status, body = _http(server, f"/tasks/analogy?{query}")
    assert status == 200 and "queen" in [w["word"] for w in body["words"]]
    status, body = _http(server, "/tasks/analogy?word=zzzqqq")
    assert status == 400 and "zzzqqq" in body["error"]


def test_cli_analogy(server):
    command = [sys.executable, "-m", "clients", "analogy", "king", "man", "woman",
               "--top-k", "3", "--server", server.grpc_url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("king - man + woman:") and "queen (" in done.stdout
