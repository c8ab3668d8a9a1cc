"""Whatever fails after a photo is stored, the photo stays and the person is told."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from gallery.detection import DetectionError
from gallery.models import Image
from tests.conftest import make_jpeg, upload_file

pytestmark = pytest.mark.django_db

ORT_FAILURE = (
    "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running "
    "Conv node. Name:'/features/0/Conv' /srv/findlabels/var/models/efficientnet-lite0.onnx"
)


def upload(client: Client, data: bytes, name: str = "a.jpg") -> Any:
    return client.post("/upload/", {"images": [upload_file(name, data)]}, follow=True)


def page_text(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def detect_on_upload(settings: Any, detector: Any) -> Any:
    settings.FINDLABELS_DETECT_ON_UPLOAD = True
    return detector


def test_a_database_error_saving_labels_at_upload_keeps_the_photo(
    owner_client: Client, detect_on_upload: Any, monkeypatch: Any
) -> None:
    def fail(self: Image, detection: Any) -> None:
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr(Image, "replace_labels", fail)
    response = upload(owner_client, make_jpeg())
    assert response.status_code == 200
    assert "a.jpg was stored, but finding labels failed" in page_text(response)
    assert "No space left" not in page_text(response)
    assert Image.objects.count() == 1


def test_an_engine_runtime_error_at_upload_keeps_the_photo(
    owner_client: Client, detect_on_upload: Any, caplog: Any
) -> None:
    detect_on_upload.error = RuntimeError(ORT_FAILURE)
    with caplog.at_level(logging.ERROR):
        response = upload(owner_client, make_jpeg())
    assert response.status_code == 200
    assert "a.jpg was stored, but finding labels failed" in page_text(response)
    assert Image.objects.count() == 1
    assert ORT_FAILURE in caplog.text  # the operator learns what happened


def test_an_engine_runtime_error_on_detect_is_a_message(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    detector.error = RuntimeError(ORT_FAILURE)
    response = owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    assert response.status_code == 200
    assert "Labels could not be found" in page_text(response)
    assert "ONNXRuntimeError" not in page_text(response)


def test_a_database_error_on_detect_is_a_message(
    owner_client: Client, make_image: Any, detector: Any, monkeypatch: Any
) -> None:
    image = make_image()

    def fail(self: Image, detection: Any) -> None:
        raise DatabaseError("deadlock detected")

    monkeypatch.setattr(Image, "replace_labels", fail)
    response = owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    assert response.status_code == 200
    assert "Labels could not be found" in page_text(response)
    assert "deadlock" not in page_text(response)


def test_uploading_the_same_photo_again_links_to_the_stored_one(
    owner_client: Client, detect_on_upload: Any
) -> None:
    detect_on_upload.error = RuntimeError(ORT_FAILURE)
    data = make_jpeg()
    upload(owner_client, data)
    image = Image.objects.get()
    response = upload(owner_client, data, name="again.jpg")
    text = page_text(response)
    assert "again.jpg was not stored: it is already in your library." in text
    assert f'href="{reverse("gallery:detail", args=[image.pk])}"' in text


def test_a_file_name_in_the_duplicate_message_is_escaped(owner_client: Client) -> None:
    data = make_jpeg()
    upload(owner_client, data)
    text = page_text(upload(owner_client, data, name="<i>x.jpg"))
    assert "&lt;i&gt;x.jpg was not stored: it is already" in text


# -- finding 9: what the engine says is for the operator, not the person -------


@pytest.mark.parametrize(
    "message",
    [
        "ONNX Runtime cannot load /srv/findlabels/var/models/efficientnet-lite0.onnx: "
        "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model failed",
        "Cannot write the converted model to /srv/findlabels/var/models: Read-only file system.",
        "The face model at C:\\findlabels\\models\\face.onnx cannot be loaded.",
    ],
)
def test_engine_errors_never_show_paths_or_library_messages(
    message: str, owner_client: Client, make_image: Any, detector: Any, caplog: Any
) -> None:
    image = make_image()
    detector.error = DetectionError(message, permanent=False)
    with caplog.at_level(logging.WARNING):
        response = owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    text = page_text(response)
    assert "Labels could not be found" in text
    for leak in ("/srv/", "C:\\", "ONNXRuntimeError", "INVALID_PROTOBUF", "Read-only"):
        assert leak not in text
    assert message in caplog.text


def test_a_plain_engine_message_reaches_the_person(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    image = make_image()
    detector.error = DetectionError("This image file is damaged and cannot be read.")
    response = owner_client.post(reverse("gallery:detect", args=[image.pk]), follow=True)
    assert "This image file is damaged and cannot be read." in page_text(response)


def test_an_engine_runtime_error_in_bulk_detect_is_a_message(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    images = [make_image(), make_image()]
    detector.error = RuntimeError(ORT_FAILURE)
    data = {"ids": [str(i.pk) for i in images], "action": "detect", "next": "/"}
    response = owner_client.post("/images/bulk/", data, follow=True)
    assert response.status_code == 200
    assert "Labels could not be found in " in page_text(response)
    assert "ONNXRuntimeError" not in page_text(response)


def test_an_engine_runtime_error_in_detect_all_skips_the_photo(
    owner_client: Client, make_image: Any, detector: Any
) -> None:
    make_image()
    detector.error = RuntimeError(ORT_FAILURE)
    answer = owner_client.post("/images/detect-missing/").json()
    assert (answer["done"], answer["failed"]) == (0, 1)


# -- the same through the JSON API ---------------------------------------------


@pytest.fixture
def api_headers(owner: Any) -> dict[str, str]:
    from accounts.models import ApiToken

    return {"Authorization": f"Bearer {ApiToken.objects.issue(owner, 'tests')[1]}"}


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(ORT_FAILURE),
        DetectionError("ONNX Runtime cannot load /srv/var/models/x.onnx: bad", permanent=False),
    ],
)
def test_api_detect_failures_are_json_without_paths(
    failure: Exception, client: Client, make_image: Any, detector: Any, api_headers: Any
) -> None:
    image = make_image()
    detector.error = failure
    response = client.post(f"/api/v1/images/{image.pk}/detect", headers=api_headers)
    assert response.status_code == 503
    assert "/srv/" not in response.content.decode() and "ONNX" not in response.content.decode()


def test_api_upload_keeps_the_photo_when_the_engine_fails(
    client: Client, detect_on_upload: Any, api_headers: Any
) -> None:
    detect_on_upload.error = RuntimeError(ORT_FAILURE)
    response = client.post(
        "/api/v1/images/", {"file": [upload_file("a.jpg", make_jpeg())]}, headers=api_headers
    )
    assert response.status_code == 201
    assert Image.objects.count() == 1
