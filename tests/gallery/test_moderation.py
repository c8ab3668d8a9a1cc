"""The moderation queue: Moderators group, flags from both engines, the admin's
"Needs review" list and count, approve / hide with a reason / unhide, each
recorded in the admin log; tried as moderator, staff without permissions,
superuser, owner and anonymous."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from gallery.detection import Detection, Label, Moderation, ModerationLabel, nsfw
from gallery.detection.nsfw import NsfwClassifier
from gallery.models import Image

from ..conftest import client_for
from ..detection.test_nsfw import prepared_model

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/gallery/image/"
INDEX = "/admin/"
PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
FLAGGED = Moderation((ModerationLabel("Explicit Nudity", 93.0, "Explicit"),), "7.0")
MILD = Moderation((ModerationLabel("Smoking", 62.0, "Drugs & Tobacco"),), "7.0")


def detection(moderation: Moderation | None, incomplete: tuple[str, ...] = ()) -> Detection:
    return Detection(
        "fake", "fake-1", (Label("Person", 99.0),), moderation=moderation, incomplete=incomplete
    )


def moderators_group() -> Group:
    """The group the migration made.

    A transactional test (the browser tests) empties every table after it
    runs, migration data included; then the migration's own function is run
    again on the historical models, so what is tested is still the migration.
    """
    if not Group.objects.filter(name="Moderators").exists():
        migration = importlib.import_module("gallery.migrations.0008_moderators_group")
        state = MigrationLoader(connection).project_state(("gallery", "0008_moderators_group"))
        migration.add_moderators(state.apps, SimpleNamespace(connection=connection))
    return Group.objects.get(name="Moderators")


@pytest.fixture
def moderator(make_user: Callable[..., Any]) -> Any:
    user = make_user("moderator@example.com", is_staff=True)
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def clients(moderator: Any, make_user: Callable[..., Any], owner: Any) -> dict[str, Client]:
    return {
        "moderator": client_for(moderator),
        "staff": client_for(make_user("staff@example.com", is_staff=True)),
        "superuser": client_for(make_user("root@example.com", is_staff=True, is_superuser=True)),
        "owner": client_for(owner),
        "anonymous": Client(),
    }


@pytest.fixture
def flagged(make_image: Callable[..., Image]) -> Image:
    image = make_image(name="beach.jpg")
    image.replace_labels(detection(FLAGGED))
    return image


@pytest.fixture
def clear(make_image: Callable[..., Image]) -> Image:
    image = make_image(name="kitchen.jpg")
    image.replace_labels(detection(MILD))
    return image


def act(client: Client, action: str, *images: Image, **extra: str) -> Any:
    data = {"action": action, "_selected_action": [str(i.pk) for i in images], **extra}
    return client.post(CHANGELIST, data, follow=True)


def log_messages(image: Image) -> list[str]:
    entries = LogEntry.objects.filter(object_id=str(image.pk)).order_by("action_time")
    return [entry.get_change_message() for entry in entries]


# -- the group ------------------------------------------------------------------------


def test_the_moderators_group_may_view_and_change_photos_and_view_labels() -> None:
    group = moderators_group()
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert granted == {
        "gallery.view_image",
        "gallery.change_image",
        "gallery.view_label",
        "gallery.view_labelcorrection",
    }


def test_moderators_cannot_delete_photos_or_manage_accounts(
    clients: dict[str, Client], flagged: Image
) -> None:
    moderator = clients["moderator"]
    assert moderator.get("/admin/accounts/user/").status_code == 403
    data = {"action": "delete_selected", "_selected_action": [str(flagged.pk)], "post": "yes"}
    moderator.post(CHANGELIST, data)
    assert Image.objects.filter(pk=flagged.pk).exists()
    assert moderator.get(f"{CHANGELIST}{flagged.pk}/delete/").status_code == 403


# -- flags from the check ---------------------------------------------------------------


def test_a_label_at_the_threshold_flags_and_one_below_does_not(
    settings: Any, flagged: Image, clear: Image
) -> None:
    settings.FINDLABELS_MODERATION_THRESHOLD = 93
    flagged.replace_labels(detection(FLAGGED))
    assert flagged.moderation_status == Image.Moderation.FLAGGED
    assert clear.moderation_status == Image.Moderation.CLEAR
    assert clear.moderation_labels == [
        {"name": "Smoking", "confidence": 62.0, "parent": "Drugs & Tobacco"}
    ]
    assert clear.moderation_checked_at is not None


def test_a_check_turned_off_keeps_the_last_result(flagged: Image) -> None:
    flagged.replace_labels(detection(None))
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.FLAGGED
    assert flagged.moderation_labels[0]["name"] == "Explicit Nudity"


def test_a_failed_check_is_not_checked_and_leaves_the_queue(flagged: Image) -> None:
    flagged.replace_labels(detection(None, incomplete=("moderation",)))
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.UNCHECKED
    assert (flagged.moderation_labels, flagged.moderation_checked_at) == ([], None)
    assert flagged.incomplete == ["moderation"]
    assert not Image.objects.needs_review().exists()


def test_an_approved_photo_stays_approved_when_its_check_fails(flagged: Image) -> None:
    Image.objects.filter(pk=flagged.pk).update(moderation_status=Image.Moderation.APPROVED)
    flagged.refresh_from_db()
    flagged.replace_labels(detection(None, incomplete=("moderation",)))
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.APPROVED


# -- the queue in the admin --------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status", "sees_count"),
    [
        ("moderator", 200, True),
        ("superuser", 200, True),
        ("staff", 200, False),
        ("owner", 302, False),
        ("anonymous", 302, False),
    ],
)
def test_the_admin_index_counts_photos_needing_review(
    clients: dict[str, Client],
    flagged: Image,
    clear: Image,
    role: str,
    status: int,
    sees_count: bool,
) -> None:
    response = clients[role].get(INDEX)
    assert response.status_code == status
    content = response.content.decode()
    assert ("Needs review" in content) is sees_count
    if sees_count:
        assert "<strong>1</strong> photo" in content
        assert f"{CHANGELIST}?moderation=review" in content


@pytest.mark.parametrize(
    ("role", "status"),
    [("moderator", 200), ("superuser", 200), ("staff", 403), ("owner", 302), ("anonymous", 302)],
)
def test_needs_review_lists_flagged_photos_only(
    clients: dict[str, Client], flagged: Image, clear: Image, role: str, status: int
) -> None:
    response = clients[role].get(CHANGELIST, {"moderation": "review"})
    assert response.status_code == status
    if status == 200:
        assert list(response.context["cl"].result_list) == [flagged]
        assert "Needs review <small>(Explicit Nudity 93%)</small>" in response.content.decode()


def test_hidden_and_approved_photos_leave_the_queue(
    clients: dict[str, Client], flagged: Image, make_image: Callable[..., Image]
) -> None:
    other = make_image()
    other.replace_labels(detection(FLAGGED))
    Image.objects.filter(pk=flagged.pk).update(hidden=True, hidden_reason="x")
    Image.objects.filter(pk=other.pk).update(moderation_status=Image.Moderation.APPROVED)
    response = clients["moderator"].get(CHANGELIST, {"moderation": "review"})
    assert response.context["cl"].result_count == 0
    approved = clients["moderator"].get(CHANGELIST, {"moderation": "approved"})
    assert list(approved.context["cl"].result_list) == [other]


# -- actions -------------------------------------------------------------------------


def test_approve_clears_the_flag_is_logged_and_survives_detect_again(
    clients: dict[str, Client], moderator: Any, flagged: Image
) -> None:
    response = act(clients["moderator"], "approve", flagged)

    assert b"Approved 1 photo(s)." in response.content
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.APPROVED
    (entry,) = LogEntry.objects.filter(object_id=str(flagged.pk))
    assert entry.user == moderator
    assert entry.is_change()
    assert "Approved" in entry.get_change_message()

    flagged.replace_labels(detection(FLAGGED))
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.APPROVED
    assert not Image.objects.needs_review().exists()


@pytest.mark.parametrize(("role", "status"), [("staff", 403), ("owner", 302), ("anonymous", 302)])
@pytest.mark.parametrize("action", ["approve", "hide", "unhide"])
def test_only_those_who_may_change_photos_can_act(
    clients: dict[str, Client], flagged: Image, role: str, status: int, action: str
) -> None:
    data = {"action": action, "_selected_action": [str(flagged.pk)], "reason": "Nudity"}
    assert clients[role].post(CHANGELIST, data).status_code == status
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.FLAGGED
    assert not flagged.hidden
    assert not LogEntry.objects.exists()


def test_a_viewer_without_change_permission_is_not_offered_the_actions(
    make_user: Callable[..., Any], flagged: Image
) -> None:
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_image"))
    client = client_for(viewer)
    assert client.get(CHANGELIST).status_code == 200
    act(client, "approve", flagged)
    flagged.refresh_from_db()
    assert flagged.moderation_status == Image.Moderation.FLAGGED


def test_hide_asks_for_a_reason_first(clients: dict[str, Client], flagged: Image) -> None:
    response = act(clients["moderator"], "hide", flagged)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/gallery/image/hide.html"
    assert "beach.jpg" in response.content.decode()
    flagged.refresh_from_db()
    assert not flagged.hidden

    blank = act(clients["moderator"], "hide", flagged, reason="   ")
    assert "This field is required." in blank.content.decode()
    flagged.refresh_from_db()
    assert not flagged.hidden


def test_hide_with_a_reason_the_owner_sees_then_unhide(
    clients: dict[str, Client], moderator: Any, flagged: Image
) -> None:
    reason = "Nudity is not allowed <here>"
    response = act(clients["moderator"], "hide", flagged, reason=reason)

    assert b"Hid 1 photo(s)." in response.content
    flagged.refresh_from_db()
    assert (flagged.hidden, flagged.hidden_reason) == (True, reason)
    assert log_messages(flagged) == [f"Hidden from its owner: {reason}"]

    owner = clients["owner"]
    detail = owner.get(reverse("gallery:detail", args=[flagged.pk])).content.decode()
    assert "Reason: Nudity is not allowed &lt;here&gt;" in detail
    gallery = owner.get(reverse("gallery:index")).content.decode()
    assert "Removed by a moderator: Nudity is not allowed &lt;here&gt;" in gallery

    act(clients["moderator"], "unhide", flagged)
    flagged.refresh_from_db()
    assert (flagged.hidden, flagged.hidden_reason) == (False, "")
    assert log_messages(flagged)[-1] == "Shown to its owner again."
    assert "Nudity" not in owner.get(reverse("gallery:index")).content.decode()


def test_hiding_on_the_change_page_needs_a_reason_and_is_logged(
    clients: dict[str, Client], flagged: Image
) -> None:
    url = f"{CHANGELIST}{flagged.pk}/change/"
    moderator = clients["moderator"]
    # The inlines are read-only; their formsets still want their counts.
    form = {
        f"{prefix}-{count}": "0"
        for prefix in ("labels", "corrections")
        for count in ("TOTAL_FORMS", "INITIAL_FORMS")
    }
    refused = moderator.post(url, {**form, "hidden": "on", "hidden_reason": " "})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "hidden_reason": ["Say why the photo is hidden; its owner sees this."]
    }
    flagged.refresh_from_db()
    assert not flagged.hidden

    moderator.post(url, {**form, "hidden": "on", "hidden_reason": "Spam"})
    flagged.refresh_from_db()
    assert (flagged.hidden, flagged.hidden_reason) == (True, "Spam")
    assert LogEntry.objects.filter(object_id=str(flagged.pk)).count() == 1


def test_the_change_page_shows_the_check_and_every_moderator_action(
    clients: dict[str, Client], flagged: Image
) -> None:
    act(clients["moderator"], "approve", flagged)
    act(clients["superuser"], "hide", flagged, reason="Spam")

    content = clients["moderator"].get(f"{CHANGELIST}{flagged.pk}/change/").content.decode()

    assert "Explicit Nudity 93.0% (under Explicit)" in content
    assert "Approved: cleared the review flag. by moderator@example.com" in content
    assert "Hidden from its owner: Spam by root@example.com" in content
    history = clients["moderator"].get(f"{CHANGELIST}{flagged.pk}/history/")
    assert history.status_code == 200
    assert "Hidden from its owner: Spam" in history.content.decode()


# -- the local engine's check feeds the same queue ----------------------------------------


class _FixedScore:
    """ONNX Runtime session stand-in answering one open_nsfw score."""

    def __init__(self, score: float) -> None:
        self.score = score

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.array([[1 - self.score, self.score]], dtype=np.float32)]


@pytest.fixture(scope="module")
def nsfw_model() -> Path:
    return prepared_model()


def local_detector(classifier: NsfwClassifier) -> Any:
    class Local:
        name = "local"

        def detect(
            self, data: bytes, *, storage_name: str | None = None, exclude: Sequence[str] = ()
        ) -> Detection:
            with PILImage.open(PHOTOS / "astronaut.jpg") as img:
                moderation = classifier.check(img.convert("RGB"))
            return Detection("local", "test", (Label("Person", 90.0),), moderation=moderation)

    return Local()


def test_the_on_box_check_feeds_the_queue(
    clients: dict[str, Client],
    make_image: Callable[..., Image],
    nsfw_model: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    classifier = NsfwClassifier(nsfw_model)
    monkeypatch.setattr("gallery.models.get_detector", lambda: local_detector(classifier))
    safe, unsafe = make_image(), make_image()

    clients["owner"].post(reverse("gallery:detect", args=[safe.pk]))
    monkeypatch.setattr(classifier, "_session", _FixedScore(0.91))
    clients["owner"].post(reverse("gallery:detect", args=[unsafe.pk]))

    safe.refresh_from_db()
    unsafe.refresh_from_db()
    assert safe.moderation_status == Image.Moderation.CLEAR
    assert safe.moderation_labels == []
    assert unsafe.moderation_status == Image.Moderation.FLAGGED
    assert unsafe.moderation_labels == [
        {"name": nsfw.LABEL, "confidence": pytest.approx(91.0, abs=0.01), "parent": ""}
    ]
    assert "<strong>1</strong> photo" in clients["moderator"].get(INDEX).content.decode()
