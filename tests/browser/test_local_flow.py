"""The whole product flow in Debian's chromium, on embedded defaults."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from gallery.models import Image
from tests.browser.conftest import Requests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
PASSWORD = "Correct-Horse-42"


def sign_up_and_verify(page: Any, base: str, shot: Any) -> None:
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shot("signup")
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", str(mail.outbox[-1].body), re.MULTILINE)
    assert code, mail.outbox[-1].body
    page.fill("input[name=code]", code.group(1))
    shot("code")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", "ada@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def upload(page: Any, base: str, tmp_path: Path, shot: Any) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((PHOTOS / "china.jpg").read_bytes()[:3000])
    page.goto(f"{base}/upload/")
    page.set_input_files(
        "#id_images",
        [str(PHOTOS / "grace_hopper.jpg"), str(PHOTOS / "chelsea_cat.jpg"), str(broken)],
    )
    assert page.locator("#chosen li").count() == 3
    shot("upload-chosen")
    page.click("#upload-button")
    page.wait_for_url(f"{base}/")


def saved_confidence(user_model: Any, wait_seconds: float = 5.0) -> int:
    """The stored slider value, once the page's beacon has landed."""
    deadline = time.monotonic() + wait_seconds
    while True:
        value = int(user_model.objects.get(email="ada@example.com").label_confidence)
        if value != 50 or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_sign_up_upload_detect_filter_and_delete(
    live_server: Any, page: Any, shot: Any, tmp_path: Path, django_user_model: Any
) -> None:
    base = live_server.url
    sign_up_and_verify(page, base, shot)
    page.click("text=Sign out")
    sign_in(page, base)

    upload(page, base, tmp_path, shot)
    shot("gallery")
    assert page.locator(".grid .tile").count() == 2
    assert page.locator(".message.error").inner_text().startswith("broken.jpg was not stored")

    page.locator(".grid .tile > a").first.click()  # newest first: the cat
    page.wait_for_url(re.compile(r"/images/"))
    page.click("#detect-button")
    page.wait_for_selector(".message.success")
    shot("detected")
    labels = page.locator("#labels li[data-confidence]")
    assert labels.count() > 1
    # Grace Hopper is older, so the cat opens first; its page names the cat.
    assert "Cat" in page.locator("#labels").inner_text()
    cat_box = page.locator("#stage .box", has_text="Cat")
    assert cat_box.count() == 1, "the object detector's box is drawn around the cat"
    assert cat_box.first.is_visible()

    page.goto(f"{base}/")
    page.locator(".grid .tile > a").nth(1).click()
    page.click("#detect-button")
    page.wait_for_selector(".message.success")
    assert page.locator("#stage .box").count() >= 1, "a face box is drawn on the portrait"
    assert page.locator("#stage .box").first.is_visible()
    shot("portrait-boxes")
    # The page itself may still be fetching its image and logo; only then listen.
    page.wait_for_load_state("networkidle")

    requests = Requests(page)
    page.locator("#confidence").fill("95")
    shot("slider-95")
    for element in page.locator("[data-confidence]").all():
        shown = float(element.get_attribute("data-confidence")) >= 95
        assert element.is_visible() == shown
    confidences = [
        float(c)
        for c in page.locator("#labels li").evaluate_all(
            "items => items.filter(i => i.dataset.confidence).map(i => i.dataset.confidence)"
        )
    ]
    assert any(c < 95 for c in confidences), "some labels were hidden by the slider"
    assert page.locator("#none-above").inner_text().endswith("below 95% hidden.")
    assert requests.after_quiet() == [], "moving the slider must not call the server"

    page.locator(".actions a.danger").click()  # leaving the page saves the slider
    shot("confirm-delete")
    assert saved_confidence(django_user_model) == 95, "the slider's value is remembered"
    page.click("button.danger")
    page.wait_for_url(f"{base}/")
    shot("after-delete")
    assert page.locator(".grid .tile").count() == 1
    assert Image.objects.count() == 1
