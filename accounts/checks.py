"""Start-up checks for what signing in depends on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

NO_KEY_MESSAGE = (
    "DJANGO_SECRET_KEY must be set when DEBUG is off (or set DJANGO_DEBUG=1 for local development)."
)


def secret_key_is_missing() -> bool:
    try:
        return not settings.SECRET_KEY
    except ImproperlyConfigured:  # Django's own words when it is empty
        return True


def require_secret_key() -> None:
    """Stop a server from starting without the key that signs sessions and reset links."""
    if secret_key_is_missing():
        raise ImproperlyConfigured(NO_KEY_MESSAGE)


@register()
def secret_key_is_set(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    # Commands that sign nothing (detect_labels, prepare_model) skip system
    # checks, so they run on a fresh machine with nothing set.
    return [Error(NO_KEY_MESSAGE, id="accounts.E001")] if secret_key_is_missing() else []
