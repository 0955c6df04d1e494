"""The demo page in a real headless Chromium (Debian's, driven by Playwright) against a real
server: every task from a sample click, uploads, a corrupt upload, keyboard, a phone-sized
screen, the webcam (a fake camera fed the sample photos) and the microphone (fed a recording).

Each check compares the page with what the HTTP task API answers for the same input, and reads
the canvas's pixels: a box is drawn where the model found it, a mask where it said.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from contract.protocol import striate_tasks_pb2 as pb
from contract.wer import word_error_rate
from tests.web.conftest import post_file, post_options, sample_path, served_models
from tests.web.media import write_y4m

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
KINDS = [f.name for f in pb.TaskRequest.DESCRIPTOR.oneofs_by_name["request"].fields]
FILELESS = ("analogy", "play", "write")  # run from their options alone: tested on their own below
MIC_SAMPLE = ("whisper_tiny_en", "austen-0930.wav")
CAMERA_PHOTOS = [sample_path("blazeface_faces", name)
                 for name in ("astronaut.jpg", "grace_hopper.jpg")]
SCREENSHOTS = os.environ.get("STRIATE_SCREENSHOTS")  # a folder: also save docs screenshots
MASK_ALPHA = 130 / 255  # draw.js: the overlay's alpha
# draw.js's palette: class index i (detections: label index + 1) is drawn in PALETTE[i]
PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
           (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60),
           (250, 190, 212), (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200),
           (128, 0, 0)]
FAILED_REQUEST = re.compile(r"Failed to load resource: the server responded with a status of 4")


@pytest.fixture(scope="module")
def browser(zoo_server, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; 'make system-packages' installs it "
                    "(as root)")
    media = tmp_path_factory.mktemp("fake_devices")
    video = write_y4m(CAMERA_PHOTOS, media / "camera.y4m")
    audio = sample_path(*MIC_SAMPLE)
    fake_devices = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}"]
    if audio.exists():
        fake_devices.append(f"--use-file-for-fake-audio-capture={audio}%noloop")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=FLAGS + fake_devices)
        yield browser
        browser.close()


class Session:
    """One page on the demo, with the console messages it logged."""

    def __init__(self, page, url: str) -> None:
        self.page = page
        self.url = url
        self.console: list[str] = []
        self.expected_failures = 0
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))

    def open(self, kind: str) -> None:
        self.page.goto(f"{self.url}/#{kind}")
        self.page.wait_for_selector("body[data-ready=true]", state="attached")
        self.page.wait_for_selector(f"#tab-{kind}[aria-selected=true]")
        assert self.page.is_hidden("#token-form"), "an open server needs no token"

    def wait_for_result(self) -> str:
        """'done' or 'error', once the page has shown the answer."""
        self.page.wait_for_selector("body[data-result=done], body[data-result=error]",
                                    state="attached", timeout=120_000)
        return self.page.get_attribute("body", "data-result")

    def click_sample(self, sample: dict) -> None:
        self.page.evaluate("document.body.removeAttribute('data-result')")
        self.page.locator(f'#gallery button[data-sample="{sample["model"]}/{sample["name"]}"]'
                          ).click()
        assert self.wait_for_result() == "done", self.page.inner_text("#error")

    def canvas_pixels(self) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(
            self.page.locator("#canvas").screenshot())).convert("RGB")).astype(int)

    def unexpected_console_errors(self) -> list[str]:
        failures = [m for m in self.console if FAILED_REQUEST.match(m)]
        others = [m for m in self.console if not FAILED_REQUEST.match(m)]
        return others + failures[self.expected_failures:]


@pytest.fixture()
def session(browser, zoo_server):
    context = browser.new_context(viewport={"width": 1100, "height": 800},
                                  permissions=["camera", "microphone"])
    session = Session(context.new_page(), zoo_server.http_url)
    yield session
    context.close()
    assert session.unexpected_console_errors() == []


def first_served_sample(server, kind: str) -> dict:
    listing = get_json(server, "/samples")["samples"]
    served = [s for s in listing if s["kind"] == kind and s["served"]]
    if not served:
        pytest.skip(f"no shipped sample for {kind} from a model the repository serves (a "
                    "model built by make, like whisper_tiny_en, may be missing; or the task "
                    "ships no samples/<model>/expected.json)")
    return served[0]


def get_json(server, path: str) -> dict:
    with urllib.request.urlopen(server.http_url + path, timeout=30) as response:
        return json.loads(response.read())


def api_answer(server, kind: str, sample: dict) -> dict:
    status, body, _ = post_file(f"{server.http_url}/tasks/{kind}",
                                sample_path(sample["model"], sample["file"]).read_bytes(),
                                sample["file"], {"model": sample["model"], **sample["options"]})
    assert status == 200, body
    return body


# --- what each task's rendering must show ---

def near(pixels: np.ndarray, colour, tolerance: int = 60) -> np.ndarray:
    return np.abs(pixels - np.array(colour)).max(axis=-1) <= tolerance


def check_boxes(session: Session, answer: dict, sample: dict) -> None:
    items = session.page.locator("ol.detections li").all_inner_texts()
    assert len(items) == len(answer["detections"])
    pixels = session.canvas_pixels()
    scale_x = pixels.shape[1] / answer["width"]
    scale_y = pixels.shape[0] / answer["height"]
    for item, detection in zip(items, answer["detections"]):
        assert item.startswith(f"{detection['label']} ")
        box, colour = detection["box"], PALETTE[detection["index"] + 1]
        bottom = _edge_share(pixels, box, box["y2"], colour, scale_x, scale_y)
        assert bottom >= 0.8, "the box's bottom edge is not drawn where the model said"
        middle = (box["y1"] + box["y2"]) / 2
        assert _edge_share(pixels, box, middle, colour, scale_x, scale_y) < 0.5, \
            "box colour across the middle of the box"


def _edge_share(pixels: np.ndarray, box: dict, y: float, colour, scale_x: float,
                scale_y: float) -> float:
    """Share of columns along the box's width with the box's colour near row y."""
    row = int(y * scale_y)
    width = box["x2"] - box["x1"]
    columns = np.linspace(box["x1"] + 0.2 * width, box["x2"] - 0.2 * width, 20) * scale_x
    band = pixels[max(0, row - 3):row + 4, columns.astype(int)]
    return near(band, colour).any(axis=0).mean()


def check_mask(session: Session, answer: dict, sample: dict) -> None:
    labels = [share["label"] for share in answer["shares"] if share["index"] != 0]
    legend = session.page.locator("#legend .entry").all_inner_texts()
    assert [entry.rsplit(" ", 1)[0] for entry in legend] == labels
    class_map = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["classMapPng"]))))
    photo = ImageOps.exif_transpose(Image.open(sample_path(sample["model"], sample["file"])))
    photo = np.asarray(photo.convert("RGB")).astype(int)
    pixels = session.canvas_pixels()
    rows = (np.arange(pixels.shape[0]) + 0.5) * class_map.shape[0] / pixels.shape[0]
    columns = (np.arange(pixels.shape[1]) + 0.5) * class_map.shape[1] / pixels.shape[1]
    y, x = np.meshgrid(rows.astype(int), columns.astype(int), indexing="ij")
    classes = class_map[y, x]
    palette = np.array(PALETTE)[classes % len(PALETTE)]
    blended = np.where(classes[..., None] == 0, photo[y, x],
                       photo[y, x] * (1 - MASK_ALPHA) + palette * MASK_ALPHA)
    interior = _interior(classes)
    close = (np.abs(pixels - blended).max(axis=-1) <= 40)[interior]
    assert close.mean() >= 0.9, "the mask overlay is not where the model said"
    assert (classes[interior] != 0).any(), "no class but the background to check"


def _interior(classes: np.ndarray, margin: int = 3) -> np.ndarray:
    """Pixels whose class is the same `margin` pixels around (edges blur when scaled)."""
    same = np.ones(classes.shape, bool)
    for dy in (-margin, 0, margin):
        for dx in (-margin, 0, margin):
            same &= np.roll(classes, (dy, dx), axis=(0, 1)) == classes
    return same


def bar_names(session: Session) -> list[str]:
    return session.page.locator("ul.bars li .name").all_inner_texts()


def check_classes(session, answer, sample) -> None:
    assert bar_names(session) == [c["label"] for c in answer["classes"]]


def check_caption(session, answer, sample) -> None:
    assert session.page.inner_text(".caption") == answer["caption"]


def check_answers(session, answer, sample) -> None:
    assert bar_names(session) == [a["text"] for a in answer["answers"]]
    assert sample["options"]["question"] == session.page.input_value("#option-question")


def check_transcript(session, answer, sample) -> None:
    assert session.page.inner_text(".transcript-text") == answer["text"]
    assert session.page.locator("ol.segments li").count() == len(answer["segments"])


def _colour_near(pixels: np.ndarray, x: float, y: float, colour, radius: int = 3) -> bool:
    row, column = int(y), int(x)
    window = pixels[max(0, row - radius):row + radius + 1,
                    max(0, column - radius):column + radius + 1]
    return bool(near(window, colour).any())


def check_text_lines(session, answer, sample) -> None:
    texts = session.page.locator("ol.text-lines li").all_inner_texts()
    assert texts == [line["text"] for line in answer["lines"]]
    assert answer["lines"], "no text read in the sample"
    pixels = session.canvas_pixels()
    scale = np.array([pixels.shape[1] / answer["width"], pixels.shape[0] / answer["height"]])
    corners = [np.array([p["x"], p["y"]]) * scale for p in answer["lines"][0]["polygon"]]
    bottom = [corners[2] + (corners[3] - corners[2]) * t for t in np.linspace(0.2, 0.8, 10)]
    hits = [_colour_near(pixels, x, y, PALETTE[1]) for x, y in bottom]
    assert np.mean(hits) >= 0.8, "the text polygon is not drawn where the model read the line"


def check_pose(session, answer, sample) -> None:
    people = session.page.locator("ol.people li").all_inner_texts()
    assert len(people) == len(answer["people"]) >= 1
    pixels = session.canvas_pixels()
    scale_x, scale_y = pixels.shape[1] / answer["width"], pixels.shape[0] / answer["height"]
    last = len(answer["people"]) - 1  # drawn last, so nothing covers its points
    points = [k for k in answer["people"][last]["keypoints"] if k["score"] >= 0.3]
    hits = [_colour_near(pixels, k["position"]["x"] * scale_x, k["position"]["y"] * scale_y,
                         PALETTE[last + 4]) for k in points]
    assert points and np.mean(hits) >= 0.8, "keypoints not drawn where the model found them"


def check_anything_shown(session, answer, sample) -> None:
    assert session.page.inner_text("#output").strip(), "a task the page shows nothing for"


def check_picture(session, answer, sample) -> None:
    """A task answering a picture (upscale, dream): shown at its size, as the API sent it."""
    picture = "#output img.image-result"
    session.page.wait_for_function(f"() => document.querySelector('{picture}')?.naturalWidth > 0")
    size = session.page.eval_on_selector(picture, "img => [img.naturalWidth, img.naturalHeight]")
    assert size == [answer["width"], answer["height"]]
    source = session.page.get_attribute(picture, "src")
    assert source == f"data:image/png;base64,{answer['imagePng']}"


CHECKS = {"classify": check_classes, "detect": check_boxes, "segment": check_mask,
          "caption": check_caption, "answer_question": check_answers,
          "transcribe": check_transcript, "read_text": check_text_lines,
          "estimate_pose": check_pose, "upscale": check_picture, "dream": check_picture}


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind not in FILELESS])
def test_a_sample_of_every_task_renders(session, zoo_server, kind):
    sample = first_served_sample(zoo_server, kind)
    session.open(kind)
    session.click_sample(sample)
    answer = api_answer(zoo_server, kind, sample)
    CHECKS.get(kind, check_anything_shown)(session, answer, sample)
    assert re.fullmatch(r"server [\d.]+ ms · round trip [\d.]+ ms",
                        session.page.inner_text("#timing"))
    if SCREENSHOTS:
        session.page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(session.page.screenshot(), Path(SCREENSHOTS) / f"{kind}.png")


def answer_without_file(server, kind: str, options: dict[str, str]) -> dict:
    """What the HTTP task API answers a task that takes no file."""
    status, body, _ = post_options(f"{server.http_url}/tasks/{kind}", options)
    assert status == 200, body
    return body


def run_without_file(session: Session, options: dict[str, str]) -> None:
    assert session.page.is_hidden("#drop") and session.page.is_hidden("#gallery")
    for name, value in options.items():
        session.page.fill(f"#option-{name}", value)
    session.page.evaluate("document.body.removeAttribute('data-result')")
    session.page.click("#go")
    assert session.wait_for_result() == "done", session.page.inner_text("#error")


def test_a_game_runs_from_its_options_and_shows_the_animation(session, zoo_server):
    if "dqn_breakout" not in served_models(zoo_server):
        pytest.skip("dqn_breakout is not in the repository")
    session.open("play")
    options = {"seed": "77", "max_frames": "300"}
    run_without_file(session, options)
    answer = answer_without_file(zoo_server, "play", options)
    source = session.page.get_attribute("#output img.game", "src")
    assert source == f"data:image/gif;base64,{answer['animationGif']}"
    summary = session.page.inner_text(".game-summary")
    assert summary.startswith(f"score {answer.get('score', 0)} in {answer['frames']} frames")
    assert "seed 77 replays it" in summary
    if SCREENSHOTS:
        save_screenshot(session.page.screenshot(), Path(SCREENSHOTS) / "play.png")


def test_handwriting_runs_from_its_options_and_shows_the_drawing(session, zoo_server):
    if "hershey_writer" not in served_models(zoo_server):
        pytest.skip("hershey_writer is not in the repository")
    session.open("write")
    options = {"text": "hello world", "style": "cursive", "bias": "2", "seed": "7"}
    run_without_file(session, options)
    answer = answer_without_file(zoo_server, "write", options)
    drawing = "#output img.handwriting"
    session.page.wait_for_function(f"() => document.querySelector('{drawing}')?.naturalWidth > 0")
    size = session.page.eval_on_selector(drawing, "img => [img.naturalWidth, img.naturalHeight]")
    assert size == [int(v) for v in re.search(r'width="(\d+)" height="(\d+)"',
                                              answer["svg"]).groups()]
    links = session.page.locator("#output a").evaluate_all("links => links.map(a => a.href)")
    assert f"data:image/png;base64,{answer['png']}" in links
    summary = session.page.inner_text(".handwriting-summary")
    assert summary.startswith("“hello world” in cursive, bias 2")
    assert "seed 7 repeats it" in summary
    if SCREENSHOTS:
        save_screenshot(session.page.screenshot(), Path(SCREENSHOTS) / "write.png")


def test_an_analogy_runs_from_its_options(session, zoo_server):
    if "glove_6b_50d" not in served_models(zoo_server):
        pytest.skip("glove_6b_50d is not in the repository")
    session.open("analogy")
    options = {"word": "king", "minus": "man", "plus": "woman", "top_k": "5"}
    run_without_file(session, options)
    answer = answer_without_file(zoo_server, "analogy", options)
    assert bar_names(session) == [w["word"] for w in answer["words"]]
    assert "queen" in bar_names(session)


def save_screenshot(png: bytes, path: Path) -> None:
    """For docs/: 256 colours keep a screenshot small."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def test_upload_by_the_picker_and_the_corrupt_upload_error(session, zoo_server, tmp_path):
    session.open("classify")
    digit = tmp_path / "my_digit.png"
    shutil.copy(sample_path("lenet5_mnist", "digit_7.png"), digit)
    session.page.select_option("#model", "lenet5_mnist")
    session.page.set_input_files("#file", str(digit))
    assert session.wait_for_result() == "done"
    assert bar_names(session)[0] == "7"

    session.open("detect")
    broken = tmp_path / "photo.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG")
    session.page.evaluate("document.body.removeAttribute('data-result')")
    session.page.set_input_files("#file", str(broken))
    assert session.wait_for_result() == "error"
    session.expected_failures += 1
    _, api, _ = post_file(f"{zoo_server.http_url}/tasks/detect", broken.read_bytes())
    assert session.page.inner_text("#error") == api["error"]
    assert session.page.is_visible("#error")


def _hand_over(session: Session, sample_url: str, how: str) -> None:
    """Drop or paste a file, as the browser's own events carry it."""
    session.page.evaluate("document.body.removeAttribute('data-result')")
    session.page.evaluate("""async ([url, how]) => {
        const blob = await (await fetch(url)).blob();
        const transfer = new DataTransfer();
        transfer.items.add(new File([blob], url.split("/").pop(), { type: blob.type }));
        const event = how === "drop"
          ? new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true })
          : new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true });
        (how === "drop" ? document.getElementById("drop") : document).dispatchEvent(event);
    }""", [sample_url, how])
    assert session.wait_for_result() == "done"


def test_drop_and_paste(session, zoo_server):
    session.open("caption")
    sample = first_served_sample(zoo_server, "caption")
    answer = api_answer(zoo_server, "caption", sample)
    session.page.select_option("#model", sample["model"])
    _hand_over(session, sample["url"], "drop")
    assert session.page.inner_text(".caption") == answer["caption"]
    session.open("classify")
    session.page.select_option("#model", "lenet5_mnist")
    _hand_over(session, "/samples/lenet5_mnist/digit_4.png", "paste")
    assert bar_names(session)[0] == "4"


def test_keyboard_alone(session):
    session.open("classify")
    session.page.focus("#tab-classify")
    session.page.keyboard.press("ArrowRight")
    assert session.page.get_attribute("#tab-detect", "aria-selected") == "true"
    assert session.page.evaluate("document.activeElement.id") == "tab-detect"
    session.page.locator("#gallery button").first.focus()
    session.page.keyboard.press("Enter")
    assert session.wait_for_result() == "done"
    session.page.evaluate("""document.getElementById('file').addEventListener(
        'click', () => { window.pickerOpened = true; })""")
    session.page.focus("#drop")
    session.page.keyboard.press("Enter")
    assert session.page.evaluate("window.pickerOpened") is True


def test_fits_a_phone_sized_screen(session):
    session.page.set_viewport_size({"width": 390, "height": 844})
    for kind in ("detect", "answer_question", "transcribe"):
        session.open(kind)
        width = session.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{kind}: the page is {width} px wide on a 390 px screen"


LIVE = {"detect": "ol.detections li", "segment": "#legend .entry", "estimate_pose": "ol.people li"}


@pytest.mark.parametrize("kind", [kind for kind in LIVE if kind in KINDS])
def test_the_webcam_feeds_live_overlays(session, zoo_server, kind):
    """The fake camera shows the sample photos: the page must show what the model finds in
    them (the labels the HTTP API gives for the photos themselves)."""
    first_served_sample(zoo_server, kind)  # skips when no model serves the task
    found = set()
    for photo in CAMERA_PHOTOS:
        _, answer, _ = post_file(f"{zoo_server.http_url}/tasks/{kind}", photo.read_bytes())
        found |= {d["label"] for d in answer.get("detections", [])}
        found |= {s["label"] for s in answer.get("shares", []) if s["index"] != 0}
        found |= {"person" for _ in answer.get("people", [])}
    assert found, f"the default {kind} model finds nothing in the camera's photos"
    session.open(kind)
    session.page.click("#camera")
    session.page.wait_for_function(
        "Number(document.getElementById('output').dataset.frames || 0) >= 5", timeout=60_000)
    assert re.fullmatch(r"[\d.]+ frames/s", session.page.inner_text("#fps"))
    # Each frame redraws the list and frames between the two photos may show nothing, so the
    # labels are read and matched in one step inside the page, and what was shown last is kept.
    shows_a_found_label = f"""found => {{
        window.liveLabels = [...document.querySelectorAll({json.dumps(LIVE[kind])})]
            .map(entry => entry.innerText.replace(/ [\\d.]+%.*$/s, ''));
        return window.liveLabels.some(label => found.includes(label));
    }}"""
    try:
        session.page.wait_for_function(shows_a_found_label, arg=sorted(found), timeout=60_000)
    except PlaywrightTimeout:
        shown = session.page.evaluate("window.liveLabels")
        pytest.fail(f"{shown} shown last; the model finds {found} in the photos")
    session.page.click("#camera")
    assert session.page.get_attribute("#camera", "aria-pressed") == "false"


def test_the_microphone_gets_a_transcript(session, zoo_server):
    model, recording = MIC_SAMPLE
    if model not in served_models(zoo_server):
        pytest.skip("no speech model served (whisper_tiny_en is built by 'make speech-model')")
    expected = next(s["expected"] for s in json.loads(
        sample_path(model, "expected.json").read_text())["samples"] if s["audio"] == recording)
    session.open("transcribe")
    session.page.evaluate("""() => { window.statuses = [];
        new MutationObserver(() => window.statuses.push(
            document.getElementById('status').textContent))
          .observe(document.getElementById('status'), { childList: true, subtree: true,
                                                         characterData: true }); }""")
    session.page.click("#mic")
    session.page.wait_for_function(  # the recording (3.3 s) and a little silence after it
        "/recording… (\\d+\\.\\d)/.exec(document.getElementById('status').textContent)?.[1] >= 4",
        timeout=60_000)
    session.page.click("#mic")
    assert session.wait_for_result() == "done", session.page.inner_text("#error")
    heard = session.page.inner_text(".transcript-text")
    assert word_error_rate(expected, heard) <= 0.25, heard
    statuses = session.page.evaluate("window.statuses")
    assert any(re.search(r"working… \d", s) for s in statuses), \
        "the page did not show progress while the model worked"
