"""Word error rate and character accuracy: one text normaliser and one edit distance.

A model card's WER (toolchain), the sample checks of the clients and the tests all score a
transcript here, so they agree on one transcript: lower case, numbers spelled out ("10" ->
"ten"), "mr." as "mister", hyphens as spaces, no other punctuation. Text reading is scored by
`character_accuracy` (the OCR card, the sample checks, the tests), on the raw characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(digits: str) -> str:
    """Numbers below 100 as words ('25' -> 'twenty five'); others digit by digit."""
    value = int(digits)
    if len(digits) > 2 or (len(digits) == 2 and digits[0] == "0"):
        return " ".join(_ONES[int(d)] for d in digits)
    if value < 20:
        return _ONES[value]
    tens, ones = divmod(value, 10)
    return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])


def normalise_text(text: str) -> list[str]:
    """Words for scoring: lower case, digits spelled out, 'mr.' as 'mister', no punctuation."""
    text = text.lower().replace("mr.", "mister").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {_number_words(m.group())} ", text)
    text = re.sub(r"[^\w' ]+|_", " ", text)
    return text.split()


def word_errors(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions); any sequences
    (strings: in characters)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word errors over the reference's length, both texts normalised."""
    said = normalise_text(reference)
    return word_errors(said, normalise_text(hypothesis)) / max(1, len(said))


def character_accuracy(truth: list[str], read: list[str], any_order: bool = False) -> float:
    """1 - character edit distance / length of the truth, lines joined by a space (floored
    at 0). `any_order` sorts the words of both first, so a line read in pieces and reported
    out of order is no error; misread, missing and merged words still are."""
    expected, found = " ".join(truth), " ".join(read)
    if any_order:
        expected, found = (" ".join(sorted(text.split())) for text in (expected, found))
    return max(0.0, 1 - word_errors(expected, found) / max(1, len(expected)))
