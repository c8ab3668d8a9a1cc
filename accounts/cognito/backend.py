"""Django authentication from a Cognito ID token.

The sign-in view does the SRP exchange with Cognito and hands the ID token to
``django.contrib.auth.authenticate(request, cognito_id_token=...)``. Any other
credentials (the admin's email and password) do not fit this backend's
signature, so Django passes them on to ModelBackend: local superusers still
reach /admin/.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.models import User

from .jwks import TokenError, verify_id_token

log = logging.getLogger(__name__)


class CognitoBackend(BaseBackend):
    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, cognito_id_token: str | None = None
    ) -> User | None:
        if not cognito_id_token:
            return None
        try:
            claims = verify_id_token(cognito_id_token)
        except TokenError as error:
            log.error("Cognito sign-in refused: %s", error)
            return None
        user = user_for_claims(claims)
        if user is None or not user.is_active:
            return None
        return user

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


def user_for_claims(claims: dict[str, Any]) -> User | None:
    """The Django user for a verified ID token, linked by the Cognito `sub`.

    The `sub` never changes; the email address can, so it is copied from the
    token at each sign-in.
    """
    sub = str(claims["sub"])
    email = _email(claims)
    if email is None:
        log.error("Cognito ID token for sub %s has no usable email claim", sub)
        return None
    user = User.objects.filter(cognito_sub=sub).first()
    if user is not None:
        _refresh_email(user, email, claims)
        return user
    return _link_or_create(sub, email, claims)


def _email(claims: dict[str, Any]) -> str | None:
    raw = str(claims.get("email") or "").strip()
    try:
        validate_email(raw)
    except ValidationError:
        return None
    return User.objects.normalize_email(raw).lower()


def _email_verified(claims: dict[str, Any]) -> bool | None:
    # Cognito sends a JSON boolean; moto sends the attribute's text ("true").
    value = claims.get("email_verified")
    if value is None:
        return None
    return str(value).lower() == "true"


def _refresh_email(user: User, email: str, claims: dict[str, Any]) -> None:
    if user.email == email:
        return
    if _email_verified(claims) is False:
        # Cognito has not confirmed the new address: keep the proven one.
        return
    if User.objects.filter(email=email).exclude(pk=user.pk).exists():
        log.warning("Cognito user %s changed email to one another user has", user.cognito_sub)
        return
    user.email = email
    user.save(update_fields=["email"])


def _link_or_create(sub: str, email: str, claims: dict[str, Any]) -> User | None:
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        # An account made before Cognito (or by createsuperuser) is taken over
        # only when Cognito vouches for the address and nobody linked it yet.
        if existing.cognito_sub or not _email_verified(claims):
            log.error("Cognito user %s has the email of local user %s", sub, existing.pk)
            return None
        existing.cognito_sub = sub
        existing.save(update_fields=["cognito_sub"])
        return existing
    try:
        with transaction.atomic():
            # No Django password: this person signs in through Cognito only.
            return User.objects.create_user(email=email, password=None, cognito_sub=sub)
    except IntegrityError:
        # The same person's other tab signed in first.
        return User.objects.filter(cognito_sub=sub).first()
