"""Every task through `clients.Client` against a real server on tiny models with known answers."""

from __future__ import annotations

import asyncio
import io

import grpc
import numpy as np
import pytest
from PIL import Image

from clients import AsyncClient, Client, ClientError, StreamItem
from tests.e2e import media
from tests.e2e.tiny_models import DETECTOR_SIZE
from tests.integration.helpers import wait_for_pending


def test_list_models_names_each_task_and_its_default(client):
    listing = client.models()
    defaults = {t.task: t.default_model for t in listing.tasks}
    assert defaults == {"classification": "tiny_colours", "detection": "tiny_detector",
                        "segmentation": "tiny_segmenter", "captioning": "tiny_captioner",
                        "vqa": "tiny_vqa", "speech": "tiny_ctc"}
    by_name = {m.name: m for m in listing.models}
    assert by_name["tiny_colours"].is_default and not by_name["tiny_colours_b"].is_default
    assert by_name["tiny_caption_decoder"].task == "component"
    assert by_name["tiny_colours"].description == "dominant colour"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
@pytest.mark.parametrize("colour", ["red", "green", "blue"])
def test_classify_names_the_dominant_colour_in_every_format(client, colour, fmt):
    result = client.classify(media.solid(colour, fmt=fmt), top_k=2)
    assert result.model == "tiny_colours"
    assert result.top.label == colour and result.top.score > 0.9
    assert len(result.classes) == 2 and result.classes[0].score >= result.classes[1].score


def test_classify_a_named_model_and_greyscale_and_transparent_images(client, tmp_path):
    assert client.classify(media.solid("blue"), model="tiny_colours_b").model == "tiny_colours_b"
    grey = media.encode(Image.new("L", (20, 20), 200))
    scores = [c.score for c in client.classify(grey, top_k=3).classes]
    assert max(scores) - min(scores) < 0.01  # R = G = B: no colour dominates
    transparent = Image.new("RGBA", (20, 20), (0, 0, 255, 0))  # invisible blue over white
    scores = [c.score for c in client.classify(media.encode(transparent), top_k=3).classes]
    assert max(scores) - min(scores) < 0.01
    path = tmp_path / "red.png"
    path.write_bytes(media.solid("red"))
    assert client.classify(path).top.label == "red"


def test_unknown_model_and_wrong_task_are_reported(client):
    with pytest.raises(ClientError) as error:
        client.classify(media.solid("red"), model="no_such_model")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ClientError) as error:
        client.classify(media.solid("red"), model="tiny_detector")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "detection" in error.value.message


def test_detect_returns_boxes_in_the_original_images_coordinates(client):
    width, height, box = 200, 100, (120, 30, 160, 70)
    image = media.encode(media.white_box_image(width, height, box))
    result = client.detect(image)
    assert (result.width, result.height) == (width, height)
    # the duplicate box is removed by NMS, the 0.1 box by the model's threshold (0.3)
    assert len(result.detections) == 1
    found = result.detections[0]
    assert found.label == "white" and found.score == pytest.approx(0.9)
    tolerance = width / DETECTOR_SIZE + 0.5  # one input pixel, in original pixels
    got = (found.box.x1, found.box.y1, found.box.x2, found.box.y2)
    assert got == pytest.approx(box, abs=tolerance)


def test_detect_threshold_and_limit_from_the_request(client):
    image = media.encode(media.white_box_image(90, 150, (10, 100, 40, 140)))
    result = client.detect(image, score_threshold=0.05)
    assert [round(d.score, 2) for d in result.detections] == [0.9, 0.1]
    whole = result.detections[1].box
    assert (whole.x1, whole.y1, whole.x2, whole.y2) == pytest.approx((0, 0, 90, 150), abs=0.01)
    assert len(client.detect(image, score_threshold=0.05, max_detections=1).detections) == 1


def test_detect_honours_exif_orientation(client):
    # stored 200x100 with the box on the left; EXIF 6 says "rotate 90 clockwise to view"
    stored = Image.fromarray(media.white_box_image(200, 100, (0, 0, 40, 100)))
    exif = Image.Exif()
    exif[0x0112] = 6
    result = client.detect(media.encode(stored, "JPEG", exif=exif, quality=95))
    assert (result.width, result.height) == (100, 200)
    box = result.detections[0].box
    # rotated clockwise, the left strip becomes the top strip
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((0, 0, 100, 40), abs=4)


def test_segment_gives_a_class_map_of_the_original_size_and_shares(client):
    array = np.zeros((40, 60, 3), np.uint8)
    array[:, :30] = media.RGB["red"]
    array[:, 30:] = media.RGB["green"]
    result = client.segment(media.encode(array))
    assert (result.width, result.height) == (60, 40)
    assert result.class_names == ["background", "red", "green"]
    class_map = result.class_map
    assert class_map.shape == (40, 60)
    assert class_map[20, 5] == 1 and class_map[20, 55] == 2
    shares = {s.label: s.pixel_fraction for s in result.shares}
    assert shares == pytest.approx({"red": 0.5, "green": 0.5}, abs=0.04)


@pytest.mark.parametrize("beam_width", [1, 3])
@pytest.mark.parametrize("colour", ["red", "blue"])
def test_caption_greedy_and_beam(client, colour, beam_width):
    result = client.caption(media.solid(colour), beam_width=beam_width)
    assert result.model == "tiny_captioner"
    assert result.text == f"a {colour} square"
    assert result.log_probability <= 0


def test_caption_stops_at_max_tokens(client):
    assert client.caption(media.solid("red"), max_tokens=2).text == "a red"


def test_answer_question(client):
    result = client.ask(media.solid("green"), "what colour is it ?", top_k=2)
    assert result.model == "tiny_vqa"
    assert [a.text for a in result.answers][0] == "green"
    assert len(result.answers) == 2


@pytest.mark.parametrize(("rate", "subtype", "fmt", "channels"), [
    (16_000, "PCM_16", "WAV", 1), (8_000, "PCM_U8", "WAV", 1), (44_100, "PCM_24", "WAV", 2),
    (22_050, "PCM_32", "WAV", 1), (48_000, "FLOAT", "WAV", 2), (32_000, "PCM_16", "FLAC", 2),
])
def test_transcribe_any_rate_depth_and_channel_count(client, rate, subtype, fmt, channels):
    audio = media.bursts(rate)
    if channels == 2:
        audio = np.stack([audio, audio], axis=1)
    result = client.transcribe(media.wav(audio, rate, subtype, fmt))
    assert result.model == "tiny_ctc"
    assert result.text == "a a"
    assert result.duration_s == pytest.approx(1.0, abs=0.01)
    times = [t for s in result.segments for t in (s.start_s, s.end_s)]
    assert times == pytest.approx([0.25, 0.375, 0.5625, 0.75], abs=0.02)


BAD_IMAGES = {
    "empty": b"",
    "corrupt JPEG": media.solid("red", fmt="JPEG")[:20] + b"\x00garbage" * 50,
    "truncated PNG": media.encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3),
                                                                     dtype=np.uint8))[:600],
    "PNG claiming 30000x30000": media.png_claiming_size(30000, 30000),
    "GIF": media.encode(Image.new("P", (8, 8)), "GIF"),
    "text": b"hello, this is not an image",
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_images_are_invalid_argument_and_the_server_goes_on(client, name):
    with pytest.raises(ClientError) as error:
        client.classify(BAD_IMAGES[name])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.value.message) > 20
    assert client.classify(media.solid("red")).top.label == "red"


def test_bad_image_messages_say_what_is_wrong(client):
    def message(data: bytes) -> str:
        with pytest.raises(ClientError) as error:
            client.detect(data)
        return error.value.message

    assert "900,000,000 pixels" in message(BAD_IMAGES["PNG claiming 30000x30000"])
    assert "9000x5000" in message(media.png_claiming_size(9000, 5000))  # below Pillow's own
    assert "GIF" in message(BAD_IMAGES["GIF"])
    assert "empty" in message(b"")
    assert "truncated" in message(BAD_IMAGES["truncated PNG"])


@pytest.mark.parametrize(("name", "audio"), [
    ("empty", b""),
    ("garbled", bytes(np.random.default_rng(1).integers(0, 255, 4000, dtype=np.uint8))),
    ("no samples", media.wav(np.zeros(0, np.float32), 16_000)),
    ("truncated header", media.wav(media.bursts(), 16_000)[:30]),
    ("an image", media.solid("red")),
])
def test_bad_audio_is_invalid_argument_and_the_server_goes_on(client, name, audio):
    with pytest.raises(ClientError) as error:
        client.transcribe(audio)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, error.value.message
    assert error.value.message
    assert client.transcribe(media.wav(media.bursts(), 16_000)).text == "a a"


@pytest.mark.parametrize(("question", "words"), [
    ("", "empty"), ("   ", "empty"), ("what is the colour of it ? is it ?", "tokens"),
    ("x" * 5000, "characters"),
])
def test_bad_questions_are_invalid_argument(client, question, words):
    with pytest.raises(ClientError) as error:
        client.ask(media.solid("red"), question)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert words in error.value.message
    assert client.ask(media.solid("red"), "what colour ?").answers[0].text == "red"


def test_a_stream_serves_mixed_tasks_and_reports_errors_per_item(client):
    items = [StreamItem(f"c{i}", "classify", media.solid(c)) for i, c in
             enumerate(["red", "green", "blue"] * 5)]
    items += [StreamItem("bad", "classify", b"not an image"),
              StreamItem("cap", "caption", media.solid("blue"), options={"beam_width": 2}),
              StreamItem("seg", "segment", media.solid("red")),
              StreamItem("ask", "ask", media.solid("red"), options={"question": "what colour"}),
              StreamItem("say", "transcribe", media.wav(media.bursts(), 16_000)),
              StreamItem("box", "detect",
                         media.encode(media.white_box_image(50, 50, (5, 5, 20, 20))))]
    outcomes = dict(client.stream(items))
    assert set(outcomes) == {item.id for item in items}
    for i, colour in enumerate(["red", "green", "blue"] * 5):
        assert outcomes[f"c{i}"].top.label == colour
    assert isinstance(outcomes["bad"], ClientError)
    assert outcomes["bad"].code == grpc.StatusCode.INVALID_ARGUMENT
    assert outcomes["cap"].text == "a blue square"
    assert outcomes["seg"].shares[0].label == "red"
    assert outcomes["ask"].answers[0].text == "red"
    assert outcomes["say"].text == "a a"
    assert len(outcomes["box"].detections) == 1


def test_async_client_runs_many_requests_at_once(tiny_server):
    async def main():
        async with AsyncClient(tiny_server.grpc_url) as client:
            colours = ["red", "green", "blue"] * 6
            results = await asyncio.gather(*(client.classify(media.solid(c)) for c in colours))
            assert [r.top.label for r in results] == colours
            caption = await client.caption(media.solid("green"), beam_width=2)
            assert caption.text == "a green square"
            listing = await client.models()
            assert "speech" in {t.task for t in listing.tasks}
            streamed = [o async for o in client.stream(
                StreamItem(str(i), "classify", media.solid(c)) for i, c in enumerate(colours))]
            assert sorted(int(k) for k, _ in streamed) == list(range(len(colours)))
            with pytest.raises(ClientError) as error:
                await client.segment(b"")
            assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT

    asyncio.run(main())


def test_segment_png_is_a_valid_greyscale_image(client):
    result = client.segment(media.solid("green", 33, 17))
    image = Image.open(io.BytesIO(result.class_map_png))
    assert image.mode == "L" and image.size == (33, 17)


def test_negative_generation_settings_are_invalid(client):
    with pytest.raises(ClientError) as error:
        client.caption(media.solid("red"), max_tokens=-1)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "negative" in error.value.message


def test_seq2seq_speech_with_a_kv_cache_decoder_and_30_second_windows(client):
    rate = 16_000
    audio = np.zeros(rate * 40, np.float32)  # 40 s: sound in the first window only
    audio[rate * 5 : rate * 8] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate * 3) / rate)
    result = client.transcribe(media.wav(audio, rate), model="tiny_seq2seq")
    assert result.text == "hello world silence world"
    assert [(s.start_s, s.end_s, s.text) for s in result.segments] == [
        (0.0, 30.0, "hello world"), (30.0, 40.0, "silence world")]
    assert result.duration_s == pytest.approx(40.0)


def test_seq2seq_speech_with_beam_search(client):
    rate = 16_000
    audio = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate * 2) / rate)
    result = client.transcribe(media.wav(audio, rate), model="tiny_seq2seq", beam_width=3)
    assert result.text == "hello world"
    with pytest.raises(ClientError) as error:
        client.transcribe(media.wav(audio, rate), model="tiny_seq2seq", beam_width=-1)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_client_leaving_mid_stream_leaves_the_server_serving(tiny_server):
    leaving = Client(tiny_server.grpc_url)
    results = leaving.stream(StreamItem(str(i), "caption", media.solid("red"),
                                        options={"beam_width": 3}) for i in range(300))
    for count, _ in enumerate(results):
        if count == 5:
            break
    leaving.close()
    with Client(tiny_server.grpc_url) as staying:
        assert staying.classify(media.solid("green")).top.label == "green"
    # what the stream left in flight is cancelled: nothing stays queued for the gone client
    for model in ("tiny_captioner", "tiny_caption_decoder"):
        wait_for_pending(tiny_server, model, lambda n: n == 0)
    assert "Traceback" not in tiny_server.log()
