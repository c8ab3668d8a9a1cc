"""Deleting a photo: never a 500, no file left behind that nobody can find."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.urls import reverse

from gallery.models import Image

pytestmark = pytest.mark.django_db


def delete(client: Client, image: Image, on_commit: Any) -> Any:
    with on_commit(execute=True):
        return client.post(reverse("gallery:delete", args=[image.pk]), follow=True)


def test_delete_leaves_no_empty_folder(
    owner_client: Client, make_image: Any, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    image = make_image()
    folder = media_root / Path(str(image.original.name)).parent
    assert folder.is_dir()
    delete(owner_client, image, django_capture_on_commit_callbacks)
    assert not folder.exists()


def test_a_failed_file_delete_is_no_500_and_is_logged(
    owner_client: Client,
    make_image: Any,
    monkeypatch: Any,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    image = make_image()

    def refuse(self: Any, name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    with caplog.at_level(logging.ERROR):
        response = delete(owner_client, image, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert f"Deleted {image.original_name}." in response.content.decode()
    assert not Image.objects.filter(pk=image.pk).exists()
    assert str(image.original.name) in caplog.text  # sweep_media finds it later
