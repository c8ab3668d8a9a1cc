"""Result types shared by every detection engine.

Shapes follow Amazon Rekognition's DetectLabels response so that the web app
treats both engines alike: confidences are percentages (0-100) and bounding
boxes are ratios of the image's width and height.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class DetectionError(Exception):
    """The only exception a caller sees from a detector.

    ``permanent`` says whether trying the same image again could succeed
    (a throttled engine) or not (a file that is not an image).
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
            "instances": [
                {"bounding_box": asdict(i.bounding_box), "confidence": round(i.confidence, 3)}
                for i in self.instances
            ],
        }


@dataclass(frozen=True)
class Detection:
    engine: str
    model_version: str
    labels: tuple[Label, ...] = field(default_factory=tuple)

    def sorted_labels(self) -> list[Label]:
        return sorted(self.labels, key=lambda label: label.confidence, reverse=True)

    def above(self, min_confidence: float) -> Detection:
        kept = tuple(label for label in self.labels if label.confidence >= min_confidence)
        return Detection(self.engine, self.model_version, kept)
