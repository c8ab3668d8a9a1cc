"""S3 media storage whose plain GET URLs are presigned here, in microseconds.

botocore's generic ``generate_presigned_url`` resolves the endpoint ruleset,
runs the parameter events, serialises, validates and canonicalises a request
for every URL: about half a millisecond each, a dozen for a gallery page of
thumbnails. A plain GET of one key needs only AWS's documented SigV4
query-string signature: a few string joins and four HMACs, the last three
cached per day. Anything else (response header overrides, other methods,
custom domains) still goes through botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from storages.backends.s3 import S3Storage
from storages.utils import clean_name

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class _Target:
    """Where the bucket's objects are, as botocore resolved it once."""

    base: str  # scheme, host and path up to the key, e.g. https://host/bucket/
    path: str  # the path part of base
    host: str
    region: str


class PresignedS3Storage(S3Storage):
    _target_lock = threading.Lock()  # taken once per process, when the first URL is made

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._target: _Target | None = None
        self._credentials: Any = None
        self._signing_keys: dict[tuple[str, str], bytes] = {}

    def url(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        plain = not parameters and http_method in (None, "GET")
        if not (plain and self.querystring_auth and not self.custom_domain):
            return str(super().url(name, parameters, expire, http_method))
        if self.signature_version not in ("s3v4", None):
            return str(super().url(name, parameters, expire, http_method))
        key = self._normalize_name(clean_name(name))
        return self._presigned_get(key, self.querystring_expire if expire is None else expire)

    def _presigned_get(self, key: str, expire: int) -> str:
        target = self._resolved_target()
        credentials = self._credentials.get_frozen_credentials()  # refreshes role credentials
        now = datetime.now(UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = f"{day}/{target.region}/s3/aws4_request"
        query = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", quote(f"{credentials.access_key}/{scope}", safe="")),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", str(int(expire))),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if credentials.token:
            query.append(("X-Amz-Security-Token", quote(credentials.token, safe="")))
        encoded_key = quote(key, safe="/~")
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(query))
        canonical_request = (
            f"GET\n{target.path}{encoded_key}\n{canonical_query}\n"
            f"host:{target.host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        string_to_sign = (
            f"{ALGORITHM}\n{stamp}\n{scope}\n"
            + hashlib.sha256(canonical_request.encode()).hexdigest()
        )
        signing_key = self._signing_key(credentials.secret_key, day, target.region)
        signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        query_string = "&".join(f"{k}={v}" for k, v in query)
        return f"{target.base}{encoded_key}?{query_string}&X-Amz-Signature={signature}"

    def _signing_key(self, secret: str, day: str, region: str) -> bytes:
        cached = self._signing_keys.get((secret, day))
        if cached is None:
            cached = f"AWS4{secret}".encode()
            for part in (day, region, "s3", "aws4_request"):
                cached = hmac.new(cached, part.encode(), hashlib.sha256).digest()
            self._signing_keys = {(secret, day): cached}  # only today's key is kept
        return cached

    def _resolved_target(self) -> _Target:
        """Endpoint, addressing style and signing region: botocore's answer, asked once."""
        if self._target is None:
            with self._target_lock:
                if self._target is None:
                    client = self.connection.meta.client
                    probe = client.generate_presigned_url(
                        "get_object", Params={"Bucket": self.bucket_name, "Key": "probe"}
                    )
                    address, _, query = probe.partition("?")
                    base = address.removesuffix("probe")
                    scope = dict(parse_qsl(query))["X-Amz-Credential"].split("/")
                    parts = urlsplit(base)
                    self._credentials = self._create_session().get_credentials()
                    self._target = _Target(base, parts.path, parts.netloc, scope[2])
        return self._target
