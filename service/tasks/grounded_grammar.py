"""What grounded captions and answers say: a small grammar over what the models saw.

`Scene` holds what the component models saw in one image (service/tasks/grounding.py gathers
it); this module only composes text from it, with no model and no transport:

- caption: the main kinds of object (largest first, at most `max_objects`) with their counts,
  a colour for a single object whose middle is mostly one colour, a lone person's raised
  arms, and the words read: 'a person with both arms raised, a red car and two cups; the
  text says "STOP"'; with no object, the picture's main colour.
- questions (`QUESTION_FORMS`): counting, existence, colour, place, position of one object
  against another, raised arms, what the text says, and "what is in the picture?". Anything
  else, or an object the detector does not know, is answered "I can't tell" with the forms
  it can answer.

Scores are the detector's own scores and colour shares, not calibrated probabilities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .classify import ClassScore
from .grounded_words import (
    COLOUR_WORDS,
    NUMBER_WORDS,
    counted,
    listed,
    object_label,
    place,
    plural,
    vocabulary,
)

COLOUR_SHARE = 0.4  # a caption names a colour covering at least this share of the middle
CAPTION_WORDS = 12  # a caption quotes at most this many words of the text read
UNSURE = "I can't tell"
EVERYTHING = frozenset({"objects", "pose", "text"})  # what a scene can be gathered from



@dataclass(frozen=True)
class SeenObject:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of width and height
    colours: tuple[tuple[str, float], ...] = ()  # colour names by share of the box's middle

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass(frozen=True)
class Scene:
    """What the component models saw in one image."""

    objects: list[SeenObject]  # at or above the object score, best first
    candidates: list[SeenObject]  # below it but above CANDIDATE_SHARE of it
    colours: tuple[tuple[str, float], ...]  # of the whole image, by share
    known_labels: tuple[str, ...]
    lines: list[tuple[str, float]] | None = None  # text read, in reading order; None: unread
    rejected_line_score: float = 0.0  # the best score of a line read below `text_score`
    arms_raised: tuple[int, float] | None = None  # the main person's raised arms, confidence
    missing: dict[str, str] = field(default_factory=dict)  # part -> why it was not seen

    def of(self, label: str) -> list[SeenObject]:
        return [o for o in self.objects if o.label == label]

    def candidate_score(self, label: str) -> float:
        return max((o.score for o in self.candidates if o.label == label), default=0.0)


# ---------------------------------------------------------------------------------------------
# captions


def _main_colour(seen: SeenObject) -> str:
    if seen.label == "person" or not seen.colours:
        return ""  # a person's "colour" is their clothes and skin: not named
    name, share = seen.colours[0]
    return name if share >= COLOUR_SHARE else ""


def caption_scene(scene: Scene, max_objects: int) -> tuple[str, float]:
    """The caption and its log-probability (the sum of the log scores of the objects named,
    as if the scores were independent probabilities)."""
    if not scene.objects:
        colour = scene.colours[0][0] if scene.colours else "dark"
        return f"a mostly {colour} picture with no object I know{_text_phrase(scene)}", 0.0
    groups: dict[str, list[SeenObject]] = {}
    for seen in sorted(scene.objects, key=lambda o: -o.area):
        groups.setdefault(seen.label, []).append(seen)
    named = list(groups.items())[:max_objects]
    phrases = [counted(label, len(group), _main_colour(group[0]) if len(group) == 1 else "")
               + (_arms_phrase(scene) if label == "person" and len(group) == 1 else "")
               for label, group in named]
    log_probability = sum(math.log(max(o.score, 1e-6)) for _, group in named for o in group)
    return listed(phrases) + _text_phrase(scene), log_probability


def _arms_phrase(scene: Scene) -> str:
    if scene.arms_raised is None or scene.arms_raised[0] == 0:
        return ""
    return " with both arms raised" if scene.arms_raised[0] == 2 else " with an arm raised"


def _text_phrase(scene: Scene) -> str:
    if not scene.lines:
        return ""
    words = " ".join(text for text, _ in scene.lines).split()
    quoted = " ".join(words[:CAPTION_WORDS]) + (" ..." if len(words) > CAPTION_WORDS else "")
    return f'; the text says "{quoted}"'


# ---------------------------------------------------------------------------------------------
# questions

_PICTURE = r"(?: in (?:the|this) (?:picture|image|photo|scene))?(?: here)?"
_NOUN = r"(?P<x>[a-z ]+?)"
_THING = r"(?:the |a |an |any |some )?" + _NOUN
RELATIONS = {
    "left of": "left of", "to the left of": "left of", "on the left of": "left of",
    "right of": "right of", "to the right of": "right of", "on the right of": "right of",
    "above": "above", "over": "above", "on top of": "above", "below": "below",
    "under": "below", "beneath": "below", "underneath": "below", "next to": "next to",
    "beside": "next to", "near": "next to", "by": "next to",
}
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))


CONTRACTIONS = {"what's": "what is", "where's": "where is", "there's": "there is",
                "what're": "what are", "where're": "where are", "it's": "it is"}


PLACES = {"on the left": "left", "on the right": "right", "at the top": "top",
          "at the bottom": "bottom", "in the middle": "middle", "in the centre": "middle",
          "in the center": "middle"}  # a place asked -> the word `place` answers with


@dataclass(frozen=True)
class QuestionForm:
    name: str
    example: str
    patterns: tuple[str, ...]


QUESTION_FORMS = (
    QuestionForm("scene", "what is in the picture?", (
        r"what (?:is|can you see|do you see|is shown|is there)" + _PICTURE,
        r"(?:describe|caption) (?:the|this) (?:picture|image|photo|scene)",
        r"what is (?:this|it)(?: a (?:picture|image|photo) of)?",
        r"what is this (?:picture|image|photo)(?: of| about)?",
        r"what (?:objects|things) (?:are there|are|do you see|can you see)" + _PICTURE)),
    QuestionForm("count", "how many X?", (
        r"how many " + _NOUN
        + r"(?: are there| are| is there| do you see| can you see| can be seen| are visible)?"
        + _PICTURE,
        r"count (?:the |all the )?" + _NOUN + _PICTURE)),
    QuestionForm("number", "are there two X?", (
        r"(?:are there|is there|do you see|can you see) (?:exactly )?(?P<n>"
        + "|".join(NUMBER_WORDS[1:]) + r"|[0-9]+) " + _NOUN + _PICTURE,)),
    QuestionForm("relation", "is the X left of / right of / above / below / next to the Y?", (
        r"(?:is|are) (?:there )?" + _THING + r" (?P<relation>" + _RELATION + r") "
        r"(?:the |a |an |any )?(?P<y>[a-z ]+?)" + _PICTURE,)),
    QuestionForm("exists_at", "is there a X on the left?", (
        r"(?:is there|are there|do you see|can you see) " + _THING + r" (?P<place>"
        + "|".join(PLACES) + r")" + _PICTURE,)),
    QuestionForm("exists", "is there a X?", (
        r"(?:is there|are there|do you see|can you see|is this|is it|are these|does (?:the|this) "
        r"(?:picture|image|photo) (?:show|contain|have)) " + _THING + _PICTURE,
        r"is (?:there )?(?P<x>anyone|anybody|someone|somebody)" + _PICTURE)),
    QuestionForm("colour", "what colour is the X?", (
        r"what colou?r (?:is|are) " + _THING + _PICTURE,
        r"what is the colou?r of " + _THING + _PICTURE,
        r"what colou?r does " + _THING + r" have")),
    QuestionForm("is_colour", "is the X red?", (
        r"(?:is|are) " + _THING + r" (?P<colour>" + "|".join(COLOUR_WORDS) + r")" + _PICTURE,)),
    QuestionForm("text", "what does it say?", (
        r"what (?:does|do) (?:it|this|that|the [a-z ]+?) (?:say|read)" + _PICTURE,
        r"what is written(?: on (?:it|this|the [a-z ]+?))?" + _PICTURE,
        r"what (?:is|are) the (?:text|words|writing)" + _PICTURE,
        r"what (?:text|words) (?:is|are|do you see|can you read)(?: there)?" + _PICTURE,
        r"read (?:the|this|me the) (?:text|sign|words|label)",
        r"can you read (?:it|this|that|the [a-z ]+?)" + _PICTURE,
        r"what is on the (?:sign|label|board|poster|banner|screen|page)")),
    QuestionForm("arms", "is the person raising their arms?", (
        r"(?:is|are) " + _THING + r" (?:raising|holding up|lifting|putting up) "
        r"(?:their |his |her |its |an |a |one |both |the )*(?:arms?|hands?)",
        r"(?:is|are) " + _THING + r"(?:'s| s)? (?:arms?|hands?) (?:raised|up|in the air)")),
    QuestionForm("where", "where is the X?", (
        r"where (?:is|are) " + _THING + _PICTURE,
        r"in which part of the (?:picture|image|photo) (?:is|are) " + _THING)),
)


def parse_question(question: str) -> tuple[QuestionForm, dict[str, str]] | None:
    """The question's form and its named parts (x, y, relation), or None outside the grammar."""
    text = re.sub(r"[^a-z0-9' ]+", " ", question.lower().replace("\u2019", "'"))
    text = re.sub(r"\s+", " ", text).strip().replace("colour", "color").replace("gray", "grey")
    for short, long in CONTRACTIONS.items():
        text = re.sub(rf"\b{short}\b", long, text)
    for form in QUESTION_FORMS:
        for pattern in form.patterns:
            match = re.fullmatch(pattern.replace("colou?r", "color"), text)
            if match:
                return form, {k: v for k, v in match.groupdict().items() if v}
    return None


def cannot_tell(reason: str = "") -> list[ClassScore]:
    """'I can't tell' and the question forms that can be answered, as the only answer."""
    forms = "; ".join(f"'{form.example}'" for form in QUESTION_FORMS)
    detail = f" ({reason})" if reason else ""
    return [ClassScore(0, f"{UNSURE}{detail}. I can answer: {forms} (X, Y: the name of "
                          f"an object I know, such as person, car, dog, cup)", 0.0)]


def answer(scene: Scene, question: str, max_objects: int) -> list[ClassScore]:
    """Answers, the grammar's decision first, then the alternatives it weighed."""
    parsed = parse_question(question)
    if parsed is None:
        return cannot_tell("the question is not one I can answer")
    form, parts = parsed
    unseen = scene.missing.get(PART_OF_FORM.get(form.name, ""))
    if unseen:
        return cannot_tell(unseen)
    if form.name == "text":
        return _read(scene)
    if form.name == "scene":
        caption, log_probability = caption_scene(scene, max_objects)
        return [ClassScore(0, caption, math.exp(log_probability))]
    words = vocabulary(scene.known_labels)
    labels: dict[str, str] = {}
    for key in ("x", "y"):
        if key in parts:
            label = object_label(parts[key], words)
            if label is None and not (form.name == "colour" and key == "x"
                                      and _is_picture(parts[key])):
                return cannot_tell(f"I don't know what '{parts[key]}' is")
            labels[key] = label or ""
    return ANSWERERS[form.name](scene, labels, parts)


def _is_picture(phrase: str) -> bool:
    return phrase.split()[-1] in ("picture", "image", "photo", "scene")


def _ranked(*answers: tuple[str, float]) -> list[ClassScore]:
    """The decision first, then the alternatives that have any score."""
    kept = [answers[0]] + [a for a in answers[1:] if a[1] > 0]
    return [ClassScore(i, text, round(float(score), 4)) for i, (text, score) in
            enumerate(kept)]


def _count(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = scene.of(labels["x"])
    almost = scene.candidate_score(labels["x"])
    if not seen:
        return _ranked(("0", 1 - almost), ("1", almost))
    weakest = min(o.score for o in seen)
    return _ranked((str(len(seen)), min(weakest, 1 - almost)), (str(len(seen) + 1), almost),
                   (str(len(seen) - 1), 1 - weakest))


def _number(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    """"are there two cats?": yes when exactly that many are counted."""
    asked = int(parts["n"]) if parts["n"].isdigit() else NUMBER_WORDS.index(parts["n"])
    counted_answer = _count(scene, labels, parts)[0]
    same = counted_answer.label == str(asked)
    return _ranked(("yes" if same else f"no, {counted_answer.label}", counted_answer.score))


def _exists(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = scene.of(labels["x"])
    if seen:
        best = max(o.score for o in seen)
        return _ranked(("yes", best), ("no", 1 - best))
    almost = scene.candidate_score(labels["x"])
    return _ranked(("no", 1 - almost), ("yes", almost))


def _exists_at(scene: Scene, labels: dict[str, str], parts: dict[str, str]
               ) -> list[ClassScore]:
    """"is there a car on the left?": yes when one X's box centre lies in that third."""
    where = PLACES[parts["place"]]
    there = [o for o in scene.of(labels["x"]) if where in place(*o.centre)]
    if there:
        best = max(o.score for o in there)
        return _ranked(("yes", best), ("no", 1 - best))
    elsewhere = scene.of(labels["x"])
    return _ranked(("no", max((o.score for o in elsewhere), default=1.0)))


def _colour(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    if not labels["x"]:
        return _ranked(*scene.colours[:3])
    seen = scene.of(labels["x"])
    if not seen:
        return _ranked((f"I see no {labels['x']}", 1 - scene.candidate_score(labels["x"])))
    best = max(seen, key=lambda o: o.score)
    return _ranked(*best.colours[:3])


def _is_colour(scene: Scene, labels: dict[str, str], parts: dict[str, str]
               ) -> list[ClassScore]:
    """"is the car red?": yes when the asked colour leads the best X's colours."""
    named = _colour(scene, labels, parts)
    if named[0].label.startswith("I see no"):
        return _ranked((f"no ({named[0].label})", named[0].score))
    if named[0].label == parts["colour"]:
        return _ranked(("yes", named[0].score))
    return _ranked((f"no, {named[0].label}", named[0].score))


def _where(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    seen = sorted(scene.of(labels["x"]), key=lambda o: -o.score)
    if not seen:
        return _ranked((f"I see no {plural(labels['x'])}",
                        1 - scene.candidate_score(labels["x"])))
    return _ranked(*((place(*o.centre), o.score) for o in seen))


def _holds(relation: str, a: SeenObject, b: SeenObject) -> bool:
    """Whether `a` is `relation` `b`, by box centres (next to: boxes at most one box width
    apart side by side, overlapping in height)."""
    (ax, ay), (bx, by) = a.centre, b.centre
    if relation in ("left of", "right of", "above", "below"):
        return {"left of": ax < bx, "right of": ax > bx, "above": ay < by,
                "below": ay > by}[relation]
    gap = max(a.box[0], b.box[0]) - min(a.box[2], b.box[2])
    widest = max(a.box[2] - a.box[0], b.box[2] - b.box[0])
    return gap <= widest and min(a.box[3], b.box[3]) > max(a.box[1], b.box[1])


def _relation(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    relation = RELATIONS[parts["relation"]]
    firsts, seconds = scene.of(labels["x"]), scene.of(labels["y"])
    missing = [labels[k] for k, group in (("x", firsts), ("y", seconds)) if not group]
    if missing:
        return _ranked((f"no (I see no {listed(missing)})",
                        1 - max(scene.candidate_score(m) for m in missing)))
    pairs = [(min(a.score, b.score), _holds(relation, a, b))
             for a in firsts for b in seconds if a is not b]
    if not pairs:
        return _ranked((f"no (I see only one {labels['x']})", 1.0))
    held = [score for score, holds in pairs if holds]
    if held:
        return _ranked(("yes", max(held)), ("no", 1 - max(held)))
    best = max(score for score, _ in pairs)
    return _ranked(("no", best), ("yes", 1 - best))


def _read(scene: Scene) -> list[ClassScore]:
    if not scene.lines:
        return _ranked(("I see no text", 1 - scene.rejected_line_score))
    whole = " ".join(text for text, _ in scene.lines)
    mean = sum(score for _, score in scene.lines) / len(scene.lines)
    alternatives = scene.lines if len(scene.lines) > 1 else []
    return _ranked((whole, mean), *alternatives)


def _raised(scene: Scene, labels: dict[str, str], parts: dict[str, str]) -> list[ClassScore]:
    if labels["x"] != "person":
        return cannot_tell("only people's arms are seen")
    if not scene.of("person"):
        return _ranked(("no (I see no person)", 1 - scene.candidate_score("person")))
    if scene.arms_raised is None:
        return cannot_tell(scene.missing.get("pose", "no pose was found"))
    raised, score = scene.arms_raised
    decision = "yes" if raised else "no"
    return _ranked((decision, score), ("no" if raised else "yes", 1 - score))


Answerer = Callable[[Scene, dict[str, str], dict[str, str]], list[ClassScore]]
ANSWERERS: dict[str, Answerer] = {"count": _count, "number": _number, "exists": _exists,
                                  "exists_at": _exists_at,
                                  "colour": _colour, "is_colour": _is_colour, "where": _where,
                                  "relation": _relation, "arms": _raised}
NEEDS = {"text": frozenset({"text"}), "arms": frozenset({"objects", "pose"}),
         "scene": EVERYTHING}  # what each form is computed from (others: the objects)
PART_OF_FORM = {"text": "text"}  # forms that need an optional model and nothing else
