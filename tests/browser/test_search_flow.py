"""Search, corrections, the viewer's keys and the phone layout in Debian's chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from gallery.detection import BoundingBox, Detection, Instance, Label
from gallery.models import Image
from gallery.uploads import store_upload
from tests.browser.test_local_flow import PASSWORD, sign_in
from tests.conftest import upload_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
BOX = Instance(BoundingBox(0.2, 0.2, 0.5, 0.6), 92.0, ("brown",))
FOUND = {
    "chelsea_cat.jpg": (Label("Cat", 92.0, ("Pet", "Animal"), (BOX,)), Label("Pet", 93.0)),
    "coffee.jpg": (Label("Coffee Cup", 88.0, ("Cup",)), Label("Cup", 90.0)),
    "motorcycle.jpg": (Label("Motorcycle", 81.0, ("Vehicle",)), Label("Vehicle", 85.0)),
    "astronaut.jpg": (Label("Person", 95.0), Label("Dog", 3.0, ("Animal",))),
}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def library(live_server: Any) -> list[Image]:
    """Real photos, with the labels a person would agree with."""
    user = get_user_model().objects.create_user(email="ada@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    stored = []
    for name, labels in FOUND.items():
        image = store_upload(user, upload_file(name, (PHOTOS / name).read_bytes()))
        image.replace_labels(Detection("local", "test", labels))
        stored.append(image)
    return stored


def names_on_page(page: Any) -> set[str]:
    return set(page.locator(".tile img").evaluate_all("els => els.map(e => e.alt)"))


def test_typing_a_query_with_suggestions_finds_the_photos(
    page: Any, live_server: Any, library: Any, shot: Any
) -> None:
    sign_in(page, live_server.url)
    page.click("#search-box")
    page.keyboard.type("mo")
    page.wait_for_selector("#search-suggestions li")
    shot("suggestions")
    assert page.locator("#search-suggestions li").first.inner_text().startswith("Motorcycle")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#search-box") == "motorcycle "
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=motorcycle*")
    assert names_on_page(page) == {"motorcycle.jpg"}
    page.fill("#search-box", "animal -vehicle")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=animal*")
    shot("results")
    assert names_on_page(page) == {"chelsea_cat.jpg"}, "the 3% dog is no match"


def test_removing_and_adding_a_label_on_the_detail_page(
    page: Any, live_server: Any, library: Any, shot: Any
) -> None:
    sign_in(page, live_server.url)
    cat = next(image for image in library if image.original_name == "chelsea_cat.jpg")
    page.goto(f"{live_server.url}/images/{cat.pk}/")
    cat_row = page.locator("#labels li", has_text="Cat")
    cat_row.locator("summary").click()
    shot("label-menu")
    cat_row.locator("text=Not in this photo: remove").click()
    page.wait_for_selector("text=Removed by you:")
    assert "Cat" not in page.locator("#labels").inner_text()
    page.fill("#add-label-name", "Grandma's cat")
    page.click(".add-label button[type=submit]")
    page.wait_for_selector("text=added by you")
    shot("corrected")
    page.fill("#search-box", "grandma")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=grandma*")
    assert names_on_page(page) == {"chelsea_cat.jpg"}


def test_the_viewer_moves_with_the_arrow_keys_and_escape_returns(
    page: Any, live_server: Any, library: Any
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url)
    page.click(".tile > a >> nth=1")
    page.wait_for_load_state("networkidle")
    second = page.url.split("?")[0]
    assert not errors
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda url: not url.startswith(second))
    assert page.locator("#newer-link").count() == 1
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(lambda url: url.startswith(second))
    page.keyboard.press("Escape")
    page.wait_for_url(f"{live_server.url}/#photo-*")


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 900}])
def test_no_page_is_wider_than_the_screen(
    browser: Any, live_server: Any, library: Any, viewport: dict[str, int], request: Any
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, live_server.url)
        folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
        folder = folder / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in [
            ("gallery", "/"),
            ("search", "/?q=cat"),
            ("labels", "/labels/"),
            ("detail", f"/images/{library[0].pk}/"),
            ("upload", "/upload/"),
        ]:
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{path} is {width}px wide"
        if viewport == PHONE:
            page.goto(f"{live_server.url}/")
            tops = page.locator(".tile").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().top)"
            )
            first_row = [top for top in tops if top == tops[0]]
            assert len(first_row) == 3, "three photos a row on a phone"
            thumb = page.locator(".tile img").first.bounding_box()
            assert abs(thumb["width"] - thumb["height"]) < 2, "square thumbnails"
            header = page.locator(".topbar").bounding_box()
            assert header["height"] < 70, "the header is one line"
    finally:
        context.close()
