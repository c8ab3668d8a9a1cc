from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.config import Config

from gallery.storage import PresignedS3Storage

KEYS = ["images/1/abc/thumbnail.jpg", "a b/c+d/é~x!'()*.jpg", "x/y%20z/@:=&?.png"]


def botocore_url(storage: PresignedS3Storage, key: str, url: str) -> str:
    query = dict(parse_qsl(urlsplit(url).query))
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        return str(
            storage.connection.meta.client.generate_presigned_url(
                "get_object", Params={"Bucket": storage.bucket_name, "Key": key}, ExpiresIn=300
            )
        )


@pytest.mark.parametrize("token", [None, "tok/+=en"])
@pytest.mark.parametrize(
    ("region", "endpoint", "style", "bucket"),
    [
        ("eu-west-1", None, "virtual", "my-bucket"),
        ("us-east-1", None, "virtual", "my.dotted.bucket"),
        ("us-east-1", "http://127.0.0.1:9999", "path", "findlabels-local-media"),
    ],
)
def test_plain_get_urls_are_botocores_own(
    monkeypatch: Any, token: str | None, region: str, endpoint: str | None, style: str, bucket: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/+key")
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    else:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    storage = PresignedS3Storage(
        bucket_name=bucket, region_name=region, endpoint_url=endpoint,
        signature_version="s3v4", addressing_style=style, querystring_expire=300,
        client_config=Config(signature_version="s3v4"),
    )  # fmt: skip
    for key in KEYS:
        url = storage.url(key)
        assert url == botocore_url(storage, key, url)


def test_it_leaves_response_overrides_to_botocore(s3: Any) -> None:
    from django.core.files.storage import default_storage

    with mock.patch.object(PresignedS3Storage, "_presigned_get") as fast:
        url = default_storage.url(
            "k.jpg",
            parameters={"ResponseContentType": "image/jpeg"},  # type: ignore[call-arg]
        )
    fast.assert_not_called()
    assert "response-content-type=image%2Fjpeg" in url
