from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42"


def sign_up(client: Client, email: str = "new@example.com") -> Any:
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )


def code_from_mail() -> str:
    match = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", str(mail.outbox[-1].body), re.MULTILINE)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_sign_up_sends_a_code_and_signing_in_waits_for_it(client: Client) -> None:
    response = sign_up(client)
    assert response.status_code == 200
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    assert client.get("/").status_code == 302  # not signed in before the code


def test_the_emailed_code_verifies_and_signs_in(client: Client, django_user_model: Any) -> None:
    sign_up(client)
    response = client.post("/accounts/confirm-email/", {"code": code_from_mail()}, follow=True)
    assert response.status_code == 200
    assert client.get("/").status_code == 200
    user = django_user_model.objects.get(email="new@example.com")
    assert user.emailaddress_set.get().verified


def test_a_wrong_code_is_refused(client: Client) -> None:
    sign_up(client)
    response = client.post("/accounts/confirm-email/", {"code": "WRONG1"})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content or b"incorrect" in response.content.lower()
    assert client.get("/").status_code == 302


def test_an_unverified_user_cannot_sign_in_and_is_asked_for_a_code(client: Client) -> None:
    sign_up(client)
    cache.clear()  # past allauth's limit of one verification mail per 3 minutes
    other = Client()
    response = other.post(
        "/accounts/login/", {"login": "new@example.com", "password": PASSWORD}, follow=True
    )
    assert other.get("/").status_code == 302
    assert response.redirect_chain[-1][0].startswith("/accounts/confirm-email/")
    assert len(mail.outbox) == 2


def test_a_duplicate_email_makes_no_second_account_and_tells_the_owner(
    client: Client, owner: Any, django_user_model: Any
) -> None:
    # allauth does not reveal on the page whether an address is registered;
    # the address's owner is told by mail instead.
    sign_up(client, owner.email)
    assert django_user_model.objects.filter(email=owner.email).count() == 1
    assert "already" in mail.outbox[-1].body


def test_a_weak_password_is_refused_with_the_reason(client: Client) -> None:
    response = client.post(
        "/accounts/signup/", {"email": "x@example.com", "password1": "123", "password2": "123"}
    )
    assert b"too short" in response.content


def test_sign_in_with_a_wrong_password_says_so(client: Client, owner: Any) -> None:
    response = client.post("/accounts/login/", {"login": owner.email, "password": "wrong"})
    assert b"not correct" in response.content


def test_password_reset_mails_a_link_that_sets_a_new_password(client: Client, owner: Any) -> None:
    client.post("/accounts/password/reset/", {"email": owner.email})
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/\S+)", str(mail.outbox[-1].body)
    )
    assert link
    form_page = client.get(link.group(1), follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    client.post(action, {"password1": "New-Secret-4242", "password2": "New-Secret-4242"})
    owner.refresh_from_db()
    assert owner.check_password("New-Secret-4242")


def test_sign_out_ends_the_session(owner_client: Client) -> None:
    owner_client.post("/accounts/logout/")
    assert owner_client.get("/").status_code == 302


def test_account_pages_use_the_apps_layout(client: Client) -> None:
    content = client.get("/accounts/login/").content
    assert b"/static/css/app.css" in content and b"Find the Labels" in content


def test_users_are_known_by_email(django_user_model: Any) -> None:
    admin = django_user_model.objects.create_superuser("Boss@Example.com", "pw-Secret-123")
    assert admin.email == "boss@example.com" and admin.is_staff
    assert str(admin) == "boss@example.com"
