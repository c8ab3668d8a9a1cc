"""Every URL pattern x every role x GET and POST, against a committed table.

The patterns come from the URLconf itself, so a new view is tried here the
moment it is routed: a pattern missing from EXPECTED fails, and the rules at
the bottom hold for every pattern whatever the table says (nobody but the
owner and moderators reaches a photo; anonymous visitors reach only public pages).

Each request runs in a transaction that is rolled back, so an owner's POST to
delete does not change what the next request sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiToken
from gallery.media import signed_url
from gallery.models import Image, MutedLabel
from tests.accounts.test_cognito import pool  # noqa: F401  (fixture)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "other", "staff", "moderator", "superuser")

# Statuses per role in ROLES order, for GET, then for POST (an empty form).
EXPECTED: dict[str, str] = {
    # pattern: GET for anonymous owner other staff moderator superuser | POST for the same
    "admin/": "302 302 302 200 200 200 | 302 302 302 200 200 200",
    "admin/login/": "302 403 403 302 302 302 | 302 403 403 302 302 302",
    "admin/logout/": "302 302 302 405 405 405 | 302 302 302 200 200 200",
    "admin/password_change/": "302 302 302 200 200 200 | 302 302 302 200 200 200",
    "admin/password_change/done/": "302 302 302 200 200 200 | 302 302 302 405 405 405",
    "admin/autocomplete/": "302 302 302 403 403 403 | 302 302 302 405 405 405",
    "admin/jsi18n/": "302 302 302 200 200 200 | 302 302 302 405 405 405",
    "admin/r/<path:content_type_id>/<path:object_id>/": (
        "302 302 302 302 302 302 | 302 302 302 302 302 302"
    ),
    "admin/auth/group/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/auth/group/add/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/auth/group/<path:object_id>/history/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/auth/group/<path:object_id>/delete/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/auth/group/<path:object_id>/change/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/auth/group/<path:object_id>/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "admin/account/emailaddress/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/account/emailaddress/add/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/account/emailaddress/<path:object_id>/history/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/account/emailaddress/<path:object_id>/delete/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/account/emailaddress/<path:object_id>/change/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/account/emailaddress/<path:object_id>/": (
        "302 302 302 302 302 302 | 302 302 302 302 302 302"
    ),
    "admin/accounts/user/<id>/password/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/accounts/user/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/accounts/user/add/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/accounts/user/<path:object_id>/history/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/accounts/user/<path:object_id>/delete/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/accounts/user/<path:object_id>/change/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/accounts/user/<path:object_id>/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "admin/gallery/mutedlabel/": "302 302 302 403 403 200 | 302 302 302 403 403 200",
    "admin/gallery/mutedlabel/add/": "302 302 302 403 403 403 | 302 302 302 403 403 403",
    "admin/gallery/mutedlabel/<path:object_id>/history/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/gallery/mutedlabel/<path:object_id>/delete/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/gallery/mutedlabel/<path:object_id>/change/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 403"
    ),
    "admin/gallery/mutedlabel/<path:object_id>/": (
        "302 302 302 302 302 302 | 302 302 302 302 302 302"
    ),
    "admin/gallery/image/": "302 302 302 403 200 200 | 302 302 302 403 200 200",
    "admin/gallery/image/add/": "302 302 302 403 403 403 | 302 302 302 403 403 403",
    "admin/gallery/image/<path:object_id>/history/": (
        "302 302 302 403 200 200 | 302 302 302 403 200 200"
    ),
    "admin/gallery/image/<path:object_id>/delete/": (
        "302 302 302 403 403 200 | 302 302 302 403 403 200"
    ),
    "admin/gallery/image/<path:object_id>/change/": (
        "302 302 302 403 200 200 | 302 302 302 403 200 200"
    ),
    "admin/gallery/image/<path:object_id>/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "admin/^(?P<app_label>auth|account|accounts|gallery)/$": (
        "302 302 302 404 200 200 | 302 302 302 404 200 200"
    ),
    "admin/(?P<url>.*)$": "302 302 302 404 404 404 | 302 302 302 404 404 404",
    "accounts/login/": "200 302 302 302 302 302 | 200 302 302 302 302 302",
    "accounts/logout/": "302 200 200 200 200 200 | 302 302 302 302 302 302",
    "accounts/inactive/": "200 200 200 200 200 200 | 405 405 405 405 405 405",
    "accounts/signup/": "200 302 302 302 302 302 | 200 302 302 302 302 302",
    "accounts/reauthenticate/": "302 200 200 200 200 200 | 302 200 200 200 200 200",
    "accounts/reauthenticate/code/": "302 200 200 200 200 200 | 302 200 200 200 200 200",
    "accounts/reauthenticate/code/confirm/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "accounts/email/": "302 200 200 200 200 200 | 302 302 302 302 302 302",
    "accounts/confirm-email/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "accounts/password/change/": "302 200 200 200 200 200 | 302 200 200 200 200 200",
    "accounts/password/set/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "accounts/password/reset/": "200 200 200 200 200 200 | 200 200 200 200 200 200",
    "accounts/login/code/confirm/": "302 302 302 302 302 302 | 302 302 302 302 302 302",
    "accounts/password/reset/key/done/": "200 200 200 200 200 200 | 405 405 405 405 405 405",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        "200 200 200 200 200 200 | 200 200 200 200 200 200"
    ),
    "accounts/password/reset/done/": "200 200 200 200 200 200 | 405 405 405 405 405 405",
    "healthz": "200 200 200 200 200 200 | 405 405 405 405 405 405",
    "healthz/live": "200 200 200 200 200 200 | 405 405 405 405 405 405",
    "api/v1/openapi.json": "200 200 200 200 200 200 | 200 200 200 200 200 200",
    "api/v1/docs": "200 200 200 200 200 200 | 200 200 200 200 200 200",
    "api/v1/images/": "401 200 200 200 200 200 | 401 400 400 400 400 400",
    "api/v1/images/<image_id>/": "401 200 404 404 404 404 | 405 405 405 405 405 405",
    "api/v1/images/<image_id>/detect": "405 405 405 405 405 405 | 401 200 404 404 404 404",
    "api/v1/images/<image_id>/labels/": "405 405 405 405 405 405 | 401 400 400 400 400 400",
    "api/v1/images/<image_id>/labels/<name>": "405 405 405 405 405 405 | 405 405 405 405 405 405",
    "api/v1/labels/": "401 200 200 200 200 200 | 405 405 405 405 405 405",
    "api/v1/": "404 404 404 404 404 404 | 404 404 404 404 404 404",
    "^api/v1/(?P<path>.*)$": "404 404 404 404 404 404 | 404 404 404 404 404 404",
    "settings/tokens/": "302 200 200 200 200 200 | 302 200 200 200 200 200",
    "settings/tokens/<int:token_id>/revoke/": "302 405 405 405 405 405 | 302 302 404 404 404 404",
    "": "302 200 200 200 200 200 | 302 405 405 405 405 405",
    "labels/": "302 200 200 200 200 200 | 302 405 405 405 405 405",
    "search/suggest/": "302 200 200 200 200 200 | 302 405 405 405 405 405",
    "upload/": "302 200 200 200 200 200 | 302 200 200 200 200 200",
    "images/bulk/": "302 405 405 405 405 405 | 302 302 302 302 302 302",
    "images/detect-missing/": "302 405 405 405 405 405 | 302 200 200 200 200 200",
    "images/<uuid:image_id>/": "302 200 404 404 200 200 | 302 405 405 405 405 405",
    "images/<uuid:image_id>/detect/": "302 405 405 405 405 405 | 302 302 404 404 404 404",
    "images/<uuid:image_id>/delete/": "302 200 404 404 404 404 | 302 302 404 404 404 404",
    "images/<uuid:image_id>/labels/remove/": "302 405 405 405 405 405 | 302 302 404 404 404 404",
    "images/<uuid:image_id>/labels/add/": "302 405 405 405 405 405 | 302 302 404 404 404 404",
    "images/<uuid:image_id>/labels/undo/": "302 405 405 405 405 405 | 302 302 404 404 404 404",
    "labels/mute/": "302 405 405 405 405 405 | 302 302 302 302 302 302",
    "labels/unmute/": "302 405 405 405 405 405 | 302 302 302 302 302 302",
    "images/<uuid:image_id>/original": "302 200 404 404 200 200 | 302 405 405 405 405 405",
    "images/<uuid:image_id>/thumbnail": "302 200 404 404 200 200 | 302 405 405 405 405 405",
    "images/<uuid:image_id>/display": "302 200 404 404 200 200 | 302 405 405 405 405 405",
    "preferences/confidence/": "302 405 405 405 405 405 | 302 400 400 400 400 400",
    "media/<str:token>/": "200 200 200 200 200 200 | 405 405 405 405 405 405",
}

# The same, for the account pages of Cognito mode.
EXPECTED_COGNITO: dict[str, str] = {
    "accounts/login/": "200 302 302 302 302 302 | 200 302 302 302 302 302",
    "accounts/signup/": "200 302 302 302 302 302 | 200 302 302 302 302 302",
    "accounts/logout/": "302 200 200 200 200 200 | 302 302 302 302 302 302",
    "accounts/confirm-email/": "200 200 200 200 200 200 | 200 200 200 200 200 200",
    "accounts/confirm-email/resend/": "405 405 405 405 405 405 | 302 302 302 302 302 302",
    "accounts/password/reset/": "200 200 200 200 200 200 | 200 200 200 200 200 200",
    "accounts/password/reset/code/": "200 200 200 200 200 200 | 200 200 200 200 200 200",
}

# Pages anyone may open without signing in.
PUBLIC = {
    "admin/login/",
    "accounts/login/",
    "accounts/logout/",
    "accounts/inactive/",
    "accounts/signup/",
    "accounts/confirm-email/",
    "accounts/password/reset/",
    "accounts/login/code/confirm/",
    "accounts/password/reset/key/done/",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
    "accounts/password/reset/done/",
    "accounts/reauthenticate/code/confirm/",
    "healthz",
    "healthz/live",
    "api/v1/openapi.json",
    "api/v1/docs",
    "media/<str:token>/",  # a signed, expiring link: the token is the permission
}


def patterns(resolvers: list[Any], prefix: str = "") -> Iterator[str]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


ALL_PATTERNS = list(dict.fromkeys(patterns(get_resolver(settings.ROOT_URLCONF).url_patterns)))
# Cognito mode routes its own account pages at /accounts/; the rest is the same.
COGNITO_URLCONF = "tests.accounts.cognito_urls"
COGNITO_PATTERNS = [
    pattern
    for pattern in dict.fromkeys(patterns(get_resolver(COGNITO_URLCONF).url_patterns))
    if pattern.startswith("accounts/")
]


@dataclass
class World:
    image: Image
    ids: dict[str, str]
    sessions: dict[str, str]


@pytest.fixture
def world(make_user: Any, make_image: Any, owner: Any) -> World:
    users = {
        "owner": owner,
        "other": make_user("other@example.com"),
        "staff": make_user("staff@example.com", is_staff=True),
        "moderator": make_user("moderator@example.com", is_staff=True),
        "superuser": make_user("root@example.com", is_staff=True, is_superuser=True),
    }
    users["moderator"].groups.add(Group.objects.get(name="Moderators"))  # made by a migration
    for user in users.values():
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    image = make_image()
    ids = {
        "gallery/image": str(image.pk),
        "gallery/mutedlabel": str(MutedLabel.objects.create(owner=owner, name="Couch").pk),
        "accounts/user": str(owner.pk),
        "auth/group": str(Group.objects.create(name="Testers").pk),
        "account/emailaddress": str(EmailAddress.objects.get(user=owner).pk),
        "content_type": str(ContentType.objects.get_for_model(Image).pk),
        "token": str(ApiToken.objects.issue(owner, "matrix")[0].pk),
        "signed_media": signed_url(image, "original"),
    }
    sessions = {
        role: client_for(user).cookies[settings.SESSION_COOKIE_NAME].value
        for role, user in users.items()
    }
    return World(image, ids, sessions)


SPECIAL_PATHS = {
    "^api/v1/(?P<path>.*)$": "/api/v1/no-such-endpoint",
    "admin/^(?P<app_label>auth|account|accounts|gallery)/$": "/admin/gallery/",
    "admin/(?P<url>.*)$": "/admin/no-such-page/",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        "/accounts/password/reset/key/1-not-a-key/"
    ),
}


def concrete(pattern: str, world: World) -> str:
    """A path matching the pattern, naming the owner's objects."""
    if pattern in SPECIAL_PATHS:
        return SPECIAL_PATHS[pattern]
    if pattern == "media/<str:token>/":  # the owner's signed link to the original
        return world.ids["signed_media"]
    path = pattern.replace("<uuid:image_id>", str(world.image.pk))
    path = path.replace("<image_id>", str(world.image.pk))  # django-ninja's converter
    path = path.replace("<name>", "Cat")
    path = path.replace("<int:token_id>", world.ids["token"])
    path = path.replace("<id>", world.ids["accounts/user"])
    if path.startswith("admin/r/"):  # the admin's "view on site" link for a photo
        path = path.replace("<path:content_type_id>", world.ids["content_type"])
        path = path.replace("<path:object_id>", world.ids["gallery/image"])
    model = re.match(r"admin/(\w+/\w+)/<path:object_id>", path)
    if model:
        path = path.replace("<path:object_id>", world.ids[model.group(1)])
    assert "<" not in path and "(?P" not in path, f"no example path for {pattern!r}"
    return "/" + path


def status(world: World, role: str, method: str, path: str) -> int:
    client = Client()
    if role != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    with transaction.atomic():
        response = client.get(path) if method == "GET" else client.post(path, {})
        transaction.set_rollback(True)
    return int(response.status_code)


def observed(pattern: str, world: World) -> dict[tuple[str, str], int]:
    path = concrete(pattern, world)
    return {(m, r): status(world, r, m, path) for m in ("GET", "POST") for r in ROLES}


def as_row(statuses: dict[tuple[str, str], int]) -> str:
    by_method = [" ".join(str(statuses[m, r]) for r in ROLES) for m in ("GET", "POST")]
    return " | ".join(by_method)


@pytest.fixture(autouse=True)
def fake_engine(detector: Any) -> Any:
    return detector  # Detect by the owner must not run a real engine


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_every_pattern_answers_each_role_as_the_table_says(pattern: str, world: World) -> None:
    statuses = observed(pattern, world)
    assert pattern in EXPECTED, f"{pattern!r} is not in the table; it answers {as_row(statuses)!r}"
    assert as_row(statuses) == EXPECTED[pattern]
    # Whatever the table says: a photo is its owner's and its moderators' alone ...
    if "<uuid:image_id>" in pattern or "<image_id>" in pattern:
        for role in ("other", "staff"):
            # 400: the API checks a request's shape before whose photo it names.
            assert {statuses["GET", role], statuses["POST", role]} <= {400, 404, 405}, role
    # ... and anonymous visitors reach only the public pages.
    if pattern not in PUBLIC:
        assert {statuses["GET", "anonymous"], statuses["POST", "anonymous"]} <= {
            302,
            401,
            403,
            404,
            405,
        }


def test_the_table_names_no_pattern_that_is_gone() -> None:
    assert set(EXPECTED) - set(ALL_PATTERNS) == set()
    assert set(EXPECTED_COGNITO) - set(COGNITO_PATTERNS) == set()


@pytest.mark.parametrize("pattern", COGNITO_PATTERNS)
def test_every_cognito_account_page_answers_as_the_table_says(
    pattern: str,
    world: World,
    pool: Any,  # noqa: F811  (moto's user pool: nothing reaches AWS)
) -> None:
    statuses = observed(pattern, world)
    row = as_row(statuses)
    assert pattern in EXPECTED_COGNITO, f"{pattern!r} is not in the table; it answers {row!r}"
    assert row == EXPECTED_COGNITO[pattern]
