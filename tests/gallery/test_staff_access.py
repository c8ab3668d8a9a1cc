"""Staff status alone opens nothing: another person's photo needs gallery.view_image."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from gallery.models import Image
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

READ_VIEWS = ["detail", "original", "thumbnail", "display"]


def url(name: str, image: Image) -> str:
    return reverse(f"gallery:{name}", args=[image.pk])


@pytest.fixture
def bare_staff(make_user: Any) -> Any:
    return make_user("staff@example.com", is_staff=True)


@pytest.fixture
def viewer(make_user: Any) -> Any:
    user = make_user("viewer@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_image"))
    return user


@pytest.mark.parametrize("view", READ_VIEWS)
def test_staff_without_the_view_permission_get_404(
    view: str, bare_staff: Any, make_image: Any
) -> None:
    image = make_image()
    assert client_for(bare_staff).get(url(view, image)).status_code == 404


@pytest.mark.parametrize("view", READ_VIEWS)
def test_staff_without_the_view_permission_cannot_open_hidden_photos(
    view: str, bare_staff: Any, make_image: Any
) -> None:
    image = make_image()
    Image.objects.filter(pk=image.pk).update(hidden=True)
    assert client_for(bare_staff).get(url(view, image)).status_code == 404


@pytest.mark.parametrize("view", READ_VIEWS)
def test_staff_with_the_view_permission_may_look(view: str, viewer: Any, make_image: Any) -> None:
    assert client_for(viewer).get(url(view, make_image())).status_code == 200


def test_a_viewer_sees_a_hidden_photo_its_owner_no_longer_does(
    viewer: Any, owner_client: Client, make_image: Any
) -> None:
    image = make_image()
    Image.objects.filter(pk=image.pk).update(hidden=True)
    assert client_for(viewer).get(url("original", image)).status_code == 200
    assert owner_client.get(url("original", image))["Location"].endswith("img/removed.svg")


def test_a_user_with_the_permission_but_no_staff_status_sees_only_their_own(
    make_user: Any, make_image: Any
) -> None:
    # Permissions are for moderators; without staff status they open nothing extra.
    user = make_user("perm@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_image"))
    assert client_for(user).get(url("detail", make_image())).status_code == 404


# -- the admin's add page ---------------------------------------------------


def test_the_admin_has_no_add_page_for_photos(staff_client: Client) -> None:
    # Photos come only through the upload, which checks and stores the files.
    assert staff_client.get("/admin/gallery/image/add/").status_code == 403


def test_the_admin_list_offers_no_add_button(staff_client: Client, make_image: Any) -> None:
    make_image()
    content = staff_client.get("/admin/gallery/image/").content.decode()
    assert "/admin/gallery/image/add/" not in content
