from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator
from django.db import models
from django.http import HttpRequest
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person, known by email address; there is no separate username."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    # The Cognito user's `sub`: stable when the email address changes.
    cognito_sub = models.CharField(max_length=64, unique=True, null=True, blank=True)
    label_confidence = models.PositiveSmallIntegerField(
        default=50,
        validators=[MaxValueValidator(100)],
        help_text="Where the confidence slider starts on an image's page.",
    )

    # Bumped whenever the user's library changes; names their cached gallery pages.
    gallery_version = models.PositiveIntegerField(default=0, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class AuthenticatedRequest(HttpRequest):
    """The request type of views behind ``@login_required``."""

    user: User


# A token is shown once; only its digest is kept. SHA-256 of 32 random bytes
# needs no slow password hash: nobody can guess their way to a preimage.
TOKEN_PREFIX = "ftl_"  # noqa: S105 (a marker that names the secret, not a secret)
TOKEN_BYTES = 32
# Writing the last-used time on every request would turn each read into a write.
LAST_USED_EVERY = timedelta(minutes=5)


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def issue(self, user: User, name: str) -> tuple[ApiToken, str]:
        """A new token for ``user``; the secret is returned once and never stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        token = self.create(user=user, name=name, digest=token_digest(secret), hint=secret[-4:])
        return token, secret

    def user_for(self, secret: str) -> User | None:
        """The active user a token belongs to, in one query (and rarely one write)."""
        token = (
            self.select_related("user")
            .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
            self.filter(pk=token.pk).update(last_used_at=now)
        return token.user


class ApiToken(models.Model):
    """A personal access token for the JSON API (``Authorization: Bearer ...``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=4, editable=False, help_text="The secret's last characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} (…{self.hint})"
