"""Links to one image's pages, reversed once per process."""

from __future__ import annotations

import uuid
from functools import cache

from django.urls import reverse

_ANY_ID = uuid.UUID(int=0)


@cache
def _image_url_pattern(view: str) -> str:
    # reverse() costs ~0.1 ms; a gallery page needs dozens of these links.
    return reverse(view, args=[_ANY_ID]).replace(str(_ANY_ID), "{}")


def image_url(view: str, image_id: uuid.UUID) -> str:
    """reverse(view, args=[image_id]) for the per-image views, reversed once."""
    return _image_url_pattern(view).format(image_id)
