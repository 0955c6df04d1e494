"""Words for grounded captions and answers: object names, plurals, synonyms, counts, places.

The detector's labels (COCO's 80 names) are the nouns; a question may name one in the
plural or by a common synonym ("men", "bike", "sofa"), which `object_label` maps back.
"""

from __future__ import annotations

IRREGULAR_PLURALS = {
    "person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis",
    "scissors": "scissors", "broccoli": "broccoli", "tv": "tvs",
}
SYNONYMS = {
    "person": ["persons", "man", "men", "woman", "women", "boy", "boys", "girl", "girls",
               "child", "children", "kid", "kids", "human", "humans", "lady", "ladies", "guy",
               "guys", "player", "players", "astronaut", "astronauts", "someone", "anyone",
               "somebody", "anybody"],
    "bicycle": ["bike", "bikes"], "motorcycle": ["motorbike", "motorbikes"],
    "airplane": ["plane", "planes", "aeroplane", "aeroplanes", "aircraft", "jet", "jets"],
    "tv": ["television", "televisions", "tv set", "monitor", "monitors", "screen"],
    "couch": ["sofa", "sofas"], "cell phone": ["phone", "phones", "mobile phone",
                                               "smartphone", "smartphones", "cellphone"],
    "dining table": ["table", "tables"], "potted plant": ["plant", "plants"],
    "sports ball": ["ball", "balls", "football", "soccer ball"], "donut": ["doughnut",
                                                                           "doughnuts"],
    "cup": ["mug", "mugs", "coffee cup"], "dog": ["puppy", "puppies"],
    "cat": ["kitten", "kittens", "kitty"], "refrigerator": ["fridge", "fridges"],
    "teddy bear": ["teddy", "teddies"], "hair drier": ["hair dryer", "hair dryers"],
    "hot dog": ["hotdog", "hotdogs"], "laptop": ["laptop computer", "notebook"],
    "car": ["automobile", "automobiles"], "wine glass": ["glass", "glasses"],
    "truck": ["lorry", "lorries"], "handbag": ["bag", "bags", "purse"],
}
COLOUR_WORDS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple",
                "pink", "brown")  # the names the grounded models' colour graph gives
NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten"]


def plural(noun: str) -> str:
    """The plural of a label ("person" -> "people", "bus" -> "buses", "wine glass" -> ...)."""
    head, _, last = noun.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last in IRREGULAR_PLURALS:
        return prefix + IRREGULAR_PLURALS[last]
    if last.endswith(("s", "sh", "ch", "x")):
        return f"{prefix}{last}es"
    return f"{prefix}{last}s"


def with_article(phrase: str) -> str:
    """'a car', 'an orange'."""
    return f"{'an' if phrase[:1] in 'aeiou' else 'a'} {phrase}"


def counted(label: str, count: int, adjective: str = "") -> str:
    """'a red car', 'two people', 'no dogs', '12 cups'."""
    noun = f"{adjective} {label}".strip() if count == 1 else f"{adjective} {plural(label)}".strip()
    if count == 1:
        return with_article(noun)
    number = NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else str(count)
    return f"{number} {noun}"


def listed(phrases: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def vocabulary(labels: tuple[str, ...]) -> dict[str, str]:
    """Every word a question may use for an object -> the detector's label."""
    words: dict[str, str] = {}
    for label in labels:
        words[label] = words[plural(label)] = label
        for synonym in SYNONYMS.get(label, []):
            words.setdefault(synonym, label)
            words.setdefault(plural(synonym), label)
    return words


ARTICLES = ("the ", "a ", "an ", "any ", "some ", "this ", "that ", "these ", "those ")


def object_label(phrase: str, words: dict[str, str]) -> str | None:
    """The label a noun phrase names ("the cars" -> "car"), or None when it names none. Only
    a name, after an article: "the red car" or "more than one person" is None, since the
    answer would ignore the words before the name."""
    phrase = phrase.strip()
    for article in ARTICLES:
        if phrase.startswith(article):
            phrase = phrase[len(article):]
    return words.get(phrase)


def place(centre_x: float, centre_y: float) -> str:
    """Where a point (fractions of width and height) lies, in thirds: 'on the left',
    'at the top right', 'in the middle'."""
    column = "left" if centre_x < 1 / 3 else "right" if centre_x > 2 / 3 else ""
    row = "top" if centre_y < 1 / 3 else "bottom" if centre_y > 2 / 3 else ""
    if row and column:
        return f"at the {row} {column}"
    if row:
        return f"at the {row}"
    if column:
        return f"on the {column}"
    return "in the middle"
