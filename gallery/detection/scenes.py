"""Scene labels derived from what the on-box models found.

No packaged scene model (Places365, CLIP) is available offline, so scenes come
from three sources:

* ImageNet's own scene classes (seashore, alp, valley, lakeside, volcano,
  cliff...) map to scene labels in the taxonomy ("Beach", "Mountain") and need
  nothing here;
* rooms and streets from the objects in them, after the classifier's and the
  object detector's labels are fused: an oven with a sink and a refrigerator
  is a kitchen, a bed a bedroom, traffic lights and parked cars a street;
* colour and light from the measured image properties, only where a label
  already says the photo is outdoors: a blue one shows "Sky", a warm one in
  dim light "Sunset". Colour alone is no evidence: abstract art and
  wallpapers are just as blue or orange.

Each rule was checked on the non-held-out photos of the judged set
(bench/labels.json): Sky found on 4 photos, Sunset on 1, Street on 2, none
where a person disagrees. Rules for "Night" (dark and outdoors) and "Snow"
(white with skis or a sled) were tried and left out: no judged photo supports
them (the one night photo is a lit city at brightness 38). The room rules
need the object detector's labels and have no judged room photo to check
against yet beyond one living room.

:func:`scene_labels` is a pure function of the fused labels and the
properties; the engine adds its result to the photo's labels (a name already
there keeps the higher confidence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .taxonomy import Taxonomy
from .types import ImageProperties, Label

# Each room and the objects that point to it, with how strongly one object
# alone does (0-1). Evidence adds up like independent witnesses
# ("noisy-or"): a sure oven (0.8) makes an 80 percent kitchen, an oven and a
# refrigerator at 90 percent each a 95 percent one. Each boxed instance is a
# witness of its own (up to MAX_WITNESSES a label), so three parked cars say
# "street" more than one. Objects found in many rooms (a chair, a lamp, a
# cup) are no witnesses.
ROOM_CUES: dict[str, dict[str, float]] = {
    "Kitchen": {
        "Oven": 0.8, "Stove": 0.8, "Dishwasher": 0.8, "Refrigerator": 0.7,
        "Microwave": 0.6, "Toaster": 0.4, "Espresso Machine": 0.3, "Dutch Oven": 0.3,
        "Frying Pan": 0.3, "Wok": 0.3, "Sink": 0.3,
    },
    "Bedroom": {
        "Bed": 0.8, "Four-Poster Bed": 0.9, "Quilt": 0.5, "Pillow": 0.3, "Crib": 0.5,
        "Bassinet": 0.4, "Wardrobe": 0.3,
    },
    "Living Room": {
        "Couch": 0.7, "Sofa Bed": 0.6, "Home Theater": 0.7, "TV": 0.4, "Fire Screen": 0.5,
        "Rocking Chair": 0.3, "Remote Control": 0.3,
    },
    "Bathroom": {
        "Toilet": 0.9, "Toilet Seat": 0.9, "Bathtub": 0.8, "Shower Curtain": 0.8,
        "Medicine Cabinet": 0.6, "Toothbrush": 0.4, "Sink": 0.3,
    },
    "Office": {
        "Desk": 0.5, "Desktop Computer": 0.5, "Monitor": 0.4, "Printer": 0.5,
        "Filing Cabinet": 0.6, "Computer Keyboard": 0.4, "Computer Mouse": 0.4,
    },
    "Dining Room": {"Dining Table": 0.6, "China Cabinet": 0.5},
}  # fmt: skip

# A street: things that stand only on streets, and road traffic (a bus is
# photographed on a road nearly always, a car often in a drive or a show).
STREET_CUES: dict[str, float] = {
    "Traffic Light": 0.7, "Street Sign": 0.6, "Stop Sign": 0.7, "Parking Meter": 0.7,
    "Fire Hydrant": 0.6, "Taxi": 0.6, "Tram": 0.7, "Trolleybus": 0.8, "Bus": 0.8,
    "School Bus": 0.8, "Car": 0.3, "Truck": 0.2, "Motorcycle": 0.2,
}  # fmt: skip

# Labels that put a photo outdoors besides the taxonomy's "Outdoors" (its
# landscapes, water, streets): a building seen from outside, and things
# photographed against the sky.
OUTDOOR_CUES = ("Outdoors", "Building", "Parachute", "Kite")

WARM_COLORS = ("orange", "red", "pink", "purple")
MAX_WITNESSES = 4

# Below this a derived scene is not worth a label (the engine's floor is 1).
SCENE_FLOOR = 10.0
# A label that says the photo is outdoors must be at least this sure before
# colour and light are read as sky or sunset.
OUTDOOR_SURE = 40.0
SKY_BLUE_PERCENT = 30.0  # from here on; the outdoor evidence counts in full from 40
SUNSET_WARM_PERCENT = 25.0
SUNSET_BRIGHTNESS = (15.0, 65.0)  # mean brightness 0-100: lit, but not daylight


def scene_labels(labels: list[Label], properties: ImageProperties | None) -> list[Label]:
    """Scene labels, with their parents, that ``labels`` and ``properties`` imply.

    ``labels`` are the photo's fused labels (classifier, object detector,
    faces); ``properties`` its measured colours and brightness, or None when
    they were not measured (then only object-based scenes come out). Returns
    only derived labels, highest confidence first, each at most once.
    """
    found = {label.name: label.confidence for label in labels}
    witnesses = _witnesses(labels)
    scenes: dict[str, float] = {}
    for room, cues in ROOM_CUES.items():
        scenes[room] = _noisy_or(witnesses, cues)
    scenes["Street"] = _noisy_or(witnesses, STREET_CUES)
    if properties is not None:
        scenes.update(_light_and_colour(found, properties, city=scenes["Street"]))
    return _with_parents({name: value for name, value in scenes.items() if value >= SCENE_FLOOR})


def _witnesses(labels: Iterable[Label]) -> dict[str, list[float]]:
    """Confidences of each label's boxed instances, surest first, or of the label
    itself when it has no box (a classifier label)."""
    found: dict[str, list[float]] = {}
    for label in labels:
        boxes = sorted((i.confidence for i in label.instances), reverse=True)
        found.setdefault(label.name, []).extend(boxes[:MAX_WITNESSES] or [label.confidence])
    return found


def _noisy_or(witnesses: Mapping[str, list[float]], cues: Mapping[str, float]) -> float:
    """The chance that at least one witness is right, each independent of the others."""
    doubt = 1.0
    for name, weight in cues.items():
        for confidence in witnesses.get(name, ()):
            doubt *= 1.0 - weight * min(confidence, 100.0) / 100.0
    return 100.0 * (1.0 - doubt)


def _light_and_colour(
    found: Mapping[str, float], properties: ImageProperties, *, city: float
) -> dict[str, float]:
    """Sky and Sunset: colour and light read only where a label already puts
    the photo outdoors (a landscape, water, a street, a building)."""
    outdoors = max(city, *(found.get(name, 0.0) for name in OUTDOOR_CUES))
    share = {color.name: color.pixel_percent for color in properties.colors}
    scenes: dict[str, float] = {}
    brightness = properties.brightness
    if outdoors >= OUTDOOR_SURE and brightness is not None:
        blue = share.get("blue", 0.0)
        if blue >= SKY_BLUE_PERCENT:
            scenes["Sky"] = outdoors * min(1.0, blue / (SKY_BLUE_PERCENT + 10.0))
        warm = sum(share.get(name, 0.0) for name in WARM_COLORS)
        low, high = SUNSET_BRIGHTNESS
        if warm >= SUNSET_WARM_PERCENT and low <= brightness <= high:
            scenes["Sunset"] = outdoors * min(1.0, warm / (2 * SUNSET_WARM_PERCENT))
    return scenes


def _with_parents(scenes: Mapping[str, float]) -> list[Label]:
    """Each scene and its parents as labels; a parent reached twice keeps the higher."""
    taxonomy = Taxonomy.load()
    confidence: dict[str, float] = {}
    for name, value in scenes.items():
        for label in (name, *taxonomy.parents(name)):
            confidence[label] = max(confidence.get(label, 0.0), min(value, 100.0))
    ranked = sorted(confidence.items(), key=lambda item: (-item[1], item[0]))
    return [Label(name, value, parents=taxonomy.parents(name)) for name, value in ranked]
