"""Result types shared by every detection engine.

Shapes follow Amazon Rekognition's responses so that the web app treats both
engines alike: confidences are percentages (0-100) and bounding boxes are
ratios of the image's width and height. One :class:`Detection` carries
everything one Detect press finds: labels (``DetectLabels``), lines of text
(``DetectText``), image properties (``IMAGE_PROPERTIES``) and a moderation
result (``DetectModerationLabels``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


class DetectionError(Exception):
    """The only exception a caller sees from a detector.

    ``permanent`` says whether trying the same image again could succeed
    (a throttled engine) or not (a file that is not an image). ``message``
    is written for the person: no server paths, no library messages.
    """

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class BoundingBox:
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Instance:
    bounding_box: BoundingBox
    confidence: float
    # Simplified colour names ("red", "blue"), most of the box first; empty
    # where the engine did not measure them.
    colors: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "bounding_box": asdict(self.bounding_box),
            "confidence": round(self.confidence, 3),
        }
        if self.colors:
            found["colors"] = list(self.colors)
        return found


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    parents: tuple[str, ...] = ()
    instances: tuple[Instance, ...] = ()
    aliases: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confidence": round(self.confidence, 3),
            "parents": list(self.parents),
            "instances": [instance.as_dict() for instance in self.instances],
        }


@dataclass(frozen=True)
class TextLine:
    """One line of text found in the photo, like a Rekognition ``LINE``."""

    text: str
    confidence: float
    bounding_box: BoundingBox

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "confidence": round(self.confidence, 3),
            "bounding_box": asdict(self.bounding_box),
        }


@dataclass(frozen=True)
class DominantColor:
    """A colour covering part of the photo (Rekognition's ``DominantColors``)."""

    name: str  # simplified colour name: "red", "blue", "white"...
    hex: str  # "#aa3322"
    pixel_percent: float  # share of the photo (or box), 0-100


@dataclass(frozen=True)
class ImageProperties:
    """Measured properties of the whole photo, like Rekognition's ``ImageProperties``."""

    colors: tuple[DominantColor, ...] = ()
    brightness: float | None = None  # 0-100
    sharpness: float | None = None  # 0-100

    def as_dict(self) -> dict[str, Any]:
        return {
            "colors": [asdict(color) for color in self.colors],
            "brightness": None if self.brightness is None else round(self.brightness, 1),
            "sharpness": None if self.sharpness is None else round(self.sharpness, 1),
        }


@dataclass(frozen=True)
class ModerationLabel:
    """One ``DetectModerationLabels`` label: name, confidence and its top-level parent."""

    name: str
    confidence: float
    parent: str = ""


@dataclass(frozen=True)
class Moderation:
    labels: tuple[ModerationLabel, ...] = ()
    model_version: str = ""

    def top_confidence(self) -> float:
        return max((label.confidence for label in self.labels), default=0.0)


# Names of the parts of a detection that may fail on their own while the
# labels are kept (Detection.incomplete).
PART_TEXT = "text"
PART_MODERATION = "moderation"


@dataclass(frozen=True)
class Detection:
    engine: str
    model_version: str
    labels: tuple[Label, ...] = field(default_factory=tuple)
    text: tuple[TextLine, ...] = ()
    properties: ImageProperties | None = None
    # None: no moderation check was asked for (turned off).
    moderation: Moderation | None = None
    # Parts that failed while the labels succeeded (PART_TEXT, PART_MODERATION);
    # the photo says so until its next Detect.
    incomplete: tuple[str, ...] = ()

    def sorted_labels(self) -> list[Label]:
        return sorted(self.labels, key=lambda label: label.confidence, reverse=True)

    def above(self, min_confidence: float) -> Detection:
        kept = tuple(label for label in self.labels if label.confidence >= min_confidence)
        return replace(self, labels=kept)
