from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made
# by the test itself (reading the outbox, checking rows) are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is not installed; `make test` installs it when run as root.")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    # The site's Content-Security-Policy is enforced in every browser test:
    # chromium reports each refused script, style or image on the console.
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert refused == [], "the page broke its own Content-Security-Policy"


@pytest.fixture
def shot(page: Any, request: Any) -> Any:
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str) -> None:
        page.screenshot(path=str(folder / f"{next(counter):02d}-{step}.png"), full_page=True)

    return take


# A request the page makes on a timer (a delayed save) must still be seen:
# "no request" is asserted only after the network was idle this long.
QUIET_SECONDS = 2.0


class Requests:
    """The requests a page makes from now on, and when the network last moved."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.urls: list[str] = []
        self.in_flight = 0
        self.last_activity = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Any) -> None:
        self.urls.append(request.url)
        self.in_flight += 1
        self.last_activity = time.monotonic()

    def _ended(self, request: Any) -> None:
        self.in_flight -= 1
        self.last_activity = time.monotonic()

    def after_quiet(self, seconds: float = QUIET_SECONDS, limit: float = 30.0) -> list[str]:
        """The URLs requested, once nothing was in flight or started for ``seconds``.

        The quiet time counts from this call at the earliest, so whatever the
        page set off before (a timer started by the last input) has had as long.
        """
        self.last_activity = max(self.last_activity, time.monotonic())
        deadline = time.monotonic() + limit
        while self.in_flight or time.monotonic() - self.last_activity < seconds:
            if time.monotonic() > deadline:
                pytest.fail(f"the network never went quiet for {seconds} s: {self.urls}")
            self.page.wait_for_timeout(100)  # lets Playwright deliver the page's events
        return self.urls
