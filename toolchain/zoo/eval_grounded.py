"""Measure grounded_captioner and grounded_vqa on photos labelled by hand by the developer.

The photos come from packages (scikit-image's data, matplotlib's sample data, two collages
of them side by side for questions about positions, the text reader's rendered samples), and,
when `--ultralytics-assets DIR` names the `ultralytics` wheel's `assets/` folder, its
`bus.jpg` and `zidane.jpg`. None is shipped as a sample of these models except the four
shipped photos used for `make demo`. Labels (LABELS, CAPTIONS below) were written by the
developer looking at each photo (what is in it, not what the models said); an answer counts as
right when its top answer is the label (a number, yes/no, a colour among those accepted,
a place), or contains the labelled words for text, or starts with "I can't tell" for a
question outside the grammar. A caption counts as right when it names exactly the labelled
main objects with their counts (numbers as words) and no other object.

`python -m toolchain.zoo.eval_grounded [--ultralytics-assets DIR]` serves exported_models/
(ppocr_v4 counts only when built: `make ocr-model`), writes metrics.json into both folders
and prints the table the cards quote.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from clients import Client
from service.launch import running_server
from service.tasks.grounded_words import counted, plural
from toolchain.zoo._publish import write_metrics

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "exported_models"
UNSURE = "I can't tell"

# photo -> the main objects in it and how many (the caption must name exactly these)
CAPTIONS: dict[str, dict[str, int]] = {
    "astronaut": {"person": 1}, "coffee": {"cup": 1}, "chelsea": {"cat": 1},
    "grace_hopper": {"person": 1, "tie": 1}, "rocket": {}, "motorcycle": {"motorcycle": 1},
    "camera": {"person": 1}, "cat_and_woman": {"cat": 1, "person": 1},
    "woman_and_cup": {"person": 1, "cup": 1}, "bus": {"bus": 1, "person": 4},
    "zidane": {"person": 2, "tie": 2},
}
# (photo, question, accepted answers); "text:" answers: words the answer must contain
LABELS: list[tuple[str, str, tuple[str, ...]]] = [
    ("astronaut", "how many people are there?", ("1",)),
    ("astronaut", "is there a person?", ("yes",)),
    ("astronaut", "is there a dog?", ("no",)),
    ("astronaut", "where is the woman?", ("in the middle",)),
    ("coffee", "how many cups?", ("1",)),
    ("coffee", "is there a person in the picture?", ("no",)),
    ("coffee", "what colour is the cup?", ("white",)),
    ("chelsea", "how many cats?", ("1",)),
    ("chelsea", "what colour is the cat?", ("orange", "brown")),
    ("chelsea", "are there any dogs?", ("no",)),
    ("grace_hopper", "how many people?", ("1",)),
    ("grace_hopper", "is there a tie?", ("yes",)),
    ("grace_hopper", "is there a clock?", ("no",)),
    ("rocket", "how many people?", ("0",)),
    ("rocket", "is there a car?", ("no",)),
    ("rocket", "what colour is the picture?", ("blue", "black")),
    ("motorcycle", "is there a motorcycle?", ("yes",)),
    ("motorcycle", "what colour is the motorcycle?", ("red",)),
    ("motorcycle", "how many bikes?", ("0",)),
    ("camera", "how many men?", ("1",)),
    ("camera", "where is the man?", ("on the left",)),
    ("camera", "what colour is the picture?", ("grey", "white")),
    ("cat_and_woman", "is the cat left of the woman?", ("yes",)),
    ("cat_and_woman", "is the person to the left of the cat?", ("no",)),
    ("cat_and_woman", "where is the cat?", ("on the left",)),
    ("cat_and_woman", "is the cat next to the person?", ("yes",)),
    ("woman_and_cup", "is the cup right of the astronaut?", ("yes",)),
    ("woman_and_cup", "is the cup above the person?", ("no",)),
    ("woman_and_cup", "how many cups are there?", ("1",)),
    ("page", "what does it say?", ("text:Let us first determine markers",)),
    ("rendered_0", "what is written?", ("text:Sparse is better than dense",)),
    ("rendered_1", "what does the text say?", ("text:90.84",)),
    ("bus", "how many people?", ("4",)),
    ("bus", "is there a bus?", ("yes",)),
    ("bus", "what colour is the bus?", ("blue",)),
    ("bus", "what does the bus say?", ("text:cero emisiones",)),
    ("zidane", "how many people?", ("2",)),
    ("zidane", "is there a tie?", ("yes",)),
    ("zidane", "is the person raising their arms?", ("no",)),
    ("chelsea", "what is the cat thinking?", (UNSURE,)),
    ("astronaut", "how many unicorns?", (UNSURE,)),
    ("bus", "where is the bus going?", (UNSURE,)),
    ("coffee", "is the coffee hot?", (UNSURE,)),
]


def _photos(folder: Path, ultralytics: Path | None) -> dict[str, Path]:
    import matplotlib.cbook
    import skimage.data

    arrays = {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(),
              "chelsea": skimage.data.chelsea(), "rocket": skimage.data.rocket(),
              "motorcycle": skimage.data.stereo_motorcycle()[0],
              "camera": skimage.data.camera(), "page": skimage.data.page()}
    paths = {}
    for name, array in arrays.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(np.asarray(array)).save(paths[name])
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        paths["grace_hopper"] = folder / "grace_hopper.png"
        Image.open(file).convert("RGB").save(paths["grace_hopper"])
    paths["cat_and_woman"] = _side_by_side(paths["chelsea"], paths["grace_hopper"], folder)
    paths["woman_and_cup"] = _side_by_side(paths["astronaut"], paths["coffee"], folder)
    for name in ("rendered_0", "rendered_1"):
        paths[name] = ZOO / "samples" / "ppocr_v4" / f"{name}.jpg"
    if ultralytics is not None:
        paths["bus"], paths["zidane"] = ultralytics / "bus.jpg", ultralytics / "zidane.jpg"
    return paths


def _side_by_side(left: Path, right: Path, folder: Path) -> Path:
    first, second = (Image.open(p).convert("RGB") for p in (left, right))
    height = 300
    first, second = (im.resize((round(im.width * height / im.height), height))
                     for im in (first, second))
    both = Image.new("RGB", (first.width + second.width, height), (255, 255, 255))
    both.paste(first, (0, 0))
    both.paste(second, (first.width, 0))
    path = folder / f"{left.stem}_{right.stem}.png"
    both.save(path)
    return path


def _squashed(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def answer_right(answer: str, accepted: tuple[str, ...]) -> bool:
    for wanted in accepted:
        if wanted.startswith("text:") and _squashed(wanted[5:]) in _squashed(answer):
            return True
        if wanted == UNSURE and answer.startswith(UNSURE):
            return True
        if answer == wanted:
            return True
    return False


def caption_right(caption: str, objects: dict[str, int]) -> bool:
    named = caption.split(";")[0]
    if not objects:
        return "no object I know" in named
    phrases = [counted(label, count) for label, count in objects.items()]
    nouns = [plural(label) if count > 1 else label for label, count in objects.items()]
    parts = re.split(r", | and ", named)
    return len(parts) == len(objects) and all(
        any(part.startswith(phrase.split(" ")[0]) and part.endswith(noun) for part in parts)
        for phrase, noun in zip(phrases, nouns))


def evaluate(ultralytics: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, running_server(ZOO, timeout=600) as server, \
            Client(server.grpc_url, timeout_s=300) as client:
        paths = _photos(Path(tmp), ultralytics)
        text_served = any(m.name == "ppocr_v4" for m in client.models().models)
        rows, captions = [], []
        for photo, objects in CAPTIONS.items():
            if photo in paths:
                caption = client.caption(paths[photo], model="grounded_captioner").text
                captions.append((photo, caption, caption_right(caption, objects)))
        for photo, question, accepted in LABELS:
            if photo not in paths or (accepted[0].startswith("text:") and not text_served):
                continue
            top = client.ask(paths[photo], question, model="grounded_vqa").answers[0].text
            rows.append((photo, question, accepted, top, answer_right(top, accepted)))
    return {"captions": captions, "answers": rows, "text_reader_served": text_served}


def metrics_of(result: dict) -> dict:
    captions, answers = result["captions"], result["answers"]
    grammar = [r for r in answers if r[2][0] != UNSURE]
    outside = [r for r in answers if r[2][0] == UNSURE]
    return {
        "labelled_by": "the developer, by hand, on photos from packages (see eval_grounded.py)",
        "captions_right": f"{sum(c[2] for c in captions)}/{len(captions)}",
        "answers_in_grammar_right": f"{sum(r[4] for r in grammar)}/{len(grammar)}",
        "questions_outside_grammar_refused": f"{sum(r[4] for r in outside)}/{len(outside)}",
        "text_reader_served": result["text_reader_served"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ultralytics-assets", type=Path, default=None,
                        help="the ultralytics wheel's assets/ folder (bus.jpg, zidane.jpg)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = evaluate(args.ultralytics_assets)
    for photo, caption, right in result["captions"]:
        print(f"| {photo} | {caption} | {'right' if right else 'WRONG'} |")
    for photo, question, accepted, top, right in result["answers"]:
        print(f"| {photo} | {question} | {' / '.join(accepted)} | {top[:60]} | "
              f"{'right' if right else 'WRONG'} |")
    metrics = metrics_of(result)
    print(json.dumps(metrics, indent=2))
    for name in ("grounded_captioner", "grounded_vqa"):
        write_metrics(ZOO / name, metrics)


if __name__ == "__main__":
    main()
