from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PILImage

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


def run_bare(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python in the repo with nearly nothing set, as on a fresh machine."""
    base = {"PATH": "/usr/bin:/bin", "FINDLABELS_VAR_DIR": str(ROOT / "var")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def pytest_collection(session: pytest.Session) -> None:
    # findlabels.urls picks its account pages from settings when first imported;
    # import it now, in the default mode, before any test switches to Cognito.
    import findlabels.urls  # noqa: F401


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Every test writes its files to its own folder."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": None},
        },
    }
    return root


@pytest.fixture
def aws_credentials(monkeypatch: Any) -> None:
    """Fake credentials and no profile or config file: nothing can reach a real account."""
    from tools.aws_local import FAKE_CREDENTIALS

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Rate limits live in the cache; one test's sign-ups must not slow another's."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()


def make_jpeg(
    size: tuple[int, int] = (640, 480),
    color: tuple[int, int, int] = (200, 80, 40),
    exif_orientation: int | None = None,
) -> bytes:
    img = PILImage.new("RGB", size, color)
    # A second colour block makes every generated image distinct by content.
    img.paste((color[2], color[0], color[1]), (0, 0, size[0] // 3, size[1] // 3))
    out = io.BytesIO()
    exif = PILImage.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def make_png(size: tuple[int, int] = (64, 48), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(
        out, "PNG"
    )
    return out.getvalue()


def upload_file(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    def make(email: str = "owner@example.com", **extra: Any) -> Any:
        return django_user_model.objects.create_user(email=email, password="pw-Secret-123", **extra)

    return make


@pytest.fixture
def owner(make_user: Callable[..., Any]) -> Any:
    return make_user("owner@example.com")


@pytest.fixture
def other_user(make_user: Callable[..., Any]) -> Any:
    return make_user("other@example.com")


@pytest.fixture
def staff_user(make_user: Callable[..., Any]) -> Any:
    return make_user("moderator@example.com", is_staff=True, is_superuser=True)


def client_for(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: Any) -> Client:
    return client_for(owner)


@pytest.fixture
def other_client(other_user: Any) -> Client:
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user: Any) -> Client:
    return client_for(staff_user)


@pytest.fixture
def make_image(owner: Any) -> Callable[..., Any]:
    """Store a real generated photo for a user through the upload path."""
    from gallery.uploads import store_upload

    counter = iter(range(1, 1_000_000))

    def make(user: Any = None, name: str | None = None, **jpeg: Any) -> Any:
        n = next(counter)
        jpeg.setdefault("color", (n * 37 % 256, n * 91 % 256, n * 13 % 256))
        data = make_jpeg(**jpeg)
        return store_upload(user or owner, upload_file(name or f"photo-{n}.jpg", data))

    return make
