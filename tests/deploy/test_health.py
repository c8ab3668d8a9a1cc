"""/healthz/live for the load balancer, /healthz (database and bucket) for alarms."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch: Any) -> None:
    """Every new cursor fails, as during an RDS outage or a password rotation."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)


def test_liveness_answers_without_touching_the_database(
    client: Client, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_a_database_outage_fails_the_deep_check_but_not_liveness(
    client: Client, database_down: None
) -> None:
    deep = client.get("/healthz")
    assert deep.status_code == 503
    assert deep.json()["database"] == "error: OperationalError"
    assert client.get("/healthz/live").status_code == 200


@pytest.mark.parametrize("user", ["anonymous", "signed-in"])
def test_liveness_is_the_same_for_everyone(client: Client, owner: Any, user: str) -> None:
    if user == "signed-in":
        client.force_login(owner)
    assert client.get("/healthz/live").status_code == 200


def test_load_balancer_probes_over_plain_http_are_not_redirected(
    client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/labels/").status_code == 301  # everything else goes to HTTPS


def test_liveness_takes_only_get(client: Client) -> None:
    assert client.post("/healthz/live").status_code == 405
