"""Rekognition's DetectModerationLabels in the same Detect press as DetectLabels.

moto has no DetectModerationLabels, so answers come from botocore's Stubber
on the one client from ``findlabels.aws.client``, shaped like the API
reference's example (Stubber checks them against botocore's model too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from django.test import Client
from django.urls import reverse
from moto import mock_aws

from findlabels import aws
from gallery.detection import Moderation, ModerationLabel, get_detector
from gallery.detection.rekognition import FEATURES, RekognitionDetector, moderation_from_response
from gallery.models import Image, detect_and_store

from ..conftest import make_jpeg

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
BUCKET = "findlabels-test-moderation"

LABELS: dict[str, Any] = {
    "Labels": [{"Name": "Person", "Confidence": 99.1, "Instances": [], "Parents": []}],
    "LabelModelVersion": "3.0",
}
# The three-level taxonomy of moderation model 7: each label names its
# direct parent; top-level labels have ParentName "".
MODERATION: dict[str, Any] = {
    "ModerationLabels": [
        {
            "Confidence": 92.7,
            "Name": "Exposed Male Genitalia",
            "ParentName": "Explicit Nudity",
            "TaxonomyLevel": 3,
        },
        {
            "Confidence": 92.7,
            "Name": "Explicit Nudity",
            "ParentName": "Explicit",
            "TaxonomyLevel": 2,
        },
        {"Confidence": 92.7, "Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1},
        {
            "Confidence": 61.0,
            "Name": "Smoking",
            "ParentName": "Drugs & Tobacco",
            "TaxonomyLevel": 2,
        },
    ],
    "ModerationModelVersion": "7.0",
    "ContentTypes": [{"Confidence": 99.9, "Name": "Illustrated"}],
}
SAFE: dict[str, Any] = {"ModerationLabels": [], "ModerationModelVersion": "7.0"}
NO_TEXT: dict[str, Any] = {"TextDetections": [], "TextModelVersion": "3.0"}


@dataclass
class Stubbed:
    stubber: Stubber
    moderation_requests: list[dict[str, Any]] = field(default_factory=list)

    def labels(self, image: Any = ANY) -> None:
        """DetectLabels, then the DetectText of the same press (no text in these photos)."""
        params = {"Image": image, "MinConfidence": 50.0, "Features": FEATURES}
        self.stubber.add_response("detect_labels", LABELS, params)
        self.stubber.add_response("detect_text", NO_TEXT, {"Image": image})

    def moderation(self, response: dict[str, Any] = MODERATION, image: Any = ANY) -> None:
        params = {"Image": image, "MinConfidence": 50.0}
        self.stubber.add_response("detect_moderation_labels", response, params)

    def fail(self, operation: str, code: str) -> None:
        self.stubber.add_client_error(
            operation,
            service_error_code=code,
            service_message="details for the operator",
            http_status_code=500 if code == "InternalServerError" else 400,
        )


@pytest.fixture
def stubbed(aws_credentials: None, settings: Any) -> Iterator[Stubbed]:
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = None
    settings.FINDLABELS_REKOGNITION_MIN_CONFIDENCE = 50
    settings.FINDLABELS_MODERATION = True
    settings.FINDLABELS_MODERATION_THRESHOLD = 80
    aws.client.cache_clear()
    get_detector.cache_clear()
    client = aws.client("rekognition")
    stubbed = Stubbed(Stubber(client))

    def record(params: dict[str, Any], **_: Any) -> None:
        stubbed.moderation_requests.append(params)

    client.meta.events.register("before-parameter-build.rekognition.DetectModerationLabels", record)
    with stubbed.stubber:
        yield stubbed
        stubbed.stubber.assert_no_pending_responses()
    aws.client.cache_clear()
    get_detector.cache_clear()


@pytest.fixture
def rekognition_engine(stubbed: Stubbed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)


def test_one_detect_asks_for_moderation_labels_of_the_same_image(stubbed: Stubbed) -> None:
    data = make_jpeg()
    stubbed.labels({"Bytes": data})
    stubbed.moderation(image={"Bytes": data})

    detection = RekognitionDetector.from_settings().detect(data)

    assert [label.name for label in detection.labels] == ["Person"]
    assert detection.moderation == Moderation(
        (
            ModerationLabel("Exposed Male Genitalia", 92.7, "Explicit"),
            ModerationLabel("Explicit Nudity", 92.7, "Explicit"),
            ModerationLabel("Explicit", 92.7, ""),
            # Its parent is not in the answer: the direct parent is the best known.
            ModerationLabel("Smoking", 61.0, "Drugs & Tobacco"),
        ),
        "7.0",
    )
    assert detection.incomplete == ()
    assert len(stubbed.moderation_requests) == 1


def test_the_moderation_call_uses_the_configured_floor(stubbed: Stubbed, settings: Any) -> None:
    settings.FINDLABELS_REKOGNITION_MIN_CONFIDENCE = 70
    stubbed.stubber.add_response(
        "detect_labels", LABELS, {"Image": ANY, "MinConfidence": 70.0, "Features": ANY}
    )
    stubbed.stubber.add_response("detect_text", NO_TEXT, {"Image": ANY})
    stubbed.stubber.add_response(
        "detect_moderation_labels", SAFE, {"Image": ANY, "MinConfidence": 70.0}
    )
    detection = RekognitionDetector.from_settings().detect(make_jpeg())
    assert detection.moderation == Moderation((), "7.0")


def test_turned_off_it_makes_no_moderation_call(stubbed: Stubbed, settings: Any) -> None:
    settings.FINDLABELS_MODERATION = False
    stubbed.labels()

    detection = RekognitionDetector.from_settings().detect(make_jpeg())

    assert detection.moderation is None
    assert detection.incomplete == ()
    assert stubbed.moderation_requests == []


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("ThrottlingException", logging.WARNING),
        ("ServiceUnavailableException", logging.WARNING),
        ("AccessDeniedException", logging.ERROR),
        ("InvalidImageFormatException", logging.ERROR),
    ],
)
def test_a_failed_moderation_call_keeps_the_labels(
    stubbed: Stubbed, caplog: pytest.LogCaptureFixture, code: str, level: int
) -> None:
    stubbed.labels()
    stubbed.fail("detect_moderation_labels", code)

    with caplog.at_level(logging.INFO, logger="gallery.detection.rekognition"):
        detection = RekognitionDetector.from_settings().detect(make_jpeg())

    assert [label.name for label in detection.labels] == ["Person"]
    assert detection.moderation is None
    assert detection.incomplete == ("moderation",)
    (record,) = [r for r in caplog.records if "DetectModerationLabels" in r.getMessage()]
    assert record.levelno == level
    assert code in record.getMessage()


def test_an_unreachable_moderation_endpoint_keeps_the_labels(
    stubbed: Stubbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubbed.labels()
    client = aws.client("rekognition")
    real_call = client._make_api_call

    def call(operation: str, params: dict[str, Any]) -> Any:
        if operation == "DetectModerationLabels":
            raise EndpointConnectionError(endpoint_url="https://rekognition.invalid")
        return real_call(operation, params)

    monkeypatch.setattr(client, "_make_api_call", call)

    detection = RekognitionDetector.from_settings().detect(make_jpeg())

    assert detection.incomplete == ("moderation",)
    assert [label.name for label in detection.labels] == ["Person"]


def test_failed_labels_skip_the_moderation_call(stubbed: Stubbed) -> None:
    from gallery.detection import DetectionError

    stubbed.fail("detect_labels", "ThrottlingException")
    with pytest.raises(DetectionError):
        RekognitionDetector.from_settings().detect(make_jpeg())
    assert stubbed.moderation_requests == []


def test_an_answer_without_a_version_or_names_is_still_read() -> None:
    moderation = moderation_from_response(
        {"ModerationLabels": [{"Confidence": 70.0}, {"Name": "Violence"}]}
    )
    assert moderation == Moderation((ModerationLabel("Violence", 0.0, ""),), "unknown")


def test_a_parent_loop_in_an_answer_does_not_hang() -> None:
    moderation = moderation_from_response(
        {
            "ModerationLabels": [
                {"Name": "A", "ParentName": "B", "Confidence": 90.0},
                {"Name": "B", "ParentName": "A", "Confidence": 90.0},
            ]
        }
    )
    assert [label.name for label in moderation.labels] == ["A", "B"]


def test_a_stored_s3_photo_is_moderated_in_place(
    stubbed: Stubbed,
    settings: Any,
    make_image: Callable[..., Image],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        settings.FINDLABELS_STORAGE = "s3"
        settings.AWS_STORAGE_BUCKET_NAME = BUCKET
        settings.STORAGES = {
            **settings.STORAGES,
            "default": aws.s3_storage(BUCKET, REGION, None, 300, aws.botocore_config(5, 30, 3)),
        }
        image = make_image()
        where = {"S3Object": {"Bucket": BUCKET, "Name": image.original.name}}
        stubbed.labels(where)
        stubbed.moderation(image=where)
        monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)

        detect_and_store(image)

    image.refresh_from_db()
    assert image.moderation_status == Image.Moderation.FLAGGED


# -- through the Detect button --------------------------------------------------------


def detect(client: Client, image: Image) -> Any:
    return client.post(reverse("gallery:detect", args=[image.pk]), follow=True)


@pytest.mark.usefixtures("rekognition_engine")
def test_detect_flags_a_photo_for_review_and_stores_the_labels(
    owner_client: Client, make_image: Callable[..., Image], stubbed: Stubbed
) -> None:
    image = make_image()
    stubbed.labels()
    stubbed.moderation()

    assert detect(owner_client, image).status_code == 200

    image.refresh_from_db()
    assert image.moderation_status == Image.Moderation.FLAGGED
    assert image.moderation_checked_at is not None
    assert image.moderation_labels[0] == {
        "name": "Exposed Male Genitalia",
        "confidence": 92.7,
        "parent": "Explicit",
    }
    assert not image.hidden  # never hidden without a moderator
    assert list(Image.objects.needs_review()) == [image]


@pytest.mark.usefixtures("rekognition_engine")
def test_labels_under_the_threshold_leave_the_photo_clear(
    owner_client: Client, make_image: Callable[..., Image], stubbed: Stubbed, settings: Any
) -> None:
    settings.FINDLABELS_MODERATION_THRESHOLD = 95
    image = make_image()
    stubbed.labels()
    stubbed.moderation()

    detect(owner_client, image)

    image.refresh_from_db()
    assert image.moderation_status == Image.Moderation.CLEAR
    assert len(image.moderation_labels) == 4


@pytest.mark.usefixtures("rekognition_engine")
def test_a_failed_check_leaves_the_photo_not_checked_until_the_next_detect(
    owner_client: Client, make_image: Callable[..., Image], stubbed: Stubbed
) -> None:
    image = make_image()
    stubbed.labels()
    stubbed.moderation()
    detect(owner_client, image)

    stubbed.labels()
    stubbed.fail("detect_moderation_labels", "ThrottlingException")
    response = detect(owner_client, image)

    assert response.status_code == 200
    image.refresh_from_db()
    assert image.labels.filter(name="Person").exists()
    assert image.incomplete == ["moderation"]
    assert image.moderation_status == Image.Moderation.UNCHECKED
    assert image.moderation_labels == []
    assert image.moderation_checked_at is None

    stubbed.labels()
    stubbed.moderation(SAFE)
    detect(owner_client, image)
    image.refresh_from_db()
    assert image.incomplete == []
    assert image.moderation_status == Image.Moderation.CLEAR


@pytest.mark.usefixtures("rekognition_engine")
def test_an_approval_is_remembered_across_detect_again(
    owner_client: Client, make_image: Callable[..., Image], stubbed: Stubbed
) -> None:
    image = make_image()
    Image.objects.filter(pk=image.pk).update(moderation_status=Image.Moderation.APPROVED)
    stubbed.labels()
    stubbed.moderation()

    detect(owner_client, image)

    image.refresh_from_db()
    assert image.moderation_status == Image.Moderation.APPROVED
    assert image.moderation_labels[0]["name"] == "Exposed Male Genitalia"
    assert list(Image.objects.needs_review()) == []
