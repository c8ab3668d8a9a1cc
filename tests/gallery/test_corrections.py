from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from gallery.models import MAX_MUTED, Image, LabelTally, MutedLabel
from gallery.search import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(make_image: Any, owner_client: Client, detector: Any) -> Image:
    """A photo the fake engine labelled Cat 96.5, Pet 96.5, Couch 42."""
    image = make_image(name="sofa.jpg")
    owner_client.post(f"/images/{image.pk}/detect/")
    return image


def shown(image: Image) -> set[str]:
    return set(image.labels.shown().values_list("name", flat=True))


def found(user: Any, raw: str) -> bool:
    return Image.objects.search(user, parse(raw), 0).exists()


def counted(user: Any) -> set[str]:
    return {row["name"] for row in LabelTally.objects.counts(user.pk, 0)}


def correct(client: Client, image: Image, action: str, name: str) -> Any:
    return client.post(f"/images/{image.pk}/labels/{action}/", {"name": name})


def test_a_removed_label_leaves_the_photo_search_and_counts(
    owner: Any, owner_client: Client, photo: Image
) -> None:
    response = correct(owner_client, photo, "remove", "Cat")
    assert response.status_code == 302
    assert shown(photo) == {"Pet", "Couch"}
    assert not found(owner, "cat")
    assert "Cat" not in counted(owner)
    page = owner_client.get(f"/images/{photo.pk}/").content.decode()
    assert "Removed by you:" in page
    assert 'href="/?label=Cat"' not in page


def test_a_removed_label_stays_removed_after_detect_again(
    owner: Any, owner_client: Client, photo: Image
) -> None:
    correct(owner_client, photo, "remove", "Cat")
    owner_client.post(f"/images/{photo.pk}/detect/")
    assert shown(photo) == {"Pet", "Couch"}
    assert not found(owner, "cat")


def test_undo_brings_a_removed_label_back(owner: Any, owner_client: Client, photo: Image) -> None:
    correct(owner_client, photo, "remove", "Cat")
    correct(owner_client, photo, "undo", "Cat")
    assert "Cat" in shown(photo)
    assert found(owner, "cat")


def test_an_added_label_is_sure_marked_as_yours_and_found(
    owner: Any, owner_client: Client, photo: Image
) -> None:
    correct(owner_client, photo, "add", "grandma")
    label = photo.labels.get(name="Grandma")
    assert (label.confidence, label.source) == (100.0, "you")
    assert found(owner, "grandma>=100")
    assert "added by you" in owner_client.get(f"/images/{photo.pk}/").content.decode()


def test_an_added_label_takes_the_engines_spelling_and_parents(
    owner_client: Client, photo: Image
) -> None:
    correct(owner_client, photo, "add", "dog")
    label = photo.labels.get(name="Dog")
    assert "Animal" in label.parents


def test_an_added_label_outlives_detect_again_and_can_be_taken_back(
    owner: Any, owner_client: Client, photo: Image
) -> None:
    correct(owner_client, photo, "add", "Grandma")
    owner_client.post(f"/images/{photo.pk}/detect/")
    assert "Grandma" in shown(photo)
    correct(owner_client, photo, "undo", "Grandma")
    assert "Grandma" not in shown(photo)
    assert not found(owner, "grandma")


def test_a_blank_or_overlong_name_is_refused_in_plain_words(
    owner_client: Client, photo: Image
) -> None:
    response = correct(owner_client, photo, "add", "  ")
    assert response.status_code == 302
    page = owner_client.get(f"/images/{photo.pk}/").content.decode()
    assert "Type the label&#x27;s name." in page
    correct(owner_client, photo, "add", "x" * 65)
    page = owner_client.get(f"/images/{photo.pk}/").content.decode()
    assert "at most 64 characters" in page


def test_a_muted_label_is_hidden_everywhere_but_not_its_children(
    owner: Any, owner_client: Client, photo: Image, make_image: Any
) -> None:
    second = make_image(name="second.jpg")
    owner_client.post(f"/images/{second.pk}/detect/")
    owner_client.post("/labels/mute/", {"name": "Pet"})
    assert shown(photo) == shown(second) == {"Cat", "Couch"}
    assert "Pet" not in counted(owner)
    assert found(owner, "cat")
    assert "Never shown" in owner_client.get("/labels/").content.decode()


def test_a_muted_label_stays_hidden_after_detect_and_comes_back_at_once_when_unmuted(
    owner: Any, owner_client: Client, photo: Image
) -> None:
    owner_client.post("/labels/mute/", {"name": "Cat"})
    owner_client.post(f"/images/{photo.pk}/detect/")
    assert "Cat" not in shown(photo)
    owner_client.post("/labels/unmute/", {"name": "Cat"})
    assert "Cat" in shown(photo)
    assert found(owner, "cat")
    assert "Cat" in counted(owner)


def test_unmute_keeps_a_label_removed_from_one_photo_removed(
    owner_client: Client, photo: Image
) -> None:
    correct(owner_client, photo, "remove", "Cat")
    owner_client.post("/labels/mute/", {"name": "Cat"})
    owner_client.post("/labels/unmute/", {"name": "Cat"})
    assert "Cat" not in shown(photo)


def test_at_most_a_hundred_labels_are_muted(owner: Any, owner_client: Client) -> None:
    MutedLabel.objects.bulk_create(MutedLabel(owner=owner, name=f"L{n}") for n in range(MAX_MUTED))
    response = owner_client.post("/labels/mute/", {"name": "Cat"}, follow=True)
    assert "at most 100 labels" in response.content.decode()
    assert not MutedLabel.objects.filter(owner=owner, name="Cat").exists()


def test_muting_never_touches_another_persons_photos(
    other_user: Any, other_client: Client, make_image: Any, photo: Image
) -> None:
    theirs = make_image(user=other_user, name="theirs.jpg")
    other_client.post(f"/images/{theirs.pk}/detect/")
    other_client.post("/labels/mute/", {"name": "Cat"})
    assert "Cat" in shown(photo)


@pytest.mark.parametrize("action", ["remove", "add", "undo"])
def test_another_person_cannot_correct_my_photo(
    other_client: Client, photo: Image, action: str
) -> None:
    assert correct(other_client, photo, action, "Cat").status_code == 404
    assert "Cat" in shown(photo)


@pytest.mark.parametrize("path", ["/labels/mute/", "/labels/unmute/", "labels/remove/"])
def test_anonymous_corrections_go_to_sign_in(client: Client, photo: Image, path: str) -> None:
    target = path if path.startswith("/") else f"/images/{photo.pk}/{path}"
    response = client.post(target, {"name": "Cat"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert "Cat" in shown(photo)


def test_corrections_are_posted_never_fetched(owner_client: Client, photo: Image) -> None:
    assert owner_client.get(f"/images/{photo.pk}/labels/remove/").status_code == 405
    assert owner_client.get("/labels/mute/").status_code == 405


def test_a_mute_redirect_stays_on_this_site(owner_client: Client) -> None:
    response = owner_client.post("/labels/mute/", {"name": "Cat", "next": "https://evil.test/"})
    assert response["Location"] == "/labels/"


def test_a_removed_label_is_not_on_the_gallery_card(owner_client: Client, photo: Image) -> None:
    assert b'href="?label=Cat"' in owner_client.get("/").content
    correct(owner_client, photo, "remove", "Cat")
    assert b'href="?label=Cat"' not in owner_client.get("/").content
