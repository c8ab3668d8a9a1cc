from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def email_hint(request: HttpRequest) -> dict[str, bool]:
    """Tell a developer where the emails went when nothing really sends them."""
    console = settings.EMAIL_BACKEND.endswith("console.EmailBackend")
    return {"email_hint": settings.DEBUG and console}
