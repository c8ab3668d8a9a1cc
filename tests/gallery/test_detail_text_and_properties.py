"""The detail page shows the text read in a photo and its measured properties."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from gallery.detection import (
    PART_TEXT,
    BoundingBox,
    Detection,
    DominantColor,
    ImageProperties,
    Label,
    TextLine,
)
from gallery.models import Image

pytestmark = pytest.mark.django_db

READ = Detection(
    "fake",
    "fake-1",
    (Label("Text", 91.0), Label("Document", 80.0, parents=("Text",))),
    text=(
        TextLine("Region-based segmentation", 99.0, BoundingBox(0.0, 0.04, 0.77, 0.15)),
        TextLine("<b>markers</b> & coins", 96.0, BoundingBox(0.0, 0.23, 0.99, 0.13)),
    ),
    properties=ImageProperties(
        colors=(DominantColor("gray", "#939393", 68.6), DominantColor("white", "#e2e2e2", 31.3)),
        brightness=67.2,
        sharpness=99.6,
    ),
)


def detail(client: Client, image: Image) -> str:
    response = client.get(reverse("gallery:detail", args=[image.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_owner_sees_the_lines_of_text_in_reading_order(
    owner_client: Client, make_image: Any
) -> None:
    image = make_image()
    image.replace_labels(READ)

    content = detail(owner_client, image)

    assert "Text in the photo" in content
    first = content.index("<li>Region-based segmentation</li>")
    # Text read in a photo is escaped like anything else a person supplies.
    second = content.index("<li>&lt;b&gt;markers&lt;/b&gt; &amp; coins</li>")
    assert first < second
    assert "was not read" not in content


def test_the_owner_sees_colour_swatches_brightness_and_sharpness(
    owner_client: Client, make_image: Any
) -> None:
    image = make_image()
    image.replace_labels(READ)

    content = detail(owner_client, image)

    assert '<span class="swatch" style="background:#939393"></span>gray <small>69%</small>' in (
        content
    )
    assert "white <small>31%</small>" in content
    assert "Brightness 67/100 · sharpness 100/100" in content


def test_a_photo_whose_text_failed_says_so(owner_client: Client, make_image: Any) -> None:
    image = make_image()
    image.replace_labels(
        Detection("fake", "fake-1", (Label("Cat", 90.0),), incomplete=(PART_TEXT,))
    )

    content = detail(owner_client, image)

    assert "The text in this photo was not read; press Detect again." in content
    assert "Text in the photo" not in content


def test_a_photo_without_text_or_properties_shows_neither(
    owner_client: Client, make_image: Any
) -> None:
    image = make_image()
    image.replace_labels(Detection("fake", "fake-1", (Label("Cat", 90.0),)))

    content = detail(owner_client, image)

    assert 'id="found-text"' not in content
    assert 'id="properties"' not in content
    assert 'id="text-unread"' not in content


def test_another_user_sees_none_of_it(other_client: Client, make_image: Any) -> None:
    image = make_image()
    image.replace_labels(READ)

    response = other_client.get(reverse("gallery:detail", args=[image.pk]))

    assert response.status_code == 404
    assert b"segmentation" not in response.content


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, make_image: Any) -> None:
    image = make_image()
    image.replace_labels(READ)

    response = client.get(reverse("gallery:detail", args=[image.pk]))

    assert response.status_code == 302
    assert b"segmentation" not in response.content
