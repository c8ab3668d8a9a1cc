"""Every view as its owner, another signed-in user, anonymously and as staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from gallery.detection import DetectionError
from gallery.models import Image

pytestmark = pytest.mark.django_db


def url(name: str, image: Image) -> str:
    return reverse(f"gallery:{name}", args=[image.pk])


# -- who may see what -------------------------------------------------------

READ_VIEWS = ["detail", "original", "thumbnail", "display"]
OWNER_ONLY_POSTS = ["detect", "delete"]


@pytest.mark.parametrize("view", READ_VIEWS)
def test_owner_can_open_their_image(view: str, owner_client: Client, make_image: Any) -> None:
    image = make_image()
    assert owner_client.get(url(view, image)).status_code == 200


@pytest.mark.parametrize("view", [*READ_VIEWS, "delete"])
def test_another_user_gets_404_for_someone_elses_image(
    view: str, other_client: Client, make_image: Any
) -> None:
    assert other_client.get(url(view, make_image())).status_code == 404


@pytest.mark.parametrize("view", OWNER_ONLY_POSTS)
def test_another_user_cannot_post_to_someone_elses_image(
    view: str, other_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    assert other_client.post(url(view, image)).status_code == 404
    assert Image.objects.filter(pk=image.pk).exists()
    assert detector.calls == []


@pytest.mark.parametrize("view", [*READ_VIEWS, *OWNER_ONLY_POSTS])
def test_anonymous_visitor_is_sent_to_sign_in(view: str, client: Client, make_image: Any) -> None:
    image = make_image()
    response = (
        client.post(url(view, image)) if view in OWNER_ONLY_POSTS else client.get(url(view, image))
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("view", READ_VIEWS)
def test_staff_can_look_at_any_image(view: str, staff_client: Client, make_image: Any) -> None:
    assert staff_client.get(url(view, make_image())).status_code == 200


@pytest.mark.parametrize("view", OWNER_ONLY_POSTS)
def test_staff_moderate_in_the_admin_not_through_owner_actions(
    view: str, staff_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    assert staff_client.post(url(view, image)).status_code == 404
    assert Image.objects.filter(pk=image.pk).exists()


@pytest.mark.parametrize("path", ["/", "/labels/", "/upload/"])
def test_list_pages_need_sign_in(path: str, client: Client) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_unknown_image_id_is_404(owner_client: Client) -> None:
    response = owner_client.get("/images/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


# -- gallery -------------------------------------------------------------------


def test_gallery_lists_only_the_owners_images_newest_first(
    owner_client: Client, make_image: Any, other_user: Any
) -> None:
    first, second = make_image(name="first.jpg"), make_image(name="second.jpg")
    make_image(user=other_user, name="someone-elses.jpg")
    page = owner_client.get("/").context["page"]
    assert [image.pk for image in page.object_list] == [second.pk, first.pk]


def test_gallery_pages_by_24(owner_client: Client, make_image: Any) -> None:
    for _ in range(25):
        make_image(size=(32, 32))
    first = owner_client.get("/")
    second = owner_client.get("/?page=2")
    assert len(first.context["page"].object_list) == 24
    assert len(second.context["page"].object_list) == 1
    assert b'rel="next"' in first.content


def test_gallery_shows_top_label_chips(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    owner_client.post(url("detect", image))
    content = owner_client.get("/").content.decode()
    assert "Cat" in content and "97%" in content


def test_gallery_filters_by_label_and_confidence(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    cat_photo, other_photo = make_image(), make_image()
    owner_client.post(url("detect", cat_photo))
    listed = lambda query: [i.pk for i in owner_client.get(query).context["page"].object_list]  # noqa: E731
    assert listed("/?label=Cat&min=80") == [cat_photo.pk]
    assert listed("/?label=Couch&min=80") == []
    assert listed("/?label=Couch&min=40") == [cat_photo.pk]
    assert other_photo.pk not in listed("/?label=Cat")


def test_gallery_rejects_a_confidence_out_of_range_with_a_message(owner_client: Client) -> None:
    response = owner_client.get("/?label=Cat&min=500")
    assert response.status_code == 200
    assert "Enter a whole number from 0 to 100." in response.content.decode()
    assert b"min:" not in response.content  # no field names shown to people


@pytest.mark.parametrize("count", [3, 30])
def test_gallery_query_count_does_not_grow_with_the_library(
    count: int,
    owner_client: Client,
    make_image: Any,
    detector: Any,
    django_assert_max_num_queries: Any,
) -> None:
    for _ in range(count):
        make_image(size=(16, 16))
    for image in Image.objects.all():
        image.replace_labels(detector.detect(b""))
    with django_assert_max_num_queries(8):
        owner_client.get("/")
    with django_assert_max_num_queries(8):
        owner_client.get("/?label=Cat&min=80")


def test_labels_page_counts_the_owners_labels_where_their_slider_stands(
    owner: Any, owner_client: Client, make_image: Any, detector: Any, other_user: Any
) -> None:
    for image in (make_image(), make_image()):
        owner_client.post(url("detect", image))
    theirs = make_image(user=other_user)
    theirs.replace_labels(detector.detect(b""))

    def counts() -> dict[str, int]:
        rows = owner_client.get("/labels/").context["counts"]
        return {row["name"]: row["count"] for row in rows}

    assert owner.label_confidence == 50
    assert counts() == {"Cat": 2, "Pet": 2}, "the 42% Couch is under the slider"
    assert b"/?label=Cat" in owner_client.get("/labels/").content
    owner.label_confidence = 0
    owner.save(update_fields=["label_confidence"])
    assert counts() == {"Cat": 2, "Pet": 2, "Couch": 2}


# -- detail and detect ------------------------------------------------------------


def test_detail_shows_labels_boxes_and_the_users_slider_value(
    owner: Any, owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    owner_client.post(url("detect", image))
    owner.label_confidence = 60
    owner.save()
    content = owner_client.get(url("detail", image)).content.decode()
    assert 'value="60"' in content
    # One rounding rule: shown and compared as whole percents, half up.
    assert 'class="box" data-confidence="97"' in content
    assert 'data-box="10.000 20.000 50.000 60.000"' in content
    assert "Pet › Mammal › Animal" in content
    # Below the slider's value: rendered but hidden until the slider moves.
    assert '<li data-confidence="42" hidden>' in content


def test_detect_stores_labels_with_engine_and_version(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    response = owner_client.post(url("detect", image))
    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.engine, image.model_version) == ("fake", "fake-1")
    assert image.detected_at is not None
    cat = image.labels.get(name="Cat")
    assert cat.parents == ["Pet", "Mammal", "Animal"]
    assert cat.instances[0]["width"] == 0.5
    assert detector.calls == [image.original.name]


def test_detecting_again_replaces_the_old_labels(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    owner_client.post(url("detect", image))
    owner_client.post(url("detect", image))
    assert image.labels.count() == 3


@pytest.mark.parametrize("permanent", [True, False])
def test_a_detection_error_becomes_a_message_not_a_500(
    permanent: bool, owner_client: Client, make_image: Any, detector: Any
) -> None:
    detector.error = DetectionError("The engine is busy.", permanent=permanent)
    image = make_image()
    response = owner_client.post(url("detect", image), follow=True)
    assert response.status_code == 200
    assert b"Labels could not be found: The engine is busy." in response.content
    assert image.labels.count() == 0


def test_detect_needs_post(owner_client: Client, make_image: Any) -> None:
    assert owner_client.get(url("detect", make_image())).status_code == 405


def test_saving_the_slider_value_remembers_it(owner: Any, owner_client: Client) -> None:
    response = owner_client.post(reverse("gallery:save_confidence"), {"confidence": 85})
    assert response.status_code == 204
    owner.refresh_from_db()
    assert owner.label_confidence == 85


def test_saving_a_bad_slider_value_is_refused(owner: Any, owner_client: Client) -> None:
    response = owner_client.post(reverse("gallery:save_confidence"), {"confidence": 101})
    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.label_confidence == 50


# -- delete -------------------------------------------------------------------------


def test_delete_asks_for_confirmation_first(owner_client: Client, make_image: Any) -> None:
    image = make_image()
    response = owner_client.get(url("delete", image))
    assert b"Delete this photo?" in response.content
    assert Image.objects.filter(pk=image.pk).exists()


def test_delete_removes_the_row_and_the_files(
    owner_client: Client, make_image: Any, django_capture_on_commit_callbacks: Any
) -> None:
    image = make_image()
    names = image.stored_names()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url("delete", image))
    assert response.status_code == 302
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


# -- media -----------------------------------------------------------------------------


def test_original_is_served_byte_exact_with_its_type(owner_client: Client, make_image: Any) -> None:
    image = make_image()
    response = owner_client.get(url("original", image))
    with image.original.open("rb") as stored:
        served = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        assert served == stored.read()
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline")
    assert "private" in response["Cache-Control"]


def test_hidden_image_is_not_served_to_its_owner(owner_client: Client, make_image: Any) -> None:
    image = make_image()
    Image.objects.filter(pk=image.pk).update(hidden=True)
    response = owner_client.get(url("original", image))
    assert response.status_code == 302
    assert response["Location"].endswith("img/removed.svg")
    detail = owner_client.get(url("detail", image)).content
    assert b"removed by a moderator" in detail


def test_hidden_image_is_still_served_to_staff(staff_client: Client, make_image: Any) -> None:
    image = make_image()
    Image.objects.filter(pk=image.pk).update(hidden=True)
    assert staff_client.get(url("original", image)).status_code == 200


def test_media_files_have_no_public_url(client: Client, make_image: Any) -> None:
    from findlabels import settings as project_settings

    # The project's own setting, not the per-test storage the fixtures install.
    assert project_settings.STORAGES["default"]["OPTIONS"]["base_url"] is None
    image = make_image()
    for prefix in ("/media/", "/var/media/", "/"):
        assert client.get(prefix + str(image.original.name)).status_code in (302, 404)


# -- health ----------------------------------------------------------------------------


def test_healthz_reports_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "storage": "ok"}


def test_healthz_is_503_when_storage_fails(client: Client, monkeypatch: Any) -> None:
    monkeypatch.setattr("os.access", lambda path, mode: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"] == "error: PermissionError"


def test_behind_nginx_local_media_is_handed_over_with_x_accel_redirect(
    owner_client: Client, make_image: Any, settings: Any
) -> None:
    settings.FINDLABELS_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    image = make_image()
    response = owner_client.get(url("original", image))
    assert response["X-Accel-Redirect"] == f"/protected-media/{image.original.name}"
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == b""


def test_the_31st_detect_in_a_minute_is_refused_with_a_message(
    settings: Any, owner_client: Client, make_image: Any, detector: Any
) -> None:
    settings.FINDLABELS_DETECT_RATE_PER_MINUTE = 30
    image = make_image()
    for _ in range(30):
        owner_client.post(url("detect", image))
    response = owner_client.post(url("detect", image), follow=True)
    assert response.status_code == 200
    assert (
        b"You have run Detect 30 times in the last minute; please wait a moment."
        in response.content
    )
    assert len(detector.calls) == 30


def test_a_repeated_gallery_page_is_served_from_cache(
    owner_client: Client, make_image: Any, django_assert_max_num_queries: Any
) -> None:
    make_image()
    owner_client.get("/")
    with django_assert_max_num_queries(2):  # session and user only
        assert b"1 photo" in owner_client.get("/").content


@pytest.mark.parametrize("change", ["upload", "detect", "delete", "hide"])
def test_the_cached_gallery_shows_every_change_at_once(
    change: str, owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    owner_client.get("/")  # fill the cache
    if change == "upload":
        make_image()
        expected = b"2 photos"
    elif change == "detect":
        owner_client.post(url("detect", image))
        expected = b"?label=Cat"
    elif change == "delete":
        owner_client.post(url("delete", image))
        expected = b"Upload your first photos"
    else:
        image.set_hidden(True, "Not a photo")
        expected = b"Removed by a moderator"
    assert expected in owner_client.get("/").content


def test_cached_pages_are_per_user(
    owner_client: Client, other_client: Client, make_image: Any, other_user: Any
) -> None:
    make_image(name="mine.jpg")
    owner_client.get("/")
    assert b"mine.jpg" not in other_client.get("/").content


def test_the_viewer_links_the_newer_and_older_photo_of_the_gallery_it_came_from(
    owner_client: Client, make_image: Any
) -> None:
    first, second, third = (make_image(name=f"{n}.jpg") for n in ("first", "second", "third"))
    page = owner_client.get(url("detail", second)).context
    assert page["newer"].startswith(url("detail", third))
    assert page["older"].startswith(url("detail", first))
    assert page["back"] == "/"


def test_the_viewer_stays_within_the_search_it_came_from(
    owner_client: Client, make_image: Any
) -> None:
    first, _dog, third = (make_image(name=f"{n}.jpg") for n in ("cat-a", "dog", "cat-b"))
    page = owner_client.get(url("detail", first), {"back": "/?q=cat"}).context
    assert page["newer"].startswith(url("detail", third)), "the dog photo is skipped"
    assert page["older"] == ""
    assert page["back"] == "/?q=cat"


def test_the_viewer_never_links_back_to_another_site(owner_client: Client, make_image: Any) -> None:
    image = make_image()
    for evil in ("https://evil.test/", "//evil.test/", "javascript:alert(1)"):
        assert owner_client.get(url("detail", image), {"back": evil}).context["back"] == "/"
