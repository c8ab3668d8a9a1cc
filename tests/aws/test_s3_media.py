"""Media in S3: private, encrypted, delivered by short-lived presigned URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.client import BaseClient
from django.test import Client
from django.urls import reverse

from gallery.models import Image
from tests.aws.conftest import BUCKET
from tests.conftest import make_jpeg, upload_file

pytestmark = pytest.mark.django_db


def objects(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_upload_writes_private_encrypted_objects(s3: Any, owner_client: Client) -> None:
    owner_client.post("/upload/", {"images": [upload_file("cat.jpg", make_jpeg())]})
    image = Image.objects.get()
    assert sorted(objects(s3)) == sorted(image.stored_names())
    head = s3.head_object(Bucket=BUCKET, Key=image.original.name)
    assert head["ServerSideEncryption"] == "AES256"
    acl = s3.get_object_acl(Bucket=BUCKET, Key=image.original.name)
    assert all("AllUsers" not in str(grant["Grantee"]) for grant in acl["Grants"])


def test_original_redirects_to_a_short_presigned_sigv4_url(
    s3: Any, owner_client: Client, make_image: Any
) -> None:
    image = make_image(name='holiday "best".jpg')
    response = owner_client.get(reverse("gallery:original", args=[image.pk]))
    assert response.status_code == 302
    url = urlparse(response["Location"])
    query = parse_qs(url.query)
    assert url.path == f"/{BUCKET}/{image.original.name}" or url.netloc.startswith(BUCKET)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["image/jpeg"]
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith("inline;") and '\\"best\\"' in disposition


def test_download_asks_for_an_attachment(s3: Any, owner_client: Client, make_image: Any) -> None:
    image = make_image()
    response = owner_client.get(reverse("gallery:original", args=[image.pk]) + "?download=1")
    disposition = parse_qs(urlparse(response["Location"]).query)["response-content-disposition"]
    assert disposition[0].startswith("attachment;")


def test_the_presigned_url_serves_the_bytes(s3: Any, owner_client: Client, make_image: Any) -> None:
    import requests

    image = make_image()
    location = owner_client.get(reverse("gallery:thumbnail", args=[image.pk]))["Location"]
    fetched = requests.get(location, timeout=5)
    assert fetched.status_code == 200
    assert fetched.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize("who", ["other_client", "client"])
def test_no_presigned_url_for_anyone_but_the_owner(
    s3: Any, make_image: Any, who: str, request: Any
) -> None:
    image = make_image()
    response = request.getfixturevalue(who).get(reverse("gallery:original", args=[image.pk]))
    assert response.status_code in (302, 404)
    assert BUCKET not in response.get("Location", "")


def test_gallery_presigns_thumbnails_without_any_network_call(
    s3: Any, owner_client: Client, make_image: Any, monkeypatch: Any
) -> None:
    for _ in range(24):
        make_image(size=(16, 16))
    calls: list[str] = []
    real = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    content = owner_client.get("/").content.decode()
    assert content.count("X-Amz-Signature=") == 24
    assert calls == []


def test_an_s3_failure_at_upload_leaves_no_row(
    s3: Any, owner_client: Client, monkeypatch: Any
) -> None:
    from storages.backends.s3 import S3Storage

    def fail(self: Any, name: str, content: Any) -> str:
        raise OSError("S3 is unreachable")

    monkeypatch.setattr(S3Storage, "_save", fail)
    response = owner_client.post(
        "/upload/", {"images": [upload_file("a.jpg", make_jpeg())]}, follow=True
    )
    assert b"a.jpg was not stored: it could not be saved" in response.content
    assert Image.objects.count() == 0
    assert objects(s3) == []


def test_delete_removes_the_objects(
    s3: Any, owner_client: Client, make_image: Any, django_capture_on_commit_callbacks: Any
) -> None:
    image = make_image()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("gallery:delete", args=[image.pk]))
    assert objects(s3) == []


def test_healthz_checks_the_bucket(s3: Any, client: Client) -> None:
    assert client.get("/healthz").json() == {"database": "ok", "storage": "ok"}
    s3.delete_bucket(Bucket=BUCKET)
    assert client.get("/healthz").status_code == 503


def test_s3_client_signs_with_sigv4_in_the_chosen_address_style(s3: Any) -> None:
    from django.core.files.storage import default_storage

    client = default_storage.connection.meta.client  # type: ignore[attr-defined]
    assert client.meta.config.signature_version == "s3v4"
    assert client.meta.config.s3["addressing_style"] == "virtual"


def test_other_aws_clients_use_their_own_signer(aws_credentials: None, settings: Any) -> None:
    from findlabels import aws

    settings.AWS_REGION = "us-east-1"
    aws.client.cache_clear()
    try:
        assert aws.client("rekognition")._request_signer.signature_version == "v4"
    finally:
        aws.client.cache_clear()
