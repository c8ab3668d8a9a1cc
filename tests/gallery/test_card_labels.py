"""Which labels a gallery card shows."""

from __future__ import annotations

from gallery.models import Label, narrowest_labels


def ranked(*rows: tuple[str, float, list[str]]) -> list[Label]:
    labels = [Label(name=name, confidence=c, parents=parents) for name, c, parents in rows]
    return sorted(labels, key=lambda label: -label.confidence)


def names(labels: list[Label]) -> list[str]:
    return [label.name for label in labels]


def test_a_cat_card_says_cat_not_its_broader_labels() -> None:
    cat = ranked(
        ("Animal", 95.3, []),
        ("Mammal", 94.5, ["Animal"]),
        ("Pet", 92.2, ["Animal"]),
        ("Cat", 91.8, ["Pet", "Mammal", "Animal"]),
        ("Lynx", 3.1, ["Wild Cat", "Mammal", "Animal"]),
    )
    assert names(narrowest_labels(cat)) == ["Cat"]


def test_a_broad_label_found_much_more_surely_than_the_narrow_one_stays() -> None:
    motorcycle = ranked(
        ("Transportation", 70.6, []),
        ("Vehicle", 70.6, ["Transportation"]),
        ("Motorcycle", 66.8, ["Vehicle", "Transportation"]),
        ("Moped", 52.7, ["Motorcycle", "Vehicle", "Transportation"]),
    )
    assert names(narrowest_labels(motorcycle)) == ["Motorcycle", "Moped"]


def test_unrelated_labels_each_get_a_chip_most_confident_first_up_to_three() -> None:
    portrait = ranked(
        ("Clothing", 87.0, []),
        ("Face", 78.0, ["Person"]),
        ("Person", 78.0, []),
        ("Tie", 70.0, ["Clothing"]),
        ("Uniform", 69.0, ["Clothing"]),
        ("Flag", 60.0, []),
    )
    assert names(narrowest_labels(portrait)) == ["Clothing", "Face", "Tie"]


def test_a_card_shows_no_label_the_slider_hides() -> None:
    unsure = ranked(("Transportation", 47.0, []), ("Vehicle", 25.2, ["Transportation"]))
    assert narrowest_labels(unsure, 50) == []
    assert names(narrowest_labels(unsure, 40)) == ["Transportation"]
    assert narrowest_labels([]) == []


def test_a_label_shown_at_the_slider_value_is_on_the_card() -> None:
    # 49.5 shows as 50%: one rounding rule to show and to compare.
    assert names(narrowest_labels(ranked(("Cat", 49.5, [])), 50)) == ["Cat"]
    assert narrowest_labels(ranked(("Cat", 49.4, [])), 50) == []
