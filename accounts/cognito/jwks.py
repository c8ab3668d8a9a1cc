"""Checking the ID tokens Cognito returns, against the user pool's public keys.

The keys come from ``settings.COGNITO_JWKS`` (JSON) when it is set, a fixed
key set; otherwise from the pool's ``jwks.json`` through PyJWT's
``PyJWKClient``, which fetches it with a timeout, caches it and fetches again
when a token names a key it does not hold.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings

FETCH_TIMEOUT_SECONDS = 5
# Cognito rotates its keys rarely; the set is kept this long before it is
# fetched again, so a sign-in almost never waits on Cognito for keys.
KEYS_LIFESPAN_SECONDS = 6 * 3600
# A token signed with a key we do not hold may mean Cognito rotated its keys;
# fetch again then, but not more often than this, so bad tokens cannot make
# every request wait on Cognito.
REFETCH_AFTER_SECONDS = 300
# Clocks on the web server and at Cognito may differ by a few seconds.
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "token_use"]

_clients: dict[str, jwt.PyJWKClient] = {}
_clients_lock = threading.Lock()


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
    try:
        return _client(jwks_url()).get_signing_key(kid).key
    except jwt.PyJWKClientConnectionError as error:
        raise TokenError(f"could not fetch the user pool's keys: {error}") from error
    except jwt.PyJWTError as error:  # no such key, or the endpoint sent no key set
        raise TokenError(f"token refused: {error}") from error


def _client(url: str) -> jwt.PyJWKClient:
    """One key client per JWKS address per process: PyJWKClient holds the cache."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(
                url,
                lifespan=KEYS_LIFESPAN_SECONDS,
                timeout=FETCH_TIMEOUT_SECONDS,
                cooldown_duration=REFETCH_AFTER_SECONDS,
            )
            _clients[url] = client
        return client


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


def forget_fetched_keys() -> None:
    """For tests, and for a process that must see new keys at once."""
    with _clients_lock:
        _clients.clear()
