"""Fault runs: what an unlucky operator meets, and what the person sees each time.

Full disk and read-only media run on a real small tmpfs when the tests run as
root (a storage that fails the same way otherwise), S3 down on moto with its
connection cut, database and engine errors, and a worker killed mid-upload.
Each time: no server error, a plain message, and no orphan once sweep_media
has run.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from gallery.detection import DetectionError
from gallery.models import Image
from gallery.sweep import survey
from tests.aws.conftest import s3  # noqa: F401  (fixture)
from tests.conftest import ROOT, make_jpeg, upload_file
from tests.gallery.conftest import detector  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

LEAKS = ("Traceback", "/tmp", "/srv", "/work", "Errno", "OSError", "botocore", "ONNX")


def noise_jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.effect_noise(size, 80).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def messages_of(response: Any) -> list[str]:
    assert response.status_code < 500
    found = [str(m) for m in response.context["messages"]] if response.context else []
    for text in found:
        assert not any(leak in text for leak in LEAKS), text
    return found


def upload(client: Client, data: bytes, name: str = "a.jpg") -> list[str]:
    return messages_of(client.post("/upload/", {"images": [upload_file(name, data)]}, follow=True))


def sweep_leaves_no_orphan(monkeypatch: Any) -> None:
    """Run sweep_media two hours later (orphans younger than an hour are kept)."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    monkeypatch.setattr("gallery.sweep.now", lambda: later)
    call_command("sweep_media", stdout=io.StringIO())
    found = survey()
    assert (found.orphans, found.recent, found.missing, found.folders) == ([], [], [], [])


def can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux"


@pytest.fixture
def small_disk(media_root: Path) -> Iterator[Path | None]:
    """The media folder on a real 1 MB tmpfs when root may mount one; else None."""
    media_root.mkdir(parents=True, exist_ok=True)
    if not can_mount():
        yield None
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(media_root)], check=True)
    try:
        yield media_root
    finally:
        subprocess.run(["umount", "-l", str(media_root)], check=True)


# -- full disk -----------------------------------------------------------------


def fill_the_disk_halfway(self: FileSystemStorage, name: str, content: Any) -> str:
    path = Path(self.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.read(100))
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk(
    small_disk: Path | None, owner_client: Client, client: Client, monkeypatch: Any
) -> None:
    if small_disk is not None:
        (small_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 96 * 1024))
        photo = noise_jpeg((800, 600))
        assert len(photo) > 96 * 1024
    else:
        monkeypatch.setattr(FileSystemStorage, "_save", fill_the_disk_halfway)
        photo = make_jpeg()
    assert upload(owner_client, photo) == [
        "a.jpg was not stored: it could not be saved; please try again."
    ]
    assert Image.objects.count() == 0
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["storage"].startswith("error:")
    sweep_leaves_no_orphan(monkeypatch)


# -- read-only media ---------------------------------------------------------------


def test_read_only_media(
    small_disk: Path | None,
    owner_client: Client,
    client: Client,
    make_image: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    kept, doomed = make_image(), make_image()

    def read_only(self: Any, *args: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    if small_disk is not None:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    else:
        monkeypatch.setattr(FileSystemStorage, "_save", read_only)
        monkeypatch.setattr(FileSystemStorage, "delete", read_only)
        monkeypatch.setattr("os.access", lambda path, mode: False)
    assert upload(owner_client, make_jpeg((32, 32))) == [
        "a.jpg was not stored: it could not be saved; please try again."
    ]
    assert owner_client.get(reverse("gallery:original", args=[kept.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("gallery:delete", args=[doomed.pk]), follow=True)
    assert messages_of(response) == [f"Deleted {doomed.original_name}."]
    assert client.get("/healthz").status_code == 503
    # The operator makes the disk writable again; the sweep removes what the delete could not.
    if small_disk is not None:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    else:
        monkeypatch.undo()
    sweep_leaves_no_orphan(monkeypatch)
    assert default_storage.exists(str(kept.original.name))


# -- S3 down ---------------------------------------------------------------------


def test_s3_down(
    s3: Any,  # noqa: F811
    owner_client: Client,
    client: Client,
    make_image: Any,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    kept, doomed = make_image(), make_image()

    def unreachable(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")

    events = default_storage.connection.meta.client.meta.events  # type: ignore[attr-defined]
    events.register_first("before-send.s3", unreachable)
    assert upload(owner_client, make_jpeg((32, 32))) == [
        "a.jpg was not stored: it could not be saved; please try again."
    ]
    assert owner_client.get("/").status_code == 200  # thumbnails are presigned locally
    assert owner_client.get(reverse("gallery:detail", args=[kept.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("gallery:delete", args=[doomed.pk]), follow=True)
    assert messages_of(response) == [f"Deleted {doomed.original_name}."]
    assert client.get("/healthz").status_code == 503
    events.unregister("before-send.s3", unreachable)
    sweep_leaves_no_orphan(monkeypatch)
    assert Image.objects.get() == kept


# -- database error ----------------------------------------------------------------


def test_database_errors(
    owner_client: Client,
    make_image: Any,
    detector: Any,  # noqa: F811
    monkeypatch: Any,
) -> None:
    image = make_image()

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Image.objects, "create", database_gone)
    assert upload(owner_client, make_jpeg((40, 40))) == [
        "a.jpg was not stored: it could not be saved; please try again."
    ]
    monkeypatch.setattr(Image, "replace_labels", lambda self, detection: database_gone())
    response = owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    [message] = messages_of(response)
    assert message.startswith("Labels could not be found: ")
    monkeypatch.undo()
    sweep_leaves_no_orphan(monkeypatch)


# -- engine error ------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : /srv/var/models/x.onnx"),
        DetectionError("ONNX Runtime cannot load /srv/var/models/x.onnx: bad", permanent=False),
        MemoryError(),
    ],
)
def test_engine_errors(
    failure: BaseException,
    owner_client: Client,
    settings: Any,
    detector: Any,  # noqa: F811
    monkeypatch: Any,
) -> None:
    settings.FINDLABELS_DETECT_ON_UPLOAD = True
    detector.error = failure
    warning, stored = upload(owner_client, make_jpeg((40, 40)))
    assert warning.startswith("a.jpg was stored, but finding labels failed: ")
    assert stored == "Stored 1 photo."
    image = Image.objects.get()
    [message] = messages_of(
        owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    )
    assert message.startswith("Labels could not be found: ")
    sweep_leaves_no_orphan(monkeypatch)


# -- killed worker -----------------------------------------------------------------

KILLED_MID_UPLOAD = """
import os, signal, sys
import django
django.setup()
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.test import Client
from accounts.models import User

call_command("migrate", verbosity=0)
user = User.objects.create_user(email="killed@example.com", password="unused-Secret-1")
real_save = FileSystemStorage._save

def save_then_die(self, name, content):
    real_save(self, name, content)
    os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer or a deploy would

FileSystemStorage._save = save_then_die
client = Client()
client.force_login(user)
with open(sys.argv[1], "rb") as photo:
    client.post("/upload/", {"images": [photo]})
"""


def test_killed_worker(tmp_path: Path) -> None:
    media, temp = tmp_path / "killed-media", tmp_path / "tmp"
    temp.mkdir()
    photo = tmp_path / "big.jpg"
    photo.write_bytes(noise_jpeg((2000, 1500)))
    assert photo.stat().st_size > 2 * 1024 * 1024  # kept in a temporary file, not memory
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "findlabels.settings",
        "DJANGO_SECRET_KEY": "fault-run",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "FINDLABELS_VAR_DIR": str(tmp_path / "var"),
        "FINDLABELS_MEDIA_ROOT": str(media),
        "FINDLABELS_DETECT_ON_UPLOAD": "0",
        "FINDLABELS_UPLOAD_TEMP_DIR": str(temp),
        "TMPDIR": str(temp),
    }
    run = subprocess.run(
        [sys.executable, "-c", KILLED_MID_UPLOAD, str(photo)], cwd=ROOT, env=env, timeout=120
    )
    assert run.returncode == -signal.SIGKILL
    assert os.listdir(temp) == []  # the upload's temporary file had no name to leave
    left = [p for p in media.rglob("*") if p.is_file()]
    assert len(left) == 1 and left[0].name == "original.jpg"  # written, then killed
    for path in [*media.rglob("*")]:
        os.utime(path, (0, 0))  # as if two hours passed
    swept = subprocess.run(
        [sys.executable, "manage.py", "sweep_media"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert swept.returncode == 0, swept.stderr
    assert "removed 1 orphan files" in swept.stdout
    assert [p for p in media.rglob("*") if p != media / "images"] == []
