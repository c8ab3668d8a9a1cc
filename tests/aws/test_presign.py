"""Presigned GET URLs come from botocore, through django-storages, for every bucket shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from findlabels import aws

KEYS = ["images/1/abc/thumbnail.jpg", "a b/c+d/é~x!'()*.jpg", "x/y%20z/@:=&?.png"]


def test_the_media_storage_presigns_through_django_storages(settings: Any) -> None:
    """A hand-written presigner in a subclass would bypass botocore's checks and fixes."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": aws.s3_storage("b", "eu-west-1", None, 300, aws.botocore_config(5, 30, 3)),
    }
    storage = storages["default"]
    assert type(storage).url is S3Storage.url


@pytest.mark.parametrize("token", [None, "tok/+=en"])
@pytest.mark.parametrize(
    ("region", "endpoint", "host", "prefix"),
    [
        ("eu-west-1", None, "my-bucket.s3.eu-west-1.amazonaws.com", "/"),
        ("us-east-1", None, "s3.amazonaws.com", "/my.dotted.bucket/"),
        ("us-east-1", "http://127.0.0.1:9999", "127.0.0.1:9999", "/my-bucket/"),
    ],
)
def test_plain_get_urls_name_the_key_region_and_session(
    monkeypatch: Any, token: str | None, region: str, endpoint: str | None, host: str, prefix: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/+key")
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    else:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    bucket = "my.dotted.bucket" if "dotted" in prefix else "my-bucket"
    entry = aws.s3_storage(bucket, region, endpoint, 300, aws.botocore_config(5, 30, 3))
    storage = S3Storage(**entry["OPTIONS"])
    for key in KEYS:
        parts = urlsplit(storage.url(key))
        query = parse_qs(parts.query)
        assert parts.netloc == host
        assert unquote(parts.path) == prefix + key
        assert query["X-Amz-Credential"][0].split("/")[2] == region
        assert query["X-Amz-Expires"] == ["300"]
        assert query.get("X-Amz-Security-Token") == ([token] if token else None)
