"""Cognito sign-up, resend and forgot-password share one hourly email budget per client.

Cognito's own mailer sends a few dozen emails a day for the whole pool, so
one script must not be able to spend them. The Cognito calls are replaced by
recorders: what is tested is whether the view lets the call through.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.cognito import client as cognito

# Imported now, under the real settings (see test_cognito.py).
from . import cognito_urls as _cognito_urls  # noqa: F401

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42"
TOO_MANY = b"Too many emails were asked for from your network"


@pytest.fixture
def sent(settings: Any, monkeypatch: Any) -> list[tuple[str, str]]:
    """Every Cognito call that would have sent an email: (operation, address)."""
    settings.ROOT_URLCONF = "tests.accounts.cognito_urls"
    settings.FINDLABELS_COGNITO_EMAILS_PER_HOUR = 3
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(cognito, "sign_up", lambda email, password: calls.append(("up", email)))
    monkeypatch.setattr(cognito, "resend_code", lambda email: calls.append(("resend", email)))
    monkeypatch.setattr(cognito, "forgot_password", lambda email: calls.append(("reset", email)))
    return calls


def sign_up(client: Client, email: str, **headers: Any) -> Any:
    data = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/accounts/signup/", data, **headers)


def test_sign_up_stops_sending_after_the_hourly_budget(sent: list[tuple[str, str]]) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(3):
        assert sign_up(client, f"person{n}@example.com").status_code == 302
    refused = sign_up(client, "person3@example.com")
    assert refused.status_code == 429
    assert TOO_MANY in refused.content
    assert [address for _, address in sent] == [f"person{n}@example.com" for n in range(3)]
    # Someone else, from another address, is not held up.
    assert sign_up(Client(REMOTE_ADDR="203.0.113.9"), "other@example.com").status_code == 302
    assert sent[-1] == ("up", "other@example.com")


def test_resend_and_forgot_password_spend_the_same_budget(sent: list[tuple[str, str]]) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_up(client, "ada@example.com").status_code == 302
    resend = client.post("/accounts/confirm-email/resend/", {"email": "ada@example.com"})
    assert resend.status_code == 302
    reset = client.post("/accounts/password/reset/", {"email": "ada@example.com"})
    assert reset.status_code == 302
    assert [operation for operation, _ in sent] == ["up", "resend", "reset"]

    ada = {"email": "ada@example.com"}
    again = client.post("/accounts/confirm-email/resend/", ada, follow=True)
    assert TOO_MANY in again.content
    refused = client.post("/accounts/password/reset/", {"email": "ada@example.com"})
    assert refused.status_code == 429
    assert len(sent) == 3


def test_an_invalid_form_costs_nothing(sent: list[tuple[str, str]]) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(5):
        invalid = client.post("/accounts/password/reset/", {"email": "not an address"})
        assert invalid.status_code == 200
    assert client.post("/accounts/password/reset/", {"email": "ada@example.com"}).status_code == 302
    assert sent == [("reset", "ada@example.com")]


def test_behind_the_proxy_the_visitors_address_counts(
    sent: list[tuple[str, str]], settings: Any
) -> None:
    # nginx overwrites X-Real-IP; every request reaches the app from nginx's address.
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    nginx = Client(REMOTE_ADDR="127.0.0.1")
    for n in range(3):
        assert sign_up(nginx, f"p{n}@example.com", HTTP_X_REAL_IP="198.51.100.7").status_code == 302
    assert sign_up(nginx, "p3@example.com", HTTP_X_REAL_IP="198.51.100.7").status_code == 429
    assert sign_up(nginx, "q@example.com", HTTP_X_REAL_IP="203.0.113.9").status_code == 302


def test_without_a_trusted_proxy_a_forged_header_does_not_reset_the_budget(
    sent: list[tuple[str, str]], settings: Any
) -> None:
    assert not hasattr(settings, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER")
    client = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(3):
        assert sign_up(client, f"p{n}@example.com", HTTP_X_REAL_IP=f"10.0.0.{n}").status_code == 302
    assert sign_up(client, "p3@example.com", HTTP_X_REAL_IP="10.0.0.99").status_code == 429
