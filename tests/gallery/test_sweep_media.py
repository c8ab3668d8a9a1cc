"""sweep_media: stored files without a row go after an hour; rows without files are named."""

from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from gallery.models import Image

pytestmark = pytest.mark.django_db

TWO_HOURS = 2 * 3600


def sweep(*args: str) -> str:
    out = StringIO()
    call_command("sweep_media", *args, stdout=out)
    return out.getvalue()


def age(root: Path, name: str, seconds: int) -> None:
    then = time.time() - seconds
    path = root / name
    while path != root:
        os.utime(path, (then, then))
        path = path.parent


def orphan(root: Path, name: str, seconds_old: int = TWO_HOURS) -> str:
    default_storage.save(name, ContentFile(b"left behind"))
    age(root, name, seconds_old)
    return name


def test_an_old_orphan_file_and_its_folder_are_removed(
    media_root: Path, make_image: Any, owner: Any
) -> None:
    kept = make_image()
    name = orphan(media_root, f"images/{owner.pk}/{'a' * 32}/original.jpg")
    report = sweep()
    assert not (media_root / name).exists()
    assert not (media_root / name).parent.exists()
    assert default_storage.exists(str(kept.original.name))
    assert default_storage.exists(str(kept.thumbnail.name))
    assert name in report and "removed 1" in report


def test_a_recent_orphan_is_kept_an_upload_may_be_writing_it(media_root: Path, owner: Any) -> None:
    name = orphan(media_root, f"images/{owner.pk}/{'b' * 32}/original.jpg", seconds_old=60)
    report = sweep()
    assert (media_root / name).exists()
    assert "younger than an hour" in report


def test_dry_run_reports_and_removes_nothing(media_root: Path, owner: Any) -> None:
    name = orphan(media_root, f"images/{owner.pk}/{'c' * 32}/original.jpg")
    report = sweep("--dry-run")
    assert (media_root / name).exists()
    assert name in report and "would remove 1" in report


def test_old_empty_folders_go(media_root: Path, owner: Any) -> None:
    folder = media_root / "images" / str(owner.pk) / ("d" * 32)
    folder.mkdir(parents=True)
    age(media_root, f"images/{owner.pk}/{'d' * 32}", TWO_HOURS)
    sweep()
    assert not (media_root / "images" / str(owner.pk)).exists()


def test_rows_without_files_are_reported_not_deleted(make_image: Any) -> None:
    image = make_image()
    default_storage.delete(str(image.original.name))
    report = sweep()
    assert Image.objects.filter(pk=image.pk).exists()
    assert str(image.pk) in report and str(image.original.name) in report
    assert "1 photo missing a file" in report


def test_nothing_to_do_says_so(make_image: Any) -> None:
    make_image()
    assert "No orphans" in sweep()


def test_files_outside_images_are_left_alone(media_root: Path) -> None:
    name = orphan(media_root, "README.txt")
    sweep()
    assert (media_root / name).exists()


def test_an_orphan_that_cannot_be_removed_fails_the_run(
    media_root: Path, owner: Any, monkeypatch: Any
) -> None:
    from django.core.files.storage import FileSystemStorage
    from django.core.management.base import CommandError

    orphan(media_root, f"images/{owner.pk}/{'f' * 32}/original.jpg")

    def refuse(self: Any, name: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    with pytest.raises(CommandError, match="1 orphan files could not be removed"):
        sweep()


def test_a_display_copy_is_no_orphan(owner_client: Any, media_root: Path) -> None:
    import io

    from PIL import Image as PILImage

    from tests.conftest import upload_file

    out = io.BytesIO()
    PILImage.new("RGB", (64, 48), "red").save(out, "HEIF")
    owner_client.post("/upload/", {"images": [upload_file("phone.heic", out.getvalue())]})
    image = Image.objects.get()
    owner_client.get(f"/images/{image.pk}/display")
    copy = image.stored_names()[2]
    age(media_root, copy, TWO_HOURS)
    assert "No orphans" in sweep()
    assert default_storage.exists(copy)
