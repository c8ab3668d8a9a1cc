"""Large photos and HEIC photos are shown through a display copy, made once."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from gallery.models import Image
from tests.conftest import upload_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def heic(owner_client: Client) -> Image:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 48), "red").save(out, "HEIF")
    owner_client.post("/upload/", {"images": [upload_file("phone.heic", out.getvalue())]})
    return Image.objects.get()


def test_the_display_jpeg_is_made_once(heic: Image, owner_client: Client, monkeypatch: Any) -> None:
    from gallery import imaging

    calls = []
    real = imaging.display_jpeg

    def counting(stream: Any, *args: Any) -> bytes:
        calls.append(1)
        return real(stream, *args)

    monkeypatch.setattr(imaging, "display_jpeg", counting)
    monkeypatch.setattr("gallery.media.display_jpeg", counting)
    url = reverse("gallery:display", args=[heic.pk])
    first, second = owner_client.get(url), owner_client.get(url)
    assert len(calls) == 1
    assert first["Content-Type"] == second["Content-Type"] == "image/jpeg"
    assert second.getvalue() == first.getvalue()


def test_the_display_copy_goes_with_the_photo(
    heic: Image,
    owner_client: Client,
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner_client.get(reverse("gallery:display", args=[heic.pk]))
    assert len(heic.stored_names()) == 3
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("gallery:delete", args=[heic.pk]))
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


def test_a_display_copy_that_cannot_be_saved_is_still_shown(
    heic: Image, owner_client: Client, monkeypatch: Any
) -> None:
    from django.core.files.storage import FileSystemStorage

    def full(self: Any, name: str, content: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full)
    response = owner_client.get(reverse("gallery:display", args=[heic.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert not default_storage.exists(heic.stored_names()[-1])


def test_a_large_photo_is_shown_at_display_size_never_as_its_original(
    owner_client: Client, make_image: Any
) -> None:
    from gallery.media import DISPLAY_MAX_SIDE

    large = make_image(size=(3000, 2000))
    response = owner_client.get(reverse("gallery:display", args=[large.pk]))
    shown = PILImage.open(io.BytesIO(response.getvalue()))
    assert max(shown.size) == DISPLAY_MAX_SIDE
    assert response["Content-Type"] == "image/jpeg"


def test_a_small_photo_is_shown_as_it_is(owner_client: Client, make_image: Any) -> None:
    small = make_image(size=(640, 480))
    response = owner_client.get(reverse("gallery:display", args=[small.pk]))
    with small.original.open("rb") as stored:
        assert response.getvalue() == stored.read()


def test_another_person_never_sees_the_display_copy(other_client: Client, make_image: Any) -> None:
    large = make_image(size=(3000, 2000))
    assert other_client.get(reverse("gallery:display", args=[large.pk])).status_code == 404
