"""The admin has no sign-in form of its own: it sends people to the site's sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # what tests.conftest.make_user sets


def verified(user: Any) -> Any:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_the_admin_sign_in_page_sends_to_the_sites_sign_in(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_guessing_passwords_on_the_admin_sign_in_never_signs_in(
    client: Client, make_user: Any
) -> None:
    staff = verified(make_user("boss@example.com", is_staff=True, is_superuser=True))
    for _ in range(25):
        client.post("/admin/login/", {"username": staff.email, "password": "wrong"})
    client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_the_sign_in_the_admin_uses_limits_attempts(client: Client, make_user: Any) -> None:
    staff = verified(make_user("boss@example.com", is_staff=True, is_superuser=True))
    sign_in = client.get("/admin/login/")["Location"]
    for _ in range(25):
        client.post(sign_in, {"login": staff.email, "password": "wrong"})
    client.post(sign_in, {"login": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_staff_sign_in_on_the_site_and_reach_the_admin(client: Client, make_user: Any) -> None:
    staff = verified(make_user("boss@example.com", is_staff=True, is_superuser=True))
    sign_in = client.get("/admin/login/?next=/admin/")["Location"]
    response = client.post(sign_in, {"login": staff.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_person_without_staff_status_is_refused(owner_client: Client) -> None:
    assert owner_client.get("/admin/login/").status_code == 403


def test_in_cognito_mode_the_admin_sends_to_the_cognito_sign_in(
    client: Client, settings: Any
) -> None:
    from . import cognito_urls  # noqa: F401  (built in Cognito mode without reloading settings)

    settings.ROOT_URLCONF = "tests.accounts.cognito_urls"
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    # The Cognito page, not allauth's: it answers with the Cognito sign-in form.
    assert client.get(response["Location"]).templates[0].name == "accounts/cognito/login.html"


def test_signed_in_staff_cannot_try_other_passwords_on_the_admin_form(
    make_user: Any,
) -> None:
    from tests.conftest import client_for

    staff = make_user("boss@example.com", is_staff=True)
    victim = make_user("victim@example.com", is_staff=True, is_superuser=True)
    client = client_for(staff)
    client.post("/admin/login/", {"username": victim.email, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_signed_in_staff_go_on_to_a_safe_next_page(make_user: Any) -> None:
    from tests.conftest import client_for

    client = client_for(make_user("boss@example.com", is_staff=True))
    assert client.get("/admin/login/?next=/admin/gallery/")["Location"] == "/admin/gallery/"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/admin/"
