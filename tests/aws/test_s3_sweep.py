"""sweep_media on S3: orphan objects older than an hour go, rows keep theirs."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from gallery.models import Image
from tests.aws.conftest import BUCKET

pytestmark = pytest.mark.django_db


def keys(s3: Any) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_old_orphan_objects_go_and_stored_photos_stay(
    s3: Any, make_image: Any, owner: Any, monkeypatch: Any
) -> None:
    image = make_image()
    s3.put_object(Bucket=BUCKET, Key=f"images/{owner.pk}/{'e' * 32}/original.jpg", Body=b"x")
    # Objects cannot be back-dated in S3; the sweep's clock moves on two hours instead.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    monkeypatch.setattr("gallery.sweep.now", lambda: later)
    out = StringIO()
    call_command("sweep_media", stdout=out)
    assert keys(s3) == {image.original.name, image.thumbnail.name}
    assert "removed 1" in out.getvalue()


def test_a_row_whose_object_is_gone_is_reported(s3: Any, make_image: Any) -> None:
    image = make_image()
    s3.delete_object(Bucket=BUCKET, Key=str(image.thumbnail.name))
    out = StringIO()
    call_command("sweep_media", "--dry-run", stdout=out)
    assert str(image.thumbnail.name) in out.getvalue()
    assert Image.objects.filter(pk=image.pk).exists()
