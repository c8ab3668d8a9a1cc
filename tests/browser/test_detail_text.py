"""The detail page's text and colours, in Debian's chromium, on a wide and a phone screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image as PILImage

from gallery.detection import Detection
from gallery.detection.properties import measure
from gallery.detection.text import TextReader, text_labels
from gallery.uploads import store_upload
from tests.conftest import upload_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_text_read_and_the_colours_are_shown_beside_the_photo(
    width: int, height: int, live_server: Any, page: Any, shot: Any, make_user: Any
) -> None:
    owner = make_user("ada@example.com")
    image = store_upload(owner, upload_file("page.jpg", (PHOTOS / "page.jpg").read_bytes()))
    with PILImage.open(PHOTOS / "page.jpg") as opened:
        photo = opened.convert("RGB")
    lines = TextReader.load().read(photo)
    labels = tuple(text_labels(lines, photo.size))
    image.replace_labels(Detection("local", "test", labels, text=lines, properties=measure(photo)))
    client = Client()
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.set_viewport_size({"width": width, "height": height})

    page.goto(f"{live_server.url}/images/{image.pk}/")
    shot(f"detail-{width}")

    found = page.locator("#found-text li")
    assert found.first.inner_text() == "Region-based segmentation"
    assert found.count() == len(lines)
    assert found.first.is_visible()
    swatches = page.locator("#properties .swatch")
    assert swatches.count() >= 2
    assert swatches.first.bounding_box()["width"] > 8
    assert "Brightness" in page.locator("#properties").inner_text()
    # One box per line of text (the Text label), and one around the page (Document).
    assert page.locator("#stage .box").count() == len(lines) + 1
    # Nothing pushes the page sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
