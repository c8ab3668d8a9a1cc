"""Label detection: one interface, one engine chosen by settings.

Callers use :func:`get_detector` and catch :class:`DetectionError`; nothing
else from an engine escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Protocol

from .types import (
    PART_MODERATION,
    PART_TEXT,
    BoundingBox,
    Detection,
    DetectionError,
    DominantColor,
    ImageProperties,
    Instance,
    Label,
    Moderation,
    ModerationLabel,
    TextLine,
)

__all__ = [
    "ENGINES",
    "PART_MODERATION",
    "PART_TEXT",
    "BoundingBox",
    "Detection",
    "DetectionError",
    "Detector",
    "DominantColor",
    "ImageProperties",
    "Instance",
    "Label",
    "Moderation",
    "ModerationLabel",
    "TextLine",
    "get_detector",
]


class Detector(Protocol):
    name: str

    def detect(
        self, data: bytes, *, storage_name: str | None = None, exclude: Sequence[str] = ()
    ) -> Detection:
        """Find labels in one encoded image.

        ``storage_name`` is the image's name in the default storage, when it
        is stored; an engine may read it from there instead of ``data``.
        ``exclude`` names labels the person never wants to see: an engine may
        leave them out (Rekognition's LabelExclusionFilters); the app hides
        them when storing whatever the engine does.
        """
        ...


# An engine may also offer
# ``detect_stored(storage_name, size, exclude=()) -> Detection | None``: find labels
# in an image where it lies in storage, or return None to be given bytes.

ENGINES = ("local", "rekognition")


@cache
def get_detector(name: str | None = None) -> Detector:
    """The configured engine, built once per process."""
    from django.conf import settings

    name = name or settings.FINDLABELS_DETECTOR
    if name == "local":
        from .local import LocalDetector

        return LocalDetector.from_settings()
    if name == "rekognition":
        from .rekognition import RekognitionDetector

        return RekognitionDetector.from_settings()
    raise DetectionError(f"Unknown detector {name!r}; choose one of {', '.join(ENGINES)}.")
