"""The search language and the terms a photo is found by.

One search box; a query such as ``dog beach>=60 -cat "soccer ball"`` is a list
of clauses, AND-ed. Matching is a lookup in the search index
(:class:`gallery.models.SearchTerm`: one row per photo and term with its
confidence), built when labels are stored, so a query never scans labels.

Words are compared folded: lower case, singular (``dogs`` finds Dog,
``people`` finds Person). A photo's terms come from its labels (each label's
name, its words, its aliases and synonyms, and its parents), the text read in
it, its colours (photo colours, and ``red car`` for a Car whose box is red)
and its file name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

# Longest term stored; longer words and phrases are cut (and so are queries).
MAX_TERM = 100
# Clauses a query may hold; more is a typo or an attack, not a search.
MAX_CLAUSES = 12
# Text and file names are not guesses: they count as fully sure.
SURE = 100.0
# A photo colour counts as one of its colours from this share of its pixels.
PHOTO_COLOR_MIN_PERCENT = 10.0

COLOR_NAMES = frozenset(
    {
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "pink",
        "brown",
        "black",
        "white",
        "gray",
        "grey",
    }
)
# One spelling per colour in the index.
COLOR_SPELLING = {"grey": "gray"}

# Words people type for a label whose name they do not use. Keys are folded
# words; values are label names as the engines give them. WordNet lemma
# names and Rekognition's aliases come with the labels themselves.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "man": ("Person",),
    "woman": ("Person",),
    "child": ("Person",),
    "kid": ("Person",),
    "boy": ("Person",),
    "girl": ("Person",),
    "human": ("Person",),
    "baby": ("Person",),
    "adult": ("Person",),
    "portrait": ("Face",),
    "selfie": ("Face",),
    "puppy": ("Dog",),
    "doggy": ("Dog",),
    "hound": ("Dog",),
    "kitten": ("Cat",),
    "kitty": ("Cat",),
    "pussycat": ("Cat",),
    "automobile": ("Car",),
    "auto": ("Car",),
    "sea": ("Ocean", "Sea"),
    "ocean": ("Sea", "Ocean"),
    "seaside": ("Beach", "Coast"),
    "shore": ("Beach", "Coast"),
    "bike": ("Bicycle", "Motorcycle"),
    "motorbike": ("Motorcycle",),
    "plane": ("Airplane", "Aircraft"),
    "aeroplane": ("Airplane",),
    "jet": ("Airplane",),
    "phone": ("Mobile Phone", "Cell Phone", "Phone"),
    "cellphone": ("Mobile Phone", "Cell Phone"),
    "smartphone": ("Mobile Phone", "Cell Phone"),
    "tv": ("TV", "Television", "Monitor"),
    "television": ("TV", "Television"),
    "sofa": ("Couch",),
    "couch": ("Sofa",),
    "cup": ("Mug", "Coffee Cup"),
    "mug": ("Cup", "Coffee Cup"),
    "coffee": ("Espresso", "Coffee Cup"),
    "pup": ("Dog",),
    "ship": ("Boat",),
    "boat": ("Ship", "Watercraft"),
    "lorry": ("Truck",),
    "truck": ("Lorry",),
    "cab": ("Taxi",),
    "taxi": ("Cab",),
    "flower": ("Flower", "Daisy", "Rose", "Sunflower"),
    "bloom": ("Flower",),
    "tree": ("Tree", "Plant"),
    "pic": ("Photo",),
    "doc": ("Document",),
    "paper": ("Document",),
    "page": ("Document",),
    "sign": ("Sign", "Signboard", "Street Sign"),
    "food": ("Food",),
    "meal": ("Food", "Meal"),
    "dish": ("Food",),
    "drink": ("Beverage", "Drink"),
    "beverage": ("Drink",),
    "snow": ("Snow", "Winter"),
    "sunset": ("Sunset", "Sunrise", "Dusk"),
    "sunrise": ("Sunrise", "Sunset", "Dawn"),
    "night": ("Night",),
    "city": ("City", "Urban", "Downtown"),
    "street": ("Street", "Road"),
    "road": ("Road", "Street"),
    "mountain": ("Mountain", "Alp", "Mountain Range"),
    "painting": ("Painting", "Art"),
    "art": ("Art", "Painting"),
    "screenshot": ("Screenshot",),
}

# Plurals that no suffix rule finds.
IRREGULAR = {
    "people": "person",
    "persons": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "kids": "kid",
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "oxen": "ox",
    "knives": "knife",
    "wives": "wife",
    "lives": "life",
    "leaves": "leaf",
    "wolves": "wolf",
    "shelves": "shelf",
    "loaves": "loaf",
    "halves": "half",
    "calves": "calf",
    "scarves": "scarf",
    "buses": "bus",
    "tomatoes": "tomato",
    "potatoes": "potato",
    "volcanoes": "volcano",
    "heroes": "hero",
    "cacti": "cactus",
    "fungi": "fungus",
    "cattle": "cow",
    "cows": "cow",
    "dice": "die",
}

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


@cache
def vocabulary() -> frozenset[str]:
    """Every word of every label name the engines know, for folding plurals well."""
    from .detection.taxonomy import Taxonomy

    names = [*Taxonomy.load().label_names]
    names += [label for labels in SYNONYMS.values() for label in labels]
    words = {word for name in names for word in _raw_words(name)}
    return frozenset(words | set(SYNONYMS) | set(IRREGULAR.values()))


def _raw_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    return [match.group(0).replace("’", "'") for match in _WORD.finditer(text)]


def _singulars(word: str) -> list[str]:
    """Candidate singular forms of ``word``, most likely first."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return []
    candidates = []
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        candidates.append(word[:-2])
    candidates.append(word[:-1])
    if word.endswith("es"):
        candidates.append(word[:-2])
    return candidates


def fold(word: str) -> str:
    """The form a word is indexed and looked up by: lower case and singular."""
    word = word.casefold().removesuffix("'s")
    if word in IRREGULAR:
        return IRREGULAR[word]
    known = vocabulary()
    if word in known:
        return word
    candidates = _singulars(word)
    for candidate in candidates:
        if candidate in known:
            return candidate
    return candidates[0] if candidates else word


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return [fold(word) for word in _raw_words(text)][: MAX_CLAUSES * 4]


def phrase(text: str) -> str:
    """A name as one term: its folded words joined by single spaces."""
    return " ".join(words(text))[:MAX_TERM]


def color_term(name: str) -> str:
    name = name.casefold()
    return COLOR_SPELLING.get(name, name)


# -- building a photo's terms ----------------------------------------------


@cache
def _synonyms_of() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for word, labels in SYNONYMS.items():
        for label in labels:
            found.setdefault(label, set()).add(word)
    return {label: frozenset(words) for label, words in found.items()}


@cache
def name_terms(name: str) -> frozenset[str]:
    """The terms a name is found by: the whole name, each of its words, its synonyms."""
    terms = {phrase(name), *words(name), *_synonyms_of().get(name, ())}
    terms.discard("")
    return frozenset(terms)


def label_terms(name: str, parents: Iterable[str], aliases: Iterable[str]) -> set[str]:
    """The terms one label is found by: its name's, its aliases' and its parents'."""
    terms = set(name_terms(name))
    for other in (*aliases, *parents):
        terms |= name_terms(other)
    return terms


def photo_terms(
    labels: Iterable[Any],
    text: Iterable[Mapping[str, Any]],
    properties: Mapping[str, Any],
    file_name: str,
) -> dict[str, float]:
    """Term -> confidence for one photo: the highest of the ways it is found.

    ``labels`` are stored labels (name, confidence, parents, aliases,
    instances). A parent counts at its own confidence where it is stored as a
    label (the engines store it, at least as sure as its children) and at a
    child's where it is not.
    """
    found: dict[str, float] = {}

    def add(term: str, confidence: float) -> None:
        if term and confidence > found.get(term, -1.0):
            found[term] = confidence

    for label in labels:
        for term in label_terms(label.name, label.parents, label.aliases):
            add(term, label.confidence)
        # "red car" finds a Sports Car whose box is red: each colour of a box
        # with each way the label is found.
        colors = {color_term(c) for instance in label.instances for c in instance.get("colors", ())}
        for color in colors:
            for term in label_terms(label.name, label.parents, label.aliases):
                add(f"{color} {term}", label.confidence)
    for line in text:
        for word in words(str(line.get("text", ""))):
            add(word, SURE)
    for color in properties.get("colors", ()):
        if float(color.get("pixel_percent", 0)) >= PHOTO_COLOR_MIN_PERCENT:
            add(color_term(str(color.get("name", ""))), SURE)
    stem = file_name.rsplit(".", 1)[0]
    for word in words(stem):
        if not word.isdigit():
            add(word, SURE)
    return {term[:MAX_TERM]: confidence for term, confidence in found.items()}


# -- the query language -----------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One condition: some term at a minimum confidence, or (``exclude``) none of it."""

    term: str
    minimum: int | None = None  # None: the person's slider value
    exclude: bool = False

    def text(self) -> str:
        shown = f'"{self.term}"' if " " in self.term else self.term
        sign = "-" if self.exclude else ""
        return f"{sign}{shown}" + (f">={self.minimum}" if self.minimum is not None else "")


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...] = ()
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def minimums(self, default: int) -> list[tuple[Clause, int]]:
        return [(c, default if c.minimum is None else c.minimum) for c in self.clauses]


_TOKEN = re.compile(
    r"""(?P<sign>-)?                       # -word excludes
        (?:"(?P<quoted>[^"]*)"?|(?P<word>[^\s"]+?))
        (?:(?:>=|:)(?P<min>\S*))?         # dog>=80 or dog:80
        (?=\s|$)""",
    re.VERBOSE,
)


def parse(raw: str) -> Query:
    """A query from what a person typed; never fails, says what it ignored."""
    clauses: list[Clause] = []
    problems: list[str] = []
    pending_color: str | None = None
    for match in _TOKEN.finditer(raw[: MAX_TERM * MAX_CLAUSES].strip()):
        text = match.group("quoted") if match.group("quoted") is not None else match.group("word")
        term = phrase(text or "")
        if not term:
            continue
        minimum = None
        if match.group("min") is not None:
            minimum = _minimum(match.group("min"))
            if minimum is None:
                problems.append(
                    f"“{match.group(0)}”: after >= or : comes a whole number from 0 to 100."
                )
        exclude = bool(match.group("sign"))
        plain = match.group("quoted") is None and not exclude and " " not in term
        # "red car": a Car whose box is red, one clause.
        if pending_color is not None and plain and term not in COLOR_NAMES:
            clauses[-1] = Clause(f"{pending_color} {term}", minimum)
            pending_color = None
            continue
        pending_color = (
            color_term(term) if plain and term in COLOR_NAMES and minimum is None else None
        )
        clauses.append(Clause(color_term(term) if term in COLOR_NAMES else term, minimum, exclude))
    if len(clauses) > MAX_CLAUSES:
        problems.append(f"Only the first {MAX_CLAUSES} words were used.")
    return Query(tuple(clauses[:MAX_CLAUSES]), tuple(problems))


def _minimum(raw: str) -> int | None:
    raw = raw.removesuffix("%")
    return int(raw) if raw.isdigit() and int(raw) <= 100 else None


def shown_percent(confidence: float) -> int:
    """A confidence as people see it: a whole percent, rounded half up."""
    return int(confidence + 0.5)


def at_least(percent: int) -> float:
    """The stored confidence that shows as ``percent`` or more.

    Confidences show rounded half up (Label.percent), so a label shown as
    50% is never hidden at 50: compare with 49.5.
    """
    return percent - 0.5


def known_names(prefix: str, exclude: set[str], limit: int = 8) -> list[dict[str, Any]]:
    """Label names the engines use that start with ``prefix``, for adding a label by hand."""
    from .detection.taxonomy import Taxonomy

    folded = prefix.casefold()
    names = [n for n in Taxonomy.load().label_names if n.casefold().startswith(folded)]
    return [{"name": n, "count": 0} for n in names if n not in exclude][:limit]
