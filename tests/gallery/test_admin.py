from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from gallery.models import Image, LabelTally

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/gallery/image/"


def act(client: Client, action: str, *images: Image) -> Any:
    data = {"action": action, "_selected_action": [str(i.pk) for i in images]}
    return client.post(CHANGELIST, data, follow=True)


def test_moderators_see_every_image_with_a_preview(staff_client: Client, make_image: Any) -> None:
    image = make_image()
    content = staff_client.get(CHANGELIST).content.decode()
    assert f"/images/{image.pk}/thumbnail" in content
    assert "owner@example.com" in content


def test_regular_users_cannot_open_the_admin(owner_client: Client) -> None:
    assert owner_client.get(CHANGELIST).status_code == 302


def test_search_by_owner_email_and_label(
    staff_client: Client, make_image: Any, detector: Any, other_user: Any
) -> None:
    cat = make_image()
    cat.replace_labels(detector.detect(b""))
    make_image(user=other_user)
    assert staff_client.get(CHANGELIST, {"q": "Cat"}).context["cl"].result_count == 1
    assert staff_client.get(CHANGELIST, {"q": "other@"}).context["cl"].result_count == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"hidden__exact": "1"}, 1),
        ({"has_labels": "yes"}, 1),
        ({"has_labels": "no"}, 1),
        ({"engine": "fake"}, 1),
    ],
)
def test_list_filters(
    staff_client: Client, make_image: Any, detector: Any, query: dict[str, str], expected: int
) -> None:
    labelled, hidden = make_image(), make_image()
    labelled.replace_labels(detector.detect(b""))
    Image.objects.filter(pk=hidden.pk).update(hidden=True)
    assert staff_client.get(CHANGELIST, query).context["cl"].result_count == expected


def test_redetect_action_runs_the_engine(
    staff_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    response = act(staff_client, "redetect", image)
    assert b"Detected labels again for 1 photo(s)." in response.content
    assert image.labels.filter(name="Cat").exists()


def test_delete_action_removes_rows_and_files(
    staff_client: Client, make_image: Any, django_capture_on_commit_callbacks: Any
) -> None:
    image = make_image()
    names = image.stored_names()
    data = {"action": "delete_selected", "_selected_action": [str(image.pk)], "post": "yes"}
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(CHANGELIST, data)
    assert not Image.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def test_change_page_shows_labels_inline(
    staff_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    image.replace_labels(detector.detect(b""))
    content = staff_client.get(f"{CHANGELIST}{image.pk}/change/").content.decode()
    assert "Couch" in content and "Pet" in content


def test_moderators_see_the_owners_corrections(
    staff_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    image.replace_labels(detector.detect(b""))
    image.remove_label("Couch")
    image.add_label("Grandma")
    content = staff_client.get(f"{CHANGELIST}{image.pk}/change/").content.decode()
    assert "Corrections by the owner" in content
    assert "Removed" in content and "Grandma" in content


def test_a_photo_hidden_on_its_change_page_leaves_the_owners_label_counts(
    staff_client: Client, make_image: Any, detector: Any, owner: Any
) -> None:
    image = make_image()
    image.replace_labels(detector.detect(b""))
    page = staff_client.get(f"{CHANGELIST}{image.pk}/change/")
    form = page.context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None}
    data.update({"hidden": "on", "hidden_reason": "Not allowed here"})
    data.update({f"{prefix}-TOTAL_FORMS": "0" for prefix in ("labels", "corrections")})
    data.update({f"{prefix}-INITIAL_FORMS": "0" for prefix in ("labels", "corrections")})
    staff_client.post(f"{CHANGELIST}{image.pk}/change/", data)
    image.refresh_from_db()
    assert image.hidden
    assert "Cat" not in {row["name"] for row in LabelTally.objects.counts(owner.pk, 0)}
