"""What an upload can break on its way in: disk space, temp files, request limits."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client

from gallery.models import Image
from tests.conftest import make_jpeg, upload_file

pytestmark = pytest.mark.django_db

BOUNDARY = "----findlabelsboundary"


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*")] if root.exists() else []


def fill_the_disk_halfway(self: FileSystemStorage, name: str, content: Any) -> str:
    """What FileSystemStorage._save does when the disk fills: part of a file, then ENOSPC."""
    path = Path(self.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as partial:
        partial.write(content.read(100))
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_mid_upload_leaves_no_partial_file_or_folder(
    owner_client: Client, monkeypatch: Any, media_root: Path
) -> None:
    monkeypatch.setattr(FileSystemStorage, "_save", fill_the_disk_halfway)
    response = owner_client.post(
        "/upload/", {"images": [upload_file("a.jpg", make_jpeg())]}, follow=True
    )
    assert b"a.jpg was not stored: it could not be saved" in response.content
    assert Image.objects.count() == 0
    left = stored_files(media_root)
    assert [p for p in left if p.is_file()] == []
    assert [p for p in left if len(p.name) == 32] == []  # no photo folder (a uuid4 hex)


def test_healthz_is_not_ok_on_a_full_disk(client: Client, monkeypatch: Any) -> None:
    import shutil

    real = shutil.disk_usage

    def full(path: Any) -> Any:
        return real(path)._replace(free=4096)

    monkeypatch.setattr(shutil, "disk_usage", full)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"] == "error: StorageFull"


def test_an_upload_kept_on_disk_has_no_name_a_killed_worker_could_leave(
    owner_client: Client, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # Django keeps uploads over FILE_UPLOAD_MAX_MEMORY_SIZE in a temporary file;
    # a worker killed mid-request never removes a named one.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    seen: list[list[str]] = []
    from gallery import views

    real_store = views.store_upload

    def store_and_look(owner: Any, upload: Any) -> Any:
        seen.append(os.listdir(settings.FILE_UPLOAD_TEMP_DIR))
        return real_store(owner, upload)

    monkeypatch.setattr(views, "store_upload", store_and_look)
    owner_client.post("/upload/", {"images": [upload_file("big.jpg", make_jpeg((800, 600)))]})
    assert seen == [[]]
    assert Image.objects.count() == 1


def test_too_many_files_in_one_post_get_a_plain_message(
    owner_client: Client, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5
    files = [upload_file(f"{n}.jpg", make_jpeg((8, 8))) for n in range(6)]
    response = owner_client.post("/upload/", {"images": files}, follow=True)
    assert response.status_code == 200
    assert b"at most 5 photos in one upload" in response.content
    assert Image.objects.count() == 0


def test_too_many_files_from_the_upload_script_get_json(
    owner_client: Client, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5
    files = [upload_file(f"{n}.jpg", make_jpeg((8, 8))) for n in range(6)]
    response = owner_client.post(
        "/upload/", {"images": files}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
    )
    assert response.status_code == 400
    assert "at most 5 photos" in response.json()["errors"][0]


def multipart_with_name(filename: str, data: bytes) -> bytes:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="images"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_very_long_file_name_gets_a_plain_message(owner_client: Client) -> None:
    body = multipart_with_name("\U0001f642" * 300 + ".jpg", make_jpeg())
    response = owner_client.post(
        "/upload/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}", follow=True
    )
    assert response.status_code == 200
    assert b"file name is too long" in response.content
    assert Image.objects.count() == 0


def test_a_long_but_allowed_file_name_is_stored(owner_client: Client) -> None:
    body = multipart_with_name("x" * 200 + ".jpg", make_jpeg())
    owner_client.post("/upload/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert Image.objects.get().original_name == "x" * 200 + ".jpg"


def test_a_broken_upload_elsewhere_is_still_refused(owner_client: Client) -> None:
    body = multipart_with_name("\U0001f642" * 300 + ".jpg", make_jpeg())
    response = owner_client.post(
        "/preferences/confidence/",
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 400
