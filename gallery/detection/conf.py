"""Settings for the detection package, readable with or without Django.

The converter and the benchmarks also run as plain scripts, where no Django
settings are configured; there every value falls back to its default.
"""

from __future__ import annotations

from typing import Any


def setting(name: str, default: Any) -> Any:
    """``settings.<name>`` when Django is configured, else ``default``."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return default
    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:
        return default
