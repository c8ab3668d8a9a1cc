"""The per-user Detect limit: a fixed window per user per minute in the cache."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command

from findlabels import settings as production_settings
from gallery import ratelimit
from gallery.ratelimit import allow_detect


@pytest.fixture(params=["production", "locmem"])
def cache_backend(request: pytest.FixtureRequest, settings: Any) -> None:
    """Production's shared database cache (whose incr() rewrites the expiry), and locmem."""
    if request.param == "production":
        request.getfixturevalue("db")
        settings.CACHES = {**settings.CACHES, "default": production_settings.CACHES["default"]}
        call_command("createcachetable", verbosity=0)  # the test database was made for locmem


@pytest.fixture
def clock(cache_backend: None, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A settable clock for the rate limiter alone; starts at the beginning of a minute.

    Only the module's own time moves: the cache's expiry keeps real time, so
    a limit that relied on cache entries expiring, instead of on its window,
    would never reset here, as it would not in production.
    """
    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now[0]))
    return now


def test_the_31st_detect_in_a_minute_is_refused(settings: Any, clock: list[float]) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 30
    allowed = [allow_detect(7) for _ in range(31)]
    assert allowed == [True] * 30 + [False]


def test_each_user_has_their_own_count(settings: Any, clock: list[float]) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 2
    assert [allow_detect(1), allow_detect(1), allow_detect(1)] == [True, True, False]
    assert allow_detect(2) is True


def test_a_new_minute_starts_a_new_count(settings: Any, clock: list[float]) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 1
    assert allow_detect(1) is True
    clock[0] += 59
    assert allow_detect(1) is False
    clock[0] += 1
    assert allow_detect(1) is True


def test_a_count_evicted_between_add_and_incr_starts_again(
    settings: Any, clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    def evicted(cache: Any, key: str, delta: int = 1, version: Any = None) -> int:
        raise ValueError(f"Key {key!r} not found")

    monkeypatch.setattr(type(caches["default"]), "incr", evicted)
    assert allow_detect(1) is True
