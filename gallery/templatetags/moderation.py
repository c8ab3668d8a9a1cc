"""The admin index's count of photos waiting for a moderator."""

from __future__ import annotations

from django import template

from ..models import Image

register = template.Library()


@register.simple_tag
def needs_review_count() -> int:
    return Image.objects.needs_review().count()
