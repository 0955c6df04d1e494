"""Grounded captions and answers on real photos, against a real server with the real COCO
detector: from the typed clients (sync and async), the Stream RPC, the HTTP task API and the
CLI; questions outside the grammar get "I can't tell", bad ones a clear error."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from clients import Client
from clients.client import AsyncClient, StreamItem
from clients.results import Answers, Caption, ClientError
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
PHOTOS = ZOO / "samples" / "centernet_coco"
SERVED = ("centernet_coco", "movenet_lightning", "grounded_captioner", "grounded_vqa",
          "easyvqa", "shapes_captioner", "shapes_captioner_decoder")
TEXT_READER = ("ppocr_v4", "ppocr_v4_recognizer", "ppocr_orientation")  # `make ocr-model`
TEXT_PHOTO = ZOO / "samples" / "ppocr_v4" / "rendered_0.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repository = tmp_path_factory.mktemp("grounded_repository")
    for name in SERVED + TEXT_READER:
        if (ZOO / name).is_dir():
            (repository / name).symlink_to(ZOO / name, target_is_directory=True)
    with running_server(repository, timeout=300) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with Client(server.grpc_url, timeout_s=120) as client:
        yield client


@pytest.fixture(scope="module")
def cat_and_person(tmp_path_factory) -> Path:
    """Two real photos side by side: the cat on the left, Grace Hopper on the right."""
    cat, person = Image.open(PHOTOS / "chelsea.jpg"), Image.open(PHOTOS / "grace_hopper.jpg")
    height = max(cat.height, person.height)
    both = Image.new("RGB", (cat.width + person.width, height), (255, 255, 255))
    both.paste(cat, (0, (height - cat.height) // 2))
    both.paste(person, (cat.width, (height - person.height) // 2))
    path = tmp_path_factory.mktemp("collage") / "cat_and_person.jpg"
    both.save(path, quality=95)
    return path


def test_the_grounded_models_are_the_defaults_for_captions_and_answers(client):
    listing = client.models()
    defaults = {t.task: t.default_model for t in listing.tasks}
    assert defaults["captioning"] == "grounded_captioner"
    assert defaults["vqa"] == "grounded_vqa"
    assert client.caption(PHOTOS / "chelsea.jpg").model == "grounded_captioner"


@pytest.mark.parametrize("photo, caption", [
    ("chelsea.jpg", "cat"), ("grace_hopper.jpg", "a person"), ("astronaut.jpg", "a person"),
    ("coffee.jpg", "cup"),
])
def test_captions_name_what_the_detector_sees(client, photo, caption):
    result = client.caption(PHOTOS / photo)
    assert caption in result.text
    assert result.log_probability < 0


def test_a_caption_lists_several_objects_largest_first(client, cat_and_person):
    text = client.caption(cat_and_person).text
    assert text == "a person and an orange cat"


@pytest.mark.parametrize("question, expected", [
    ("How many cats are there?", "1"), ("how many dogs?", "0"), ("how many women?", "1"),
    ("Is there a cat?", "yes"), ("is there a kitten in the picture?", "yes"),
    ("are there any dogs?", "no"),
    ("Is the cat left of the person?", "yes"), ("is the woman to the left of the cat?", "no"),
    ("where is the person?", "on the right"), ("where is the cat?", "on the left"),
])
def test_answers_in_the_grammar_come_from_the_photo(client, cat_and_person, question, expected):
    answers = client.ask(cat_and_person, question, top_k=3)
    assert answers.model == "grounded_vqa"
    assert answers.answers[0].text == expected
    assert 0 < answers.answers[0].score <= 1


def test_colour_answers_come_from_the_pixels(client):
    answers = client.ask(PHOTOS / "chelsea.jpg", "what colour is the cat?", top_k=3)
    assert answers.answers[0].text in ("orange", "brown")
    assert sum(a.score for a in answers.answers) <= 1.0 + 1e-6


def test_outside_the_grammar_it_says_it_cannot_tell_and_what_it_can_answer(client):
    for question in ("what is the cat thinking?", "how many unicorns?"):
        answers = client.ask(PHOTOS / "chelsea.jpg", question).answers
        assert len(answers) == 1 and answers[0].score == 0
        assert answers[0].text.startswith("I can't tell")
        assert "how many X?" in answers[0].text


def test_an_empty_question_is_a_clear_error(client):
    with pytest.raises(ClientError) as caught:
        client.ask(PHOTOS / "chelsea.jpg", "   ")
    assert caught.value.code.name == "INVALID_ARGUMENT"
    assert "question is empty" in caught.value.message


def test_the_toy_models_still_answer_when_picked(client):
    scene = ZOO / "samples" / "easyvqa" / "test_1.png"
    assert client.ask(scene, "is there a triangle?", model="easyvqa").answers[0].text == "no"
    assert client.caption(ZOO / "samples" / "shapes_captioner" / "scene_0.png",
                          model="shapes_captioner").model == "shapes_captioner"


def test_the_stream_rpc_and_the_async_client_answer_alike(server, client, cat_and_person):
    items = [StreamItem("caption", "caption", cat_and_person),
             StreamItem("count", "ask", cat_and_person, options={"question": "how many cats?"}),
             StreamItem("bad", "ask", cat_and_person, options={"question": ""})]
    results = dict(client.stream(items))
    assert isinstance(results["caption"], Caption)
    assert results["caption"].text == client.caption(cat_and_person).text
    assert isinstance(results["count"], Answers) and results["count"].answers[0].text == "1"
    assert isinstance(results["bad"], ClientError)

    async def ask_async() -> str:
        async with AsyncClient(server.grpc_url, timeout_s=120) as async_client:
            answers = await async_client.ask(cat_and_person, "is the person right of the cat?")
            return answers.answers[0].text

    assert asyncio.run(ask_async()) == "yes"


def test_the_http_task_api_answers_as_grpc_does(server, client, cat_and_person):
    question = "where is the cat?"
    query = urllib.parse.urlencode({"question": question, "top_k": "3"})
    request = urllib.request.Request(f"{server.http_url}/tasks/answer_question?{query}",
                                     data=cat_and_person.read_bytes(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    grpc_answers = client.ask(cat_and_person, question, top_k=3).answers
    assert body["model"]["name"] == "grounded_vqa"
    assert [a["text"] for a in body["answers"]] == [a.text for a in grpc_answers]


def test_the_cli_captions_and_answers(server, cat_and_person):
    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "clients", *args, "--server",
                               server.grpc_url], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, check=True)
        return done.stdout

    assert "cat" in cli("caption", str(cat_and_person), "--model", "grounded_captioner")
    assert "yes" in cli("ask", str(cat_and_person), "--question", "is there a person?")


def test_a_photo_that_is_not_an_image_is_refused(client):
    with pytest.raises(ClientError) as caught:
        client.caption(io.BytesIO(b"not a photo").getvalue())
    assert caught.value.code.name == "INVALID_ARGUMENT"


def test_what_it_says_comes_from_the_text_reader_or_it_cannot_tell(client):
    answers = client.ask(TEXT_PHOTO, "What does it say?").answers
    if not (ZOO / "ppocr_v4").is_dir():
        assert answers[0].text.startswith("I can't tell (the ocr model 'ppocr_v4' is not "
                                          "served)")
        return
    assert "Sparse is" in answers[0].text.replace("isbetter", "is better")
    assert 'the text says "' in client.caption(TEXT_PHOTO).text


def test_raised_arms_need_a_person_and_the_pose(client):
    answers = client.ask(PHOTOS / "chelsea.jpg", "is the person raising their arms?").answers
    assert answers[0].text == "no (I see no person)"
    answers = client.ask(PHOTOS / "grace_hopper.jpg", "are the woman's arms raised?").answers
    assert answers[0].text == "no" or answers[0].text.startswith("I can't tell (the person's")
