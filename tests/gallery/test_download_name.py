"""A download is named with the extension of what it really is."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from gallery import media
from tests.conftest import make_png

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("uploaded", "content_type", "expected"),
    [
        ("evil.jpg.html", "image/jpeg", "evil.jpg"),
        ("evil.html", "image/jpeg", "evil.jpg"),
        ("photo.PNG", "image/png", "photo.PNG"),
        ("photo.jpeg", "image/jpeg", "photo.jpeg"),
        ("photo.png", "image/jpeg", "photo.jpg"),
        ("IMG_0001.HEIC", "image/heic", "IMG_0001.HEIC"),
        ("noextension", "image/webp", "noextension.webp"),
        (".html", "image/png", "photo.png"),
    ],
)
def test_the_download_name_ends_in_the_real_types_extension(
    uploaded: str, content_type: str, expected: str
) -> None:
    assert media.download_name(uploaded, content_type) == expected


def test_a_downloaded_html_name_becomes_an_image_name(
    owner_client: Client, make_image: Any
) -> None:
    image = make_image(name="evil.jpg.html")
    response = owner_client.get(reverse("gallery:original", args=[image.pk]) + "?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="evil.jpg"'
    assert response["Content-Type"] == "image/jpeg"


def test_a_png_sent_as_jpg_downloads_as_png(owner_client: Client) -> None:
    from gallery.models import Image
    from tests.conftest import upload_file

    owner_client.post("/upload/", {"images": [upload_file("shot.jpg", make_png(), "image/jpeg")]})
    image = Image.objects.get()
    response = owner_client.get(reverse("gallery:original", args=[image.pk]) + "?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="shot.png"'
