"""Scene labels from fused labels and measured image properties (issue 8, item 3).

Label confidences and colour shares below are those the on-box engine gives
for photos looked at by eye; the tests pin the rules, not a model.
"""

from __future__ import annotations

import pytest

from gallery.detection.scenes import scene_labels
from gallery.detection.taxonomy import Taxonomy
from gallery.detection.types import BoundingBox, DominantColor, ImageProperties, Instance, Label


def label(name: str, confidence: float, *boxes: float) -> Label:
    instances = tuple(Instance(BoundingBox(0.1, 0.1, 0.2, 0.2), c) for c in boxes)
    return Label(name, confidence, Taxonomy.load().parents(name), instances)


def props(brightness: float, **colors: float) -> ImageProperties:
    return ImageProperties(
        colors=tuple(DominantColor(name, "#000000", share) for name, share in colors.items()),
        brightness=brightness,
        sharpness=60.0,
    )


def scenes(labels: list[Label], properties: ImageProperties | None = None) -> dict[str, float]:
    return {found.name: found.confidence for found in scene_labels(labels, properties)}


# A lake at dusk (KDE's "summer_1am" wallpaper): the classifier's labels at 15
# percent or more, and its measured colours.
LAKE_AT_DUSK = [
    label("Nature", 63), label("Outdoors", 63), label("Shoreline", 63), label("Water", 63),
    label("Sandbar", 40), label("Coast", 16),
]  # fmt: skip
LAKE_AT_DUSK_PROPS = props(54, blue=48, purple=28, pink=14, white=6)
# An abstract wallpaper (Ubuntu's "warty-final"): a purple-to-orange gradient
# with no label at all, and a blue one (GNOME's "desert").
GRADIENT_PROPS = props(30, purple=56, red=44)
BLUE_ART_PROPS = props(53, blue=85, orange=13)


def test_an_oven_sink_and_refrigerator_make_a_kitchen() -> None:
    found = scenes([label("Oven", 80, 80), label("Sink", 70, 70), label("Refrigerator", 85, 85)])
    assert found["Kitchen"] >= 85
    assert found["Indoors"] == found["Kitchen"]
    assert found["Room"] == found["Kitchen"]


def test_a_sink_alone_is_no_kitchen_to_show() -> None:
    found = scenes([label("Sink", 90, 90)])
    assert found.get("Kitchen", 0) < 50
    assert found.get("Bathroom", 0) < 50


def test_a_bed_makes_a_bedroom_and_a_toilet_a_bathroom() -> None:
    assert scenes([label("Bed", 90, 90)])["Bedroom"] >= 70
    assert scenes([label("Toilet", 95, 95)])["Bathroom"] >= 80


def test_a_couch_and_a_tv_make_a_living_room() -> None:
    found = scenes([label("Couch", 80, 80), label("TV", 75, 75)])
    assert found["Living Room"] >= 60
    assert "Kitchen" not in found


def test_things_found_in_every_room_make_no_room() -> None:
    found = scenes([label("Chair", 95, 95, 90, 90), label("Cup", 90, 90), label("Lamp", 80)])
    assert found == {}


def test_traffic_lights_and_several_cars_make_a_street_in_a_city() -> None:
    found = scenes([label("Car", 90, 90, 85, 80, 60), label("Traffic Light", 70, 70)])
    assert found["Street"] >= 80
    assert found["City"] == found["Street"]
    assert found["Outdoors"] == found["Street"]


def test_one_car_is_not_yet_a_street() -> None:
    assert scenes([label("Car", 95, 95)]).get("Street", 0) < 50


def test_each_box_counts_as_a_witness_once_boxed() -> None:
    one = scenes([label("Car", 90, 90)]).get("Street", 0)
    three = scenes([label("Car", 90, 90, 90, 90)]).get("Street", 0)
    assert three > one


def test_a_blue_and_warm_lake_at_dusk_has_sky_and_sunset() -> None:
    found = scenes(LAKE_AT_DUSK, LAKE_AT_DUSK_PROPS)
    assert found["Sky"] >= 50
    assert found["Sunset"] >= 50


@pytest.mark.parametrize("properties", [GRADIENT_PROPS, BLUE_ART_PROPS], ids=["warm", "blue"])
def test_colour_alone_makes_no_sky_or_sunset(properties: ImageProperties) -> None:
    assert scenes([], properties) == {}


def test_a_daylight_photo_is_no_sunset_however_warm() -> None:
    found = scenes(LAKE_AT_DUSK, props(80, orange=40, blue=40))
    assert "Sunset" not in found


def test_without_properties_only_object_scenes_come_out() -> None:
    found = scenes([*LAKE_AT_DUSK, label("Bed", 90, 90)], None)
    assert "Bedroom" in found
    assert not {"Sky", "Sunset"} & set(found)


def test_scene_labels_carry_their_parents_and_come_surest_first() -> None:
    found = scene_labels([label("Toilet", 95, 95), label("Couch", 60, 60)], None)
    names = [found_label.name for found_label in found]
    assert names[:3] == ["Bathroom", "Indoors", "Room"]
    assert [f.confidence for f in found] == sorted((f.confidence for f in found), reverse=True)
    bathroom = next(f for f in found if f.name == "Bathroom")
    assert bathroom.parents == ("Room", "Indoors")
    assert len(names) == len(set(names))


def test_every_scene_name_is_a_taxonomy_label() -> None:
    taxonomy = Taxonomy.load()
    for name in (
        "Kitchen", "Bedroom", "Living Room", "Bathroom", "Office", "Dining Room", "Street",
        "Night", "Sky", "Sunset", "Snow", "Beach", "Mountain", "Screenshot",
    ):  # fmt: skip
        assert name in taxonomy, name


def test_a_screen_capture_is_a_screenshot() -> None:
    # ImageNet's "web site" class: 87-89 percent on captured documentation pages.
    assert "Screenshot" in Taxonomy.load().parents("Website")


def test_a_building_seen_against_blue_is_under_a_sky() -> None:
    # The judged set's palace photo (Building 78, blue 54 percent of it).
    found = scenes([label("Building", 78), label("Palace", 54)], props(46, blue=54, yellow=23))
    assert found["Sky"] >= 50
    assert found["Outdoors"] >= 50


def test_a_kite_in_a_blue_sky_is_sky() -> None:
    assert scenes([label("Kite", 70, 70)], props(32, blue=94))["Sky"] >= 50


def test_a_hot_air_balloon_on_blue_abstract_art_is_no_sky() -> None:
    # ImageNet's balloon class fires on KDE's abstract "Opal" wallpaper.
    assert scenes([label("Hot Air Balloon", 61)], props(37, blue=36, brown=25)) == {}


def test_a_bus_in_the_classifier_labels_makes_a_street() -> None:
    # The judged set's city bus: no boxes, only the classifier's labels.
    assert scenes([label("Bus", 70), label("Trolleybus", 52)])["Street"] >= 50
