"""The zoo's sample inputs (`exported_models/samples/<model>/expected.json`) and their checks.

Two layouts of expected.json are read:

- `{"model", "task", "samples": [{"image" | "audio": file, "question"?, "expected": ...}]}`
  where `expected` is the label, caption, answer or words said (speech also matches the
  model's own greedy `transcript` where given) (for segmentation: the class
  names present, and with `mask`, the true class map, matched to within PIXEL_SLACK of
  `pixel_accuracy_of_committed_model`; for text reading: the true lines, and the lines the
  importer read (`read_when_imported`), which the server must repeat to within SAME_READING,
  else the true lines read with at least `min_character_accuracy`, words in any order);
- `{"model", "task", "images": {file: {...}}}` with, for detection, the `boxes` found (IoU at
  least `box_iou_at_least`, and the same class where `labels` are given), for segmentation,
  `<label>_share_range` per class, for upscaling, the answer's `size` and how close it comes
  to the photo when shrunk back (`mean_abs_diff_shrunk_at_most`, grey levels);
- `{"model", "task": "play", "games": [{"seed", "score_at_least", ...}]}`: games the agent
  plays from a seed (no input file), each to score at least `score_at_least`;
- `{"model", "task": "write", "texts": [{"text", "style", "seed", "bias", "font_points"}]}`:
  texts to write (no input file), each to the end and in `font_points` pen points (the font's
  own count) within a factor of two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from contract.wer import character_accuracy, normalise_text, word_error_rate

from .client import StreamItem
from .results import (
    Answers,
    Caption,
    Classification,
    ClientError,
    Detections,
    Dreamed,
    Game,
    Handwriting,
    Poses,
    Result,
    Segmentation,
    TextReading,
    Transcript,
    Upscaled,
)

CLIENT_TASK = {"classification": "classify", "detection": "detect", "segmentation": "segment",
               "captioning": "caption", "vqa": "ask", "speech": "transcribe", "pose": "pose",
               "ocr": "read", "upscale": "upscale", "dream": "dream", "play": "play",
               "write": "write"}
DEFAULT_MAX_WORD_ERROR_RATE = 0.25
DEFAULT_MIN_CHARACTER_ACCURACY = 0.9  # text reading, words in any order
SAME_READING = 0.98  # text reading: share of the import's reading the server must repeat
KEYPOINT_SLACK = 0.03  # pose: a keypoint may move this share of the image's longer side
PIXEL_SLACK = 0.02  # pixel accuracy may fall this far below the one the zoo measured


@dataclass(frozen=True)
class SampleCase:
    """One input of a samples folder and what the model should say about it."""

    model: str
    task: str  # model-folder task name: classification, detection, ...
    path: Path
    expected: dict[str, Any] = field(default_factory=dict)  # the entry as expected.json has it
    options: dict[str, Any] = field(default_factory=dict)  # request fields (question, ...)
    has_file: bool = True  # False for a game or a text: `path` only names it, the options
    # are the input

    @property
    def name(self) -> str:
        question = self.options.get("question")
        return f"{self.path.name} ({question})" if question else self.path.name

    def stream_item(self, key: str) -> StreamItem:
        return StreamItem(key, CLIENT_TASK[self.task], self.path, self.model,
                          options=self.options)


def load_cases(folder: Path) -> list[SampleCase]:
    """The cases of one samples folder (empty when it has no expected.json)."""
    path = Path(folder) / "expected.json"
    if not path.exists():
        return []
    document = json.loads(path.read_text())
    model, task = document["model"], document["task"]
    cases = []
    for entry in document.get("samples", []):
        file = entry.get("image") or entry.get("audio") or entry.get("file")
        options = {"question": entry["question"]} if "question" in entry else {}
        cases.append(SampleCase(model, task, Path(folder) / file, entry, options))
    for file, entry in document.get("images", {}).items():
        options = {}
        if task == "detection" and "score_threshold" in document:
            options["score_threshold"] = document["score_threshold"]
        entry = {**entry, "box_iou_at_least": document.get("box_iou_at_least", 0.5)}
        cases.append(SampleCase(model, task, Path(folder) / file, entry, options))
    for entry in document.get("games", []):  # no file: the seed is the input
        cases.append(SampleCase(model, task, Path(folder) / f"seed_{entry['seed']}", entry,
                                {"seed": entry["seed"]}, has_file=False))
    for entry in document.get("texts", []):
        options = {key: entry[key] for key in ("text", "style", "seed", "bias")}
        name = f"{entry['text'].replace(' ', '_')}_{entry['style']}"
        cases.append(SampleCase(model, task, Path(folder) / name, entry, options,
                                has_file=False))
    return cases


def _box_iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _check_detection(case: SampleCase, result: Detections) -> tuple[bool, str]:
    expected = case.expected.get("boxes", [])
    found = [[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in result.detections]
    if len(found) != len(expected):
        return False, f"expected {len(expected)} detections, got {len(found)}"
    least = case.expected["box_iou_at_least"]
    labels = case.expected.get("labels") or [None] * len(expected)
    for box, label in zip(expected, labels):
        same = [other for other, d in zip(found, result.detections) if label in (None, d.label)]
        best = max((_box_iou(box, other) for other in same), default=0.0)
        if best < least:
            named = f"{label} " if label else ""
            return False, (f"no {named}detection overlaps {box} with IoU >= {least} "
                           f"(best {best:.2f})")
    return True, f"{len(found)} detection(s) where expected"


def _check_segmentation(case: SampleCase, result: Segmentation) -> tuple[bool, str]:
    shares = {s.label: s.pixel_fraction for s in result.shares}
    if "mask" in case.expected:
        truth = np.asarray(Image.open(case.path.parent / case.expected["mask"]))
        found = result.class_map
        if found.shape != truth.shape:
            return False, f"class map is {found.shape}, the true mask {truth.shape}"
        accuracy = float(np.mean(found == truth))
        least = case.expected.get("pixel_accuracy_of_committed_model", 0.9) - PIXEL_SLACK
        if accuracy < least:
            return False, f"pixel accuracy {accuracy:.3f} < {least:.3f}"
    if isinstance(case.expected.get("expected"), list):
        wanted = set(case.expected["expected"])
        present = {label for label, share in shares.items() if share >= 0.001}
        background = result.class_names[0] if result.class_names else "background"
        missing = wanted - present
        extra = {label for label in present - wanted - {background} if shares[label] >= 0.01}
        ok = not missing and not extra
        return ok, f"missing {sorted(missing)}, unexpected {sorted(extra)}" if not ok else "ok"
    for key, (low, high) in ((k, v) for k, v in case.expected.items()
                             if k.endswith("_share_range")):
        label = key.removesuffix("_share_range")
        share = shares.get(label, 0.0)
        if not low <= share <= high:
            return False, f"{label} covers {share:.3f}, expected {low}..{high}"
    return True, "shares in range"


def _check_pose(case: SampleCase, result: Poses) -> tuple[bool, str]:
    wanted = case.expected.get("people", 1)
    if len(result.people) != wanted:
        return False, f"expected {wanted} people, found {len(result.people)}"
    slack = KEYPOINT_SLACK * max(result.width, result.height)
    found = {k.name: k.position for k in result.people[0].keypoints} if result.people else {}
    for name, (x, y) in case.expected.get("keypoints", {}).items():
        if name not in found:
            return False, f"no keypoint {name!r}"
        distance = ((found[name].x - x) ** 2 + (found[name].y - y) ** 2) ** 0.5
        if distance > slack:
            return False, f"{name} at ({found[name].x:.0f}, {found[name].y:.0f}), expected " \
                f"({x:.0f}, {y:.0f}) within {slack:.0f} px"
    return True, f"{len(result.people)} person(s), keypoints where expected"


def _check_label(case: SampleCase, result: Classification | Answers) -> tuple[bool, str]:
    want = case.expected.get("expected")
    if isinstance(result, Classification):
        return result.top.label == want, f"top {result.top.label!r}, expected {want!r}"
    top = result.answers[0].text if result.answers else ""
    return top == want, f"answer {top!r}, expected {want!r}"


def _check_caption(case: SampleCase, result: Caption) -> tuple[bool, str]:
    want = case.expected.get("expected")
    same = normalise_text(result.text) == normalise_text(str(want))
    return same, f"caption {result.text!r}, expected {want!r}"


def _check_transcript(case: SampleCase, result: Transcript) -> tuple[bool, str]:
    reference = str(case.expected.get("expected") or case.expected.get("text", ""))
    rate = word_error_rate(reference, result.text)
    limit = case.expected.get("max_wer", DEFAULT_MAX_WORD_ERROR_RATE)
    reason = f"word error rate {rate:.2f} (limit {limit})"
    own = case.expected.get("transcript")  # the model's greedy output where it was made
    if own is not None and normalise_text(own) != normalise_text(result.text):
        return False, f"{reason}; differs from the model's own transcript {own!r}"
    language = case.expected.get("language")
    if language is not None and result.language != language:
        return False, f"{reason}; heard language {result.language!r}, spoken {language!r}"
    return rate <= limit, reason


def _check_text(case: SampleCase, result: TextReading) -> tuple[bool, str]:
    read = [line.text for line in result.lines]
    if "read_when_imported" in case.expected:  # the server repeats the importer's reading
        accuracy = character_accuracy(case.expected["read_when_imported"], read)
        return accuracy >= SAME_READING, f"{accuracy:.3f} of the characters read at import"
    accuracy = character_accuracy(list(case.expected.get("expected") or []), read,
                                  any_order=True)
    least = case.expected.get("min_character_accuracy", DEFAULT_MIN_CHARACTER_ACCURACY)
    return accuracy >= least, f"character accuracy {accuracy:.3f} (at least {least})"


def _check_upscaled(case: SampleCase, result: Upscaled) -> tuple[bool, str]:
    size = [result.width, result.height]
    if size != case.expected["size"]:
        return False, f"answer is {size[0]}x{size[1]}, expected {case.expected['size']}"
    photo = Image.open(case.path).convert("RGB")
    shrunk = result.image().convert("RGB").resize(photo.size, Image.Resampling.BOX)
    difference = float(np.mean(np.abs(np.asarray(shrunk, np.int16) -
                                      np.asarray(photo, np.int16))))
    most = case.expected["mean_abs_diff_shrunk_at_most"]
    return difference <= most, f"shrunk back, {difference:.2f} grey levels from the photo " \
        f"(at most {most})"


def _check_dreamed(case: SampleCase, result: Dreamed) -> tuple[bool, str]:
    size = [result.width, result.height]
    if size != case.expected["size"]:
        return False, f"answer is {size[0]}x{size[1]}, expected {case.expected['size']}"
    photo = np.asarray(Image.open(case.path).convert("RGB"), np.int16)
    changed = float(np.mean(np.abs(np.asarray(result.image().convert("RGB"), np.int16) - photo)))
    least = case.expected["mean_abs_diff_at_least"]
    return changed >= least, f"changed by {changed:.2f} grey levels (at least {least})"


def _check_game(case: SampleCase, result: Game) -> tuple[bool, str]:
    least = case.expected["score_at_least"]
    return result.score >= least, f"score {result.score} in {result.frames} frames (at least " \
        f"{least})"


def _check_handwriting(case: SampleCase, result: Handwriting) -> tuple[bool, str]:
    font_points = case.expected["font_points"]
    fits = font_points / 2 <= result.steps <= font_points * 2
    ending = "to the end" if result.finished else "NOT to the end"
    return result.finished and fits, f"written {ending} in {result.steps} pen points (the " \
        f"font: {font_points})"


CHECKS: dict[type, Callable[[SampleCase, Any], tuple[bool, str]]] = {
    Classification: _check_label, Answers: _check_label, Caption: _check_caption,
    Transcript: _check_transcript, TextReading: _check_text, Detections: _check_detection,
    Poses: _check_pose, Segmentation: _check_segmentation, Upscaled: _check_upscaled,
    Dreamed: _check_dreamed, Game: _check_game, Handwriting: _check_handwriting,
}


def check(case: SampleCase, result: Result) -> tuple[bool, str]:
    """Whether a result matches the sample's expectation, and a short reason."""
    checker = CHECKS.get(type(result))
    return checker(case, result) if checker else (False, f"no check for {type(result).__name__}")


def outcome_text(outcome: Result | ClientError) -> str:
    if isinstance(outcome, ClientError):
        return f"{outcome.code.name}: {outcome.message}"
    from .cli import describe

    return describe(outcome)
