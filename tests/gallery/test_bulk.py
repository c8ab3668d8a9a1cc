from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from gallery.models import Image

pytestmark = pytest.mark.django_db


@pytest.fixture
def photos(make_image: Any) -> list[Image]:
    return [make_image(name=f"p{n}.jpg") for n in range(3)]


def bulk(client: Client, images: list[Image], action: str, **extra: str) -> Any:
    data = {"ids": [str(image.pk) for image in images], "action": action, "next": "/", **extra}
    return client.post("/images/bulk/", data, follow=True)


def test_the_owner_deletes_several_photos_at_once(owner_client: Client, photos: Any) -> None:
    response = bulk(owner_client, photos[:2], "delete")
    assert "Deleted 2 photos." in response.content.decode()
    assert list(Image.objects.values_list("original_name", flat=True)) == ["p2.jpg"]


def test_the_owner_detects_several_photos_again(
    owner_client: Client, photos: Any, detector: Any
) -> None:
    response = bulk(owner_client, photos, "detect")
    assert "Found labels again in 3 photos." in response.content.decode()
    assert Image.objects.filter(detected_at__isnull=False).count() == 3


def test_the_owner_adds_and_removes_a_label_on_several_photos(
    owner_client: Client, photos: Any
) -> None:
    bulk(owner_client, photos[:2], "add", name="Holiday")
    assert Image.objects.with_label(photos[0].owner, "holiday").count() == 2
    bulk(owner_client, photos, "remove", name="Holiday")
    assert Image.objects.with_label(photos[0].owner, "holiday").count() == 0


def test_adding_a_label_in_bulk_needs_a_name(owner_client: Client, photos: Any) -> None:
    response = bulk(owner_client, photos, "add", name="")
    assert "Type the label&#x27;s name." in response.content.decode()


def test_a_bulk_action_needs_a_selection(owner_client: Client, photos: Any) -> None:
    response = bulk(owner_client, [], "delete")
    assert "Select at least one photo first." in response.content.decode()
    assert Image.objects.count() == 3


def test_another_persons_photos_are_never_touched(
    other_client: Client, photos: Any, detector: Any
) -> None:
    for action in ("delete", "detect", "add"):
        bulk(other_client, photos, action, name="Mine")
    assert Image.objects.count() == 3
    assert not detector.calls
    assert not Image.objects.with_label(photos[0].owner, "mine").exists()


def test_anonymous_bulk_goes_to_sign_in(client: Client, photos: Any) -> None:
    response = client.post("/images/bulk/", {"ids": [str(photos[0].pk)], "action": "delete"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert Image.objects.count() == 3


def test_detect_missing_labels_the_next_batch_and_says_what_remains(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    for n in range(5):
        make_image(name=f"m{n}.jpg")
    first = owner_client.post("/images/detect-missing/").json()
    assert (first["done"], first["failed"], first["remaining"]) == (3, 0, 2)
    second = owner_client.post("/images/detect-missing/", {"after": first["after"]}).json()
    assert (second["done"], second["remaining"]) == (2, 0)
    assert not Image.objects.filter(detected_at__isnull=True).exists()


def test_detect_missing_skips_a_photo_that_fails_instead_of_looping(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    from gallery.detection import DetectionError

    make_image(name="broken.jpg")
    detector.error = DetectionError("The file is damaged.")
    answer = owner_client.post("/images/detect-missing/").json()
    assert (answer["done"], answer["failed"], answer["remaining"]) == (0, 1, 0)


def test_detect_missing_never_labels_another_persons_photos(
    other_client: Client, photos: Any, detector: Any
) -> None:
    answer = other_client.post("/images/detect-missing/").json()
    assert answer["done"] == 0
    assert not detector.calls


def test_detect_missing_stops_at_the_rate_limit(
    owner_client: Client, photos: Any, detector: Any, settings: Any
) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 1
    response = owner_client.post("/images/detect-missing/")
    assert response.status_code == 429
    assert "limit" in response.json()["error"]


def test_the_gallery_offers_to_detect_photos_without_labels(
    owner_client: Client, photos: Any
) -> None:
    assert "3 photos without labels." in owner_client.get("/").content.decode()
