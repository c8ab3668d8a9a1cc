"""A moderator works the review queue in the admin, in Debian's chromium."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client

from gallery.detection import Detection, Label, Moderation, ModerationLabel
from gallery.models import Image

from ..gallery.test_moderation import moderators_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLAGGED = Moderation((ModerationLabel("Explicit Nudity", 93.4, "Explicit"),), "7.0")
CLEAR = Moderation((), "7.0")
REASON = "Nudity is not allowed on this site"


def signed_in(page: Any, base: str, user: Any) -> None:
    """Give the browser a session of ``user`` (the sign-in pages have tests of their own)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": cookie.key,
                "value": cookie.value,
                "domain": urlparse(base).hostname,
                "path": "/",
            }
        ]
    )


def test_a_moderator_reviews_and_hides_a_flagged_photo(
    live_server: Any,
    page: Any,
    shot: Any,
    owner: Any,
    make_user: Callable[..., Any],
    make_image: Callable[..., Image],
) -> None:
    base = live_server.url
    moderator = make_user("moderator@example.com", is_staff=True)
    moderator.groups.add(moderators_group())
    flagged = make_image(name="beach.jpg", color=(230, 190, 160))
    flagged.replace_labels(Detection("fake", "1", (Label("Person", 97.0),), moderation=FLAGGED))
    fine = make_image(name="kitchen.jpg")
    fine.replace_labels(Detection("fake", "1", (Label("Cup", 91.0),), moderation=CLEAR))

    signed_in(page, base, moderator)
    page.goto(f"{base}/admin/")
    queue = page.locator("#moderation-queue")
    assert "Needs review" in queue.inner_text()
    assert "1 photo" in queue.inner_text()
    shot("admin-index")

    page.click("#moderation-queue a")
    page.wait_for_selector("#result_list tbody tr")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "beach.jpg" in page.locator("#result_list").inner_text()
    assert "Explicit Nudity 93%" in page.locator("#result_list").inner_text()
    shot("needs-review")

    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "hide")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=reason]")
    page.fill("input[name=reason]", REASON)
    shot("hide-reason")
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Hid 1 photo(s)." in page.locator(".messagelist").inner_text()
    # Back on the queue, which is now empty.
    assert "0 images" in page.locator("#changelist").inner_text()
    assert "moderation=review" in page.url
    shot("queue-empty")

    page.goto(f"{base}/admin/gallery/image/{flagged.pk}/change/")
    content = page.locator("#content-main").inner_text()
    assert f"Hidden from its owner: {REASON} by moderator@example.com" in content
    assert "Explicit Nudity 93.4% (under Explicit)" in content
    shot("change-page-history")

    signed_in(page, base, owner)
    page.goto(f"{base}/")
    assert f"Removed by a moderator: {REASON}" in page.locator(".grid").inner_text()
    shot("owner-gallery")
    page.goto(f"{base}/images/{flagged.pk}/")
    assert f"Reason: {REASON}" in page.locator(".removed-card").inner_text()
    shot("owner-detail")
