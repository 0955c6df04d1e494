"""The zoo's sample inputs (`exported_models/samples/<model>/expected.json`) and their checks.

Two layouts of expected.json are read:

- `{"model", "task", "samples": [{"image" | "audio": file, "question"?, "expected": ...}]}`
  where `expected` is the label, caption, answer or words said (speech also matches the
  model's own greedy `transcript` where given) (for segmentation: the class
  names present, and with `mask`, the true class map, matched to within PIXEL_SLACK of
  `pixel_accuracy_of_committed_model`);
- `{"model", "task", "images": {file: {...}}}` with, for detection, the `boxes` found (IoU at
  least `box_iou_at_least`, and the same class where `labels` are given), for segmentation,
  `<label>_share_range` per class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from contract.wer import normalise_text, word_error_rate

from .client import StreamItem
from .results import (
    Answers,
    Caption,
    Classification,
    ClientError,
    Detections,
    Result,
    Segmentation,
    Transcript,
)

CLIENT_TASK = {"classification": "classify", "detection": "detect", "segmentation": "segment",
               "captioning": "caption", "vqa": "ask", "speech": "transcribe"}
DEFAULT_MAX_WORD_ERROR_RATE = 0.25
PIXEL_SLACK = 0.02  # pixel accuracy may fall this far below the one the zoo measured


@dataclass(frozen=True)
class SampleCase:
    """One input of a samples folder and what the model should say about it."""

    model: str
    task: str  # model-folder task name: classification, detection, ...
    path: Path
    expected: dict[str, Any] = field(default_factory=dict)  # the entry as expected.json has it
    options: dict[str, Any] = field(default_factory=dict)  # request fields (question, ...)

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


def check(case: SampleCase, result: Result) -> tuple[bool, str]:
    """Whether a result matches the sample's expectation, and a short reason."""
    want = case.expected.get("expected")
    if isinstance(result, Classification):
        return result.top.label == want, f"top {result.top.label!r}, expected {want!r}"
    if isinstance(result, Answers):
        top = result.answers[0].text if result.answers else ""
        return top == want, f"answer {top!r}, expected {want!r}"
    if isinstance(result, Caption):
        same = normalise_text(result.text) == normalise_text(str(want))
        return same, f"caption {result.text!r}, expected {want!r}"
    if isinstance(result, Transcript):
        reference = str(want or case.expected.get("text", ""))
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
    if isinstance(result, Detections):
        return _check_detection(case, result)
    if isinstance(result, Segmentation):
        return _check_segmentation(case, result)
    return False, f"no check for {type(result).__name__}"


def outcome_text(outcome: Result | ClientError) -> str:
    if isinstance(outcome, ClientError):
        return f"{outcome.code.name}: {outcome.message}"
    from .cli import describe

    return describe(outcome)
