"""Delete in AWS mode when S3 does not answer: no 500, the orphans are logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from gallery.models import Image

pytestmark = pytest.mark.django_db


def s3_unreachable(*args: Any, **kwargs: Any) -> None:
    raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")


def test_delete_with_s3_unreachable_is_no_500(
    s3: Any,
    owner_client: Client,
    make_image: Any,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    image = make_image()
    events = default_storage.connection.meta.client.meta.events  # type: ignore[attr-defined]
    events.register_first("before-send.s3.DeleteObject", s3_unreachable)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("gallery:delete", args=[image.pk]), follow=True)
    assert response.status_code == 200
    assert f"Deleted {image.original_name}." in response.content.decode()
    assert not Image.objects.filter(pk=image.pk).exists()
    assert str(image.original.name) in caplog.text
