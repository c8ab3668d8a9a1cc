from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from gallery.detection import BoundingBox, Detection, DetectionError, Instance, Label

CAT = Label(
    "Cat",
    96.5,
    ("Pet", "Mammal", "Animal"),
    (Instance(BoundingBox(0.1, 0.2, 0.5, 0.6), 96.5),),
)
PET = Label("Pet", 96.5, ("Animal",))
SOFA = Label("Couch", 42.0, ("Furniture",), (Instance(BoundingBox(0.0, 0.5, 1.0, 0.5), 42.0),))


@dataclass
class FakeDetector:
    """Stands in for an engine in view tests; the real engines have their own tests."""

    name: str = "fake"
    error: DetectionError | None = None
    calls: list[str | None] = field(default_factory=list)

    def detect(
        self, data: bytes, *, storage_name: str | None = None, exclude: Sequence[str] = ()
    ) -> Detection:
        self.calls.append(storage_name)
        if self.error:
            raise self.error
        return Detection("fake", "fake-1", (CAT, PET, SOFA))


@pytest.fixture
def detector(monkeypatch: Any) -> FakeDetector:
    fake = FakeDetector()
    monkeypatch.setattr("gallery.models.get_detector", lambda: fake)
    return fake
