"""Checking the ID tokens Cognito returns, against the user pool's public keys.

The keys come from ``settings.COGNITO_JWKS`` (JSON) when it is set, otherwise
from the pool's ``jwks.json``, fetched once per process with a timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.request
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 5
# A token signed with a key we do not hold may mean Cognito rotated its keys;
# fetch again then, but not more often than this, so bad tokens cannot make
# every request wait on Cognito.
REFETCH_AFTER_SECONDS = 300
# Clocks on the web server and at Cognito may differ by a few seconds.
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "token_use"]

_fetched: dict[str, tuple[float, jwt.PyJWKSet]] = {}
_fetch_lock = threading.Lock()


class TokenError(Exception):
    """A token that must not sign anyone in, or keys that could not be had."""


def issuer() -> str:
    # Cognito's issuer. A local moto server (AWS_ENDPOINT_URL) builds the very
    # same `iss` from the region and pool id, not from its own host
    # (moto/cognitoidp/models.py, CognitoIdpUserPool.create_jwt), so one
    # issuer is right with and without an endpoint.
    return (
        f"https://cognito-idp.{settings.AWS_REGION}.amazonaws.com/{settings.COGNITO_USER_POOL_ID}"
    )


def jwks_url() -> str:
    base = settings.AWS_ENDPOINT_URL or f"https://cognito-idp.{settings.AWS_REGION}.amazonaws.com"
    return f"{base.rstrip('/')}/{settings.COGNITO_USER_POOL_ID}/.well-known/jwks.json"


def verify_id_token(token: str) -> dict[str, Any]:
    """The token's claims when Cognito signed it as an ID token for this app."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as error:
        raise TokenError(f"not a token: {error}") from error
    key = _signing_key(str(kid))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=settings.COGNITO_APP_CLIENT_ID,
            issuer=issuer(),
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise TokenError(f"token refused: {error}") from error
    # An access token of the same pool is signed with the same key.
    if claims.get("token_use") != "id":
        raise TokenError(f"token refused: token_use is {claims.get('token_use')!r}, not 'id'")
    return claims


def _signing_key(kid: str) -> Any:
    configured = getattr(settings, "COGNITO_JWKS", "")
    if configured:
        return _find(_parse(configured), kid)
    keys = _fetched_keys(jwks_url())
    if kid not in {str(key.key_id) for key in keys.keys}:
        keys = _fetched_keys(jwks_url(), refresh=True)
    return _find(keys, kid)


def _find(keys: jwt.PyJWKSet, kid: str) -> Any:
    try:
        return keys[kid].key
    except KeyError as error:
        raise TokenError(f"token refused: no key {kid!r} in the user pool's keys") from error


@lru_cache(maxsize=4)
def _parse(document: str) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(document))
    except (ValueError, jwt.PyJWTError) as error:
        raise TokenError(f"COGNITO_JWKS is not a JSON Web Key Set: {error}") from error


def _fetched_keys(url: str, refresh: bool = False) -> jwt.PyJWKSet:
    with _fetch_lock:
        cached = _fetched.get(url)
        if cached is not None:
            fetched_at, keys = cached
            stale = time.monotonic() - fetched_at > REFETCH_AFTER_SECONDS
            if not (refresh and stale):
                return keys
        keys = _fetch(url)
        _fetched[url] = (time.monotonic(), keys)
        return keys


def _fetch(url: str) -> jwt.PyJWKSet:
    try:
        # The URL is built from settings (https, or the configured endpoint).
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            document = response.read()
        return jwt.PyJWKSet.from_dict(json.loads(document))
    except (OSError, http.client.HTTPException, ValueError, jwt.PyJWTError) as error:
        log.error("Could not fetch the Cognito user pool's keys from %s: %s", url, error)
        raise TokenError(f"could not fetch the user pool's keys: {error}") from error


def forget_fetched_keys() -> None:
    """For tests, and for a process that must see new keys at once."""
    with _fetch_lock:
        _fetched.clear()
