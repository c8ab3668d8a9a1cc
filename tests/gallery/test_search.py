from __future__ import annotations

import importlib
import random
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from gallery import search
from gallery.detection import (
    BoundingBox,
    Detection,
    DominantColor,
    ImageProperties,
    Instance,
    Label,
    TextLine,
)
from gallery.models import Image, LabelTally, SearchTerm, gallery_photos
from gallery.search import Clause, parse

pytestmark = pytest.mark.django_db

BOX = BoundingBox(0.1, 0.1, 0.5, 0.5)


def box(confidence: float, *colors: str) -> Instance:
    return Instance(BOX, confidence, colors)


def detection(
    *labels: Label, text: tuple[str, ...] = (), colors: tuple[str, ...] = ()
) -> Detection:
    return Detection(
        "fake",
        "fake-1",
        labels,
        text=tuple(TextLine(line, 97.0, BOX) for line in text),
        properties=ImageProperties(tuple(DominantColor(c, "#000000", 40.0) for c in colors)),
    )


DOG = Label("Dog", 91.0, ("Pet", "Mammal", "Animal"), (box(91.0, "brown"),))
PET = Label("Pet", 93.0, ("Animal",))
ANIMAL = Label("Animal", 95.0)
BEACH = Label("Beach", 64.0, ("Nature",))
NATURE = Label("Nature", 70.0)
BALL = Label("Soccer Ball", 88.0, ("Sport",), (box(88.0, "white"),))
CAR = Label("Sports Car", 77.0, ("Car", "Vehicle"), (box(77.0, "red"),))
CAR_PARENT = Label("Car", 80.0, ("Vehicle",))
CAT = Label("Cat", 3.0, ("Pet", "Animal"))


@pytest.fixture
def library(owner: Any, make_image: Any) -> dict[str, Image]:
    photos = {
        "dog_beach": (detection(DOG, PET, ANIMAL, BEACH, NATURE), "holiday.jpg"),
        "dog": (detection(DOG, PET, ANIMAL, CAT), "IMG_0001.jpg"),
        "ball": (detection(BALL), "match.jpg"),
        "car": (detection(CAR, CAR_PARENT, colors=("gray",)), "street.jpg"),
        "sign": (detection(text=("No parking", "Tow-away zone")), "sign.jpg"),
        "plain": (detection(colors=("red",)), "birthday-party.jpg"),
    }
    stored = {}
    for key, (found, name) in photos.items():
        image = make_image(name=name)
        image.replace_labels(found)
        stored[key] = image
    return stored


def found(user: Any, raw: str, minimum: int = 50) -> set[str]:
    """What a query finds, the same through the gallery's index-only path and the QuerySet."""
    images = Image.objects.search(user, parse(raw), minimum)
    names = set(images.values_list("original_name", flat=True))
    photos = gallery_photos(user, parse(raw), minimum)
    listed = [image.original_name for image in photos[0 : len(photos)]]
    assert len(listed) == len(set(listed)) == len(photos)
    assert set(listed) == names, raw
    return names


# -- parsing -------------------------------------------------------------------


def test_words_are_separate_clauses_and_case_and_plural_are_folded() -> None:
    assert parse("Dogs BEACH").clauses == (Clause("dog"), Clause("beach"))
    assert parse("people puppies").clauses == (Clause("person"), Clause("puppy"))


def test_a_minimum_follows_a_word_with_greater_equal_or_colon() -> None:
    assert parse("dog>=80 cat:20").clauses == (Clause("dog", 80), Clause("cat", 20))


def test_a_minus_excludes_and_quotes_keep_a_label_of_several_words() -> None:
    assert parse('-cat "soccer ball">=60').clauses == (
        Clause("cat", exclude=True),
        Clause("soccer ball", 60),
    )


def test_a_colour_before_a_word_asks_for_that_colour_on_the_thing() -> None:
    assert parse("red car").clauses == (Clause("red car"),)
    assert parse("grey").clauses == (Clause("gray"),)


def test_a_bad_minimum_is_named_in_plain_words() -> None:
    query = parse("dog>=500")
    assert query.clauses == (Clause("dog"),)
    assert "whole number from 0 to 100" in query.problems[0]


def test_too_many_words_are_cut_with_a_note() -> None:
    query = parse(" ".join(f"w{i}" for i in range(40)))
    assert len(query.clauses) == search.MAX_CLAUSES
    assert query.problems


# -- matching --------------------------------------------------------------------


def test_a_word_matches_whatever_its_case_and_number(owner: Any, library: Any) -> None:
    assert found(owner, "dog") == {"holiday.jpg", "IMG_0001.jpg"}
    assert found(owner, "DOGS") == {"holiday.jpg", "IMG_0001.jpg"}


def test_words_are_and_ed(owner: Any, library: Any) -> None:
    assert found(owner, "dog beach") == {"holiday.jpg"}


def test_a_word_matches_a_word_of_a_label_but_not_a_prefix(owner: Any, library: Any) -> None:
    assert found(owner, "ball") == {"match.jpg"}
    assert found(owner, '"soccer ball"') == {"match.jpg"}
    assert found(owner, "soc") == set()
    assert found(owner, "car") == {"street.jpg"}


def test_synonyms_and_parents_find_the_label(owner: Any, library: Any) -> None:
    assert found(owner, "puppy") == {"holiday.jpg", "IMG_0001.jpg"}
    assert found(owner, "animals") == {"holiday.jpg", "IMG_0001.jpg"}
    assert found(owner, "vehicle") == {"street.jpg"}


def test_text_in_the_photo_and_the_file_name_are_found(owner: Any, library: Any) -> None:
    assert found(owner, "parking") == {"sign.jpg"}
    assert found(owner, "tow") == {"sign.jpg"}
    assert found(owner, "birthday") == {"birthday-party.jpg"}


def test_a_colour_word_finds_the_thing_in_that_colour(owner: Any, library: Any) -> None:
    assert found(owner, "red car") == {"street.jpg"}
    assert found(owner, "gray car") == set(), "gray is the photo's colour, not the car's"
    assert found(owner, "red") == {"birthday-party.jpg"}
    assert found(owner, "brown dog") == {"holiday.jpg", "IMG_0001.jpg"}


def test_the_minimum_is_the_slider_unless_a_word_says_otherwise(owner: Any, library: Any) -> None:
    assert found(owner, "beach", minimum=50) == {"holiday.jpg"}
    assert found(owner, "beach", minimum=70) == set()
    assert found(owner, "beach>=60", minimum=90) == {"holiday.jpg"}
    assert found(owner, "cat", minimum=50) == set(), "a 3% guess is not a match"
    assert found(owner, "cat>=3", minimum=50) == {"IMG_0001.jpg"}


def test_a_label_shown_as_the_minimum_is_found_at_it(owner: Any, library: Any) -> None:
    assert found(owner, "beach>=64") == {"holiday.jpg"}
    assert found(owner, "beach>=65") == set()


def test_a_minus_word_leaves_photos_out(owner: Any, library: Any) -> None:
    assert found(owner, "dog -beach") == {"IMG_0001.jpg"}
    assert found(owner, "-dog") == {"match.jpg", "street.jpg", "sign.jpg", "birthday-party.jpg"}


def test_another_persons_labels_and_text_never_match(
    owner: Any, other_user: Any, library: Any, make_image: Any
) -> None:
    theirs = make_image(user=other_user, name="their-dog.jpg")
    theirs.replace_labels(detection(DOG, text=("parking",)))
    assert found(owner, "dog") == {"holiday.jpg", "IMG_0001.jpg"}
    assert found(other_user, "dog") == {"their-dog.jpg"}
    assert found(other_user, "beach") == set()


def test_a_hidden_photo_is_found_by_nothing(owner: Any, library: Any) -> None:
    library["dog"].set_hidden(True, "Not allowed")
    assert found(owner, "dog") == {"holiday.jpg"}
    assert SearchTerm.objects.filter(image=library["dog"]).count() == 0
    library["dog"].set_hidden(False)
    assert found(owner, "dog") == {"holiday.jpg", "IMG_0001.jpg"}


def test_detect_again_replaces_the_terms(owner: Any, library: Any) -> None:
    library["dog"].replace_labels(detection(BALL))
    assert found(owner, "dog") == {"holiday.jpg"}
    assert "IMG_0001.jpg" in found(owner, "ball")


# -- the oracle: a plain filter over everything stored --------------------------------


def oracle(user: Any, clauses: list[tuple[str, int, bool]]) -> set[str]:
    """Which photos a query should find, worked out from the stored labels and text."""
    names = set()
    for image in Image.objects.filter(owner=user, hidden=False):
        labels = list(image.labels.all())

        def has(word: str, minimum: int, image: Image = image, labels: list[Any] = labels) -> bool:
            floor = minimum - 0.5
            for label in labels:
                said = {label.name, *label.parents}
                words = {search.fold(w) for name in said for w in name.lower().split()}
                words |= {search.phrase(name) for name in said}
                words |= {w for w, targets in search.SYNONYMS.items() if label.name in targets}
                if word in words and label.confidence >= floor:
                    return True
            text = {search.fold(w) for line in image.text for w in line["text"].lower().split()}
            return word in text

        if all(has(word, minimum) != exclude for word, minimum, exclude in clauses):
            names.add(image.original_name)
    return names


def test_search_finds_exactly_what_a_plain_filter_finds(owner: Any, make_image: Any) -> None:
    rng = random.Random(7)
    vocabulary = [DOG, PET, ANIMAL, BEACH, NATURE, BALL, CAR, CAR_PARENT, CAT]
    texts = ["open", "stop", "open late", ""]
    for n in range(40):
        picked = rng.sample(vocabulary, rng.randint(0, 4))
        labels = tuple(Label(label.name, rng.uniform(1, 100), label.parents) for label in picked)
        text = tuple(t for t in [rng.choice(texts)] if t)
        make_image(name=f"p{n}.jpg").replace_labels(detection(*labels, text=text))
    words = [
        "dog",
        "pet",
        "animal",
        "beach",
        "nature",
        "ball",
        "car",
        "vehicle",
        "cat",
        "open",
        "stop",
    ]
    for _ in range(60):
        clauses = [
            (rng.choice(words), rng.choice([0, 30, 50, 80]), rng.random() < 0.25)
            for _ in range(rng.randint(1, 3))
        ]
        raw = " ".join(f"{'-' if ex else ''}{word}>={minimum}" for word, minimum, ex in clauses)
        assert found(owner, raw) == oracle(owner, clauses), raw


# -- pages -------------------------------------------------------------------------


def test_the_gallery_search_lists_matching_photos(owner_client: Client, library: Any) -> None:
    response = owner_client.get("/", {"q": "dog -beach"})
    assert response.status_code == 200
    assert b"IMG_0001.jpg" in response.content
    assert b"holiday.jpg" not in response.content
    assert b"1 photo" in response.content


def test_the_label_filter_uses_the_same_matching_and_the_slider(
    owner_client: Client, library: Any
) -> None:
    assert b"IMG_0001.jpg" not in owner_client.get("/", {"label": "Cat"}).content
    assert b"IMG_0001.jpg" in owner_client.get("/", {"label": "Cat", "min": "3"}).content
    assert b"match.jpg" in owner_client.get("/", {"label": "soccer ball"}).content


def test_anonymous_search_goes_to_sign_in(client: Client) -> None:
    response = client.get("/", {"q": "dog"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_suggestions_are_the_persons_labels_by_prefix_most_photos_first(
    owner_client: Client, library: Any
) -> None:
    response = owner_client.get("/search/suggest/", {"q": "so"})
    assert response.json() == {"suggestions": [{"name": "Soccer Ball", "count": 1}]}
    rows = owner_client.get("/search/suggest/", {"q": "p"}).json()["suggestions"]
    assert rows == [{"name": "Pet", "count": 2}]
    car = owner_client.get("/search/suggest/", {"q": "CA"}).json()["suggestions"]
    assert [row["name"] for row in car] == ["Car"], "the name's start, whatever the case"


def test_suggestions_never_show_another_persons_labels(other_client: Client, library: Any) -> None:
    assert other_client.get("/search/suggest/", {"q": "d"}).json() == {"suggestions": []}


def test_anonymous_suggestions_go_to_sign_in(client: Client) -> None:
    assert client.get("/search/suggest/", {"q": "d"}).status_code == 302


def test_search_query_count_does_not_grow_with_the_library(
    owner_client: Client, make_image: Any, django_assert_max_num_queries: Any
) -> None:
    for n in range(12):
        make_image(name=f"p{n}.jpg", size=(16, 16)).replace_labels(detection(DOG, BEACH))
    with django_assert_max_num_queries(8):
        owner_client.get("/", {"q": "dog beach>=60 -cat"})


# -- keeping the index -------------------------------------------------------------


def test_counts_follow_detect_again_hide_and_delete(owner: Any, library: Any) -> None:
    def counts(minimum: int = 50) -> dict[str, int]:
        return {row["name"]: row["count"] for row in LabelTally.objects.counts(owner.pk, minimum)}

    assert counts()["Dog"] == 2
    assert "Cat" not in counts()
    assert counts(0)["Cat"] == 1
    library["dog"].replace_labels(detection(BALL))
    assert counts()["Dog"] == 1
    assert counts()["Soccer Ball"] == 2
    library["dog_beach"].set_hidden(True, "Not allowed")
    assert "Dog" not in counts()
    library["ball"].delete()
    assert counts()["Soccer Ball"] == 1


def test_the_migration_indexes_photos_stored_before_the_index(owner: Any, library: Any) -> None:
    SearchTerm.objects.all().delete()
    LabelTally.objects.all().delete()
    Image.objects.update(tallied={})
    assert found(owner, "dog") == set()
    migration = importlib.import_module("gallery.migrations.0006_build_search_index")
    migration.build_index(apps, None)
    assert found(owner, "dog") == {"holiday.jpg", "IMG_0001.jpg"}
    assert found(owner, "parking") == {"sign.jpg"}
    assert {row["name"] for row in LabelTally.objects.counts(owner.pk, 50)} >= {"Dog", "Beach"}
