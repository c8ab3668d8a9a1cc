"""The committed taxonomy and the runtime that sums class probabilities into labels.

These read ``gallery/detection/taxonomy.json`` only; neither WordNet nor nltk
is needed to run them.
"""

from __future__ import annotations

import hashlib
import json
import re
import time

import numpy as np
import pytest

from gallery.detection.taxonomy import DATA_FILE, Taxonomy
from gallery.detection.types import Label
from tools.build_taxonomy import JARGON, MINOR_WORDS

# The build script refuses these words; the test checks the committed data file
# against the same list, so a hand-edited taxonomy.json cannot sneak one in.

TABBY = "n02123045"
TIGER_CAT = "n02123159"
PERSIAN_CAT = "n02123394"
EGYPTIAN_CAT = "n02124075"
ESPRESSO = "n07920052"
MOPED = "n03785016"
MOTOR_SCOOTER = "n03791053"
PALACE = "n03877845"
SPORTS_CAR = "n04285008"
GOLDEN_RETRIEVER = "n02099601"
ITALIAN_GREYHOUND = "n02091032"
WARPLANE = "n04552348"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


def probabilities(taxonomy: Taxonomy, mass: dict[str, float]) -> np.ndarray:
    probs = np.zeros(taxonomy.class_count, dtype=np.float32)
    for wnid, p in mass.items():
        probs[taxonomy.wnids.index(wnid)] = p
    return probs


def by_name(labels: list[Label]) -> dict[str, Label]:
    return {label.name: label for label in labels}


def all_names(taxonomy: Taxonomy) -> set[str]:
    names = set(taxonomy.label_names)
    for label in taxonomy.label_names:
        names.update(taxonomy.parents(label))
    return names


def test_classes_are_the_1000_imagenet_wnids_in_classifier_order(taxonomy: Taxonomy) -> None:
    assert taxonomy.class_count == 1000
    assert list(taxonomy.wnids) == sorted(set(taxonomy.wnids))
    assert taxonomy.wnids[0] == "n01440764"
    assert taxonomy.wnids[-1] == "n15075141"


def test_every_class_maps_to_at_least_one_label(taxonomy: Taxonomy) -> None:
    unlabelled = [wnid for wnid in taxonomy.wnids if not taxonomy.labels_for_class(wnid)]
    assert unlabelled == []


def test_no_label_or_parent_name_is_wordnet_jargon(taxonomy: Taxonomy) -> None:
    assert sorted(n for n in all_names(taxonomy) if n.lower() in JARGON) == []


def test_every_name_is_in_title_case(taxonomy: Taxonomy) -> None:
    def title_case(name: str) -> bool:
        first, *rest = re.split(r"[ -]", name)
        return first[:1].isupper() and all(
            word[:1].isupper() or word[:1].isdigit() or word in MINOR_WORDS for word in rest
        )

    assert sorted(n for n in all_names(taxonomy) if not title_case(n) or "_" in n) == []


def test_every_parent_is_itself_a_label(taxonomy: Taxonomy) -> None:
    assert all_names(taxonomy) == set(taxonomy.label_names)


def test_parents_form_no_cycles(taxonomy: Taxonomy) -> None:
    for label in taxonomy.label_names:
        # Walk up through each parent's own parents; coming back is a cycle.
        seen: set[str] = set()
        frontier = list(taxonomy.parents(label))
        while frontier:
            parent = frontier.pop()
            assert parent != label, f"{label} is its own ancestor"
            if parent not in seen:
                seen.add(parent)
                frontier.extend(taxonomy.parents(parent))


def test_parents_are_complete_and_nearest_first(taxonomy: Taxonomy) -> None:
    for label in taxonomy.label_names:
        parents = taxonomy.parents(label)
        for position, parent in enumerate(parents):
            grandparents = taxonomy.parents(parent)
            assert set(grandparents) <= set(parents), (label, parent)
            assert all(parents.index(g) > position for g in grandparents), (label, parent)


def test_a_class_counts_towards_every_parent_of_its_labels(taxonomy: Taxonomy) -> None:
    for wnid in taxonomy.wnids:
        labels = set(taxonomy.labels_for_class(wnid))
        for label in labels:
            assert set(taxonomy.parents(label)) <= labels, (wnid, label)


@pytest.mark.parametrize("wnid", [TABBY, TIGER_CAT, PERSIAN_CAT], ids=["tabby", "tiger", "persian"])
def test_domestic_cat_classes_give_cat_with_pet_mammal_animal_parents(
    taxonomy: Taxonomy, wnid: str
) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {wnid: 1.0})))
    assert "Cat" in labels
    assert {"Pet", "Mammal", "Animal"} <= set(labels["Cat"].parents)
    assert labels["Cat"].confidence == pytest.approx(100.0)


def test_cat_parents_come_nearest_first(taxonomy: Taxonomy) -> None:
    parents = taxonomy.parents("Cat")
    assert parents.index("Mammal") < parents.index("Animal")
    assert parents.index("Pet") < parents.index("Animal")


def test_tabby_and_tiger_cat_have_no_label_of_their_own(taxonomy: Taxonomy) -> None:
    assert "Cat" in taxonomy.labels_for_class(TABBY)
    for wnid in (TABBY, TIGER_CAT, EGYPTIAN_CAT):
        names = " ".join(taxonomy.labels_for_class(wnid)).lower()
        assert "tabby" not in names and "tiger" not in names and "egyptian" not in names


def test_espresso_gives_coffee_with_beverage_parent(taxonomy: Taxonomy) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {ESPRESSO: 1.0})))
    assert "Coffee" in labels
    assert "Beverage" in labels["Coffee"].parents


@pytest.mark.parametrize("wnid", [MOPED, MOTOR_SCOOTER], ids=["moped", "motor-scooter"])
def test_moped_and_motor_scooter_give_motorcycle_with_vehicle_parent(
    taxonomy: Taxonomy, wnid: str
) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {wnid: 1.0})))
    assert "Motorcycle" in labels
    assert "Vehicle" in labels["Motorcycle"].parents


def test_palace_gives_building(taxonomy: Taxonomy) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {PALACE: 1.0})))
    assert "Building" in labels
    assert "Building" in labels["Palace"].parents


def test_sports_car_keeps_its_name_under_car_and_vehicle(taxonomy: Taxonomy) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {SPORTS_CAR: 1.0})))
    assert {"Car", "Vehicle"} <= set(labels["Sports Car"].parents)
    assert labels["Sports Car"].parents.index("Car") < labels["Sports Car"].parents.index("Vehicle")


def test_dog_breed_keeps_its_name_under_dog(taxonomy: Taxonomy) -> None:
    assert "Golden Retriever" in taxonomy.labels_for_class(GOLDEN_RETRIEVER)
    assert {"Dog", "Pet", "Mammal", "Animal"} <= set(taxonomy.parents("Golden Retriever"))


def test_probabilities_of_several_cat_classes_add_up_in_cat(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {TABBY: 0.4, TIGER_CAT: 0.3, EGYPTIAN_CAT: 0.2})
    labels = by_name(taxonomy.labels_from_probabilities(probs))
    assert labels["Cat"].confidence >= 85
    assert labels["Cat"].confidence == pytest.approx(90.0, abs=1e-3)
    assert labels["Animal"].confidence == pytest.approx(90.0, abs=1e-3)


@pytest.mark.parametrize(
    ("wnid", "label"),
    [(TABBY, "Animal"), (ITALIAN_GREYHOUND, "Animal"), (WARPLANE, "Vehicle")],
    ids=["cat-via-pet-and-mammal", "greyhound-via-hound-and-racer", "warplane-two-ways"],
)
def test_a_label_reached_by_several_paths_counts_a_class_once(
    taxonomy: Taxonomy, wnid: str, label: str
) -> None:
    labels = by_name(taxonomy.labels_from_probabilities(probabilities(taxonomy, {wnid: 0.3})))
    assert labels[label].confidence == pytest.approx(30.0, abs=1e-3)


def test_labels_below_the_floor_are_left_out(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {ESPRESSO: 0.5, SPORTS_CAR: 0.25})
    names = {label.name for label in taxonomy.labels_from_probabilities(probs, floor=30.0)}
    assert "Coffee" in names
    assert "Sports Car" not in names


def test_a_label_exactly_at_the_floor_is_kept(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {ESPRESSO: 0.5, SPORTS_CAR: 0.25})
    names = {label.name for label in taxonomy.labels_from_probabilities(probs, floor=25.0)}
    assert "Sports Car" in names


def test_the_default_floor_drops_labels_under_one_percent(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {ESPRESSO: 0.995, SPORTS_CAR: 0.005})
    names = {label.name for label in taxonomy.labels_from_probabilities(probs)}
    assert "Coffee" in names
    assert "Car" not in names


def test_labels_come_highest_confidence_first(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {ESPRESSO: 0.2, SPORTS_CAR: 0.5, TABBY: 0.3})
    confidences = [label.confidence for label in taxonomy.labels_from_probabilities(probs)]
    assert confidences == sorted(confidences, reverse=True)
    assert len(confidences) > 5


def test_confidence_never_exceeds_100(taxonomy: Taxonomy) -> None:
    # float32 softmax outputs can add up to slightly more than 1.
    probs = probabilities(taxonomy, {TABBY: 0.6, TIGER_CAT: 0.4001})
    labels = by_name(taxonomy.labels_from_probabilities(probs))
    assert labels["Cat"].confidence == 100.0
    assert max(label.confidence for label in labels.values()) == 100.0


def test_it_rejects_a_vector_of_the_wrong_length(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValueError, match="1000 class probabilities"):
        taxonomy.labels_from_probabilities(np.ones(1001) / 1001)


def test_it_rejects_non_finite_probabilities(taxonomy: Taxonomy) -> None:
    probs = probabilities(taxonomy, {TABBY: 1.0})
    probs[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        taxonomy.labels_from_probabilities(probs)


def test_version_is_a_short_hash_of_the_data(taxonomy: Taxonomy) -> None:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    body = {"labels": document["labels"], "classes": document["classes"]}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert taxonomy.version == hashlib.sha256(canonical.encode()).hexdigest()[:12]


def test_load_parses_the_file_once_per_process() -> None:
    assert Taxonomy.load() is Taxonomy.load()


def test_data_file_stays_small() -> None:
    assert DATA_FILE.stat().st_size < 300 * 1024


def test_one_call_takes_well_under_a_millisecond(taxonomy: Taxonomy) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=taxonomy.class_count) * 4
    probs = (np.exp(logits) / np.exp(logits).sum()).astype(np.float32)
    taxonomy.labels_from_probabilities(probs)  # warm up
    timings = []
    for _ in range(51):
        start = time.perf_counter()
        taxonomy.labels_from_probabilities(probs)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[25] < 0.001


def test_the_jargon_list_holds_every_word_people_must_never_see() -> None:
    named_in_the_issue = {
        "instrumentality", "artifact", "whole", "organism", "chordate", "vertebrate",
        "placental", "spermatophyte", "angiosperm", "physical entity", "abstraction",
        "matter", "commodity", "covering", "structure", "device",
    }  # fmt: skip
    assert named_in_the_issue <= JARGON
