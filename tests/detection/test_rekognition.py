"""The Rekognition engine: what it sends, how it reads answers, how it fails.

Nothing here reaches the internet. Response parsing and errors use botocore's
Stubber on the one client from ``findlabels.aws.client`` (moto's
detect_labels returns one fixed label whatever the image, so it cannot show
that real response shapes are read right); S3 and the end-to-end runs use
moto's in-process ``mock_aws`` with fake credentials.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import ANY, Stubber
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from moto import mock_aws
from PIL import Image as PILImage
from PIL import JpegImagePlugin

from findlabels import aws
from gallery.detection import (
    PART_TEXT,
    BoundingBox,
    DetectionError,
    DominantColor,
    Instance,
    TextLine,
    get_detector,
)
from gallery.detection import rekognition as engine
from gallery.detection.rekognition import BUSY, MAX_BYTES, UNAVAILABLE, RekognitionDetector
from gallery.models import Image, detect_and_store
from gallery.uploads import store_upload

from ..conftest import make_jpeg, make_png, upload_file

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
BUCKET = "findlabels-test-rekognition"
S3_LOCATION = "media"

# Shaped like the DetectLabels API reference (Features=GENERAL_LABELS and
# IMAGE_PROPERTIES); Stubber also checks it against botocore's model of the
# response.
RESPONSE: dict[str, Any] = {
    "Labels": [
        {
            "Name": "Cat",
            "Confidence": 98.71,
            "Instances": [
                {
                    "BoundingBox": {"Width": 0.52, "Height": 0.61, "Left": 0.11, "Top": 0.23},
                    "Confidence": 97.25,
                    "DominantColors": [
                        {
                            "Red": 120,
                            "Green": 110,
                            "Blue": 90,
                            "HexCode": "786E5A",
                            "CSSColor": "dimgrey",
                            "SimplifiedColor": "grey",
                            "PixelPercent": 40.1,
                        },
                        {
                            "Red": 200,
                            "Green": 120,
                            "Blue": 40,
                            "HexCode": "#C87828",
                            "CSSColor": "peru",
                            "SimplifiedColor": "orange",
                            "PixelPercent": 52.3,
                        },
                        {
                            "Red": 110,
                            "Green": 100,
                            "Blue": 95,
                            "HexCode": "6E645F",
                            "CSSColor": "dimgray",
                            "SimplifiedColor": "grey",
                            "PixelPercent": 7.6,
                        },
                    ],
                }
            ],
            "Parents": [{"Name": "Pet"}, {"Name": "Mammal"}, {"Name": "Animal"}],
            "Aliases": [{"Name": "Kitty"}],
            "Categories": [{"Name": "Animals and Pets"}],
        },
        {
            "Name": "Animal",
            "Confidence": 98.71,
            "Instances": [],
            "Parents": [],
            "Aliases": [],
            "Categories": [{"Name": "Animals and Pets"}],
        },
        {
            "Name": "Couch",
            "Confidence": 61.5,
            "Instances": [
                {
                    "BoundingBox": {"Width": 1.0, "Height": 0.5, "Left": 0.0, "Top": 0.5},
                    "Confidence": 60.0,
                },
                {
                    "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.7, "Top": 0.1},
                    "Confidence": 55.5,
                },
            ],
            "Parents": [{"Name": "Furniture"}],
            "Aliases": [{"Name": "Sofa"}],
            "Categories": [{"Name": "Furniture and Furnishings"}],
        },
    ],
    "LabelModelVersion": "3.0",
    "ImageProperties": {
        "Quality": {"Brightness": 72.4, "Sharpness": 88.9, "Contrast": 61.0},
        "DominantColors": [
            {
                "Red": 140,
                "Green": 100,
                "Blue": 70,
                "HexCode": "8C6446",
                "CSSColor": "sienna",
                "SimplifiedColor": "brown",
                "PixelPercent": 38.5,
            },
            {
                "Red": 240,
                "Green": 240,
                "Blue": 235,
                "HexCode": "F0F0EB",
                "CSSColor": "whitesmoke",
                "SimplifiedColor": "white",
                "PixelPercent": 21.0,
            },
            {
                "Red": 128,
                "Green": 128,
                "Blue": 128,
                "HexCode": "808080",
                "CSSColor": "grey",
                "SimplifiedColor": "grey",
                "PixelPercent": 12.5,
            },
            {
                "Red": 105,
                "Green": 105,
                "Blue": 105,
                "HexCode": "696969",
                "CSSColor": "dimgrey",
                "SimplifiedColor": "grey",
                "PixelPercent": 9.0,
            },
        ],
        "Foreground": {
            "Quality": {"Brightness": 70.0, "Sharpness": 92.0},
            "DominantColors": [],
        },
        "Background": {
            "Quality": {"Brightness": 75.0, "Sharpness": 60.0},
            "DominantColors": [],
        },
    },
}

# Shaped like the DetectText API reference: LINE and WORD detections.
TEXT_RESPONSE: dict[str, Any] = {
    "TextDetections": [
        {
            "DetectedText": "KEEP CALM",
            "Type": "LINE",
            "Id": 0,
            "Confidence": 99.1,
            "Geometry": {
                "BoundingBox": {"Width": 0.4, "Height": 0.08, "Left": 0.3, "Top": 0.1},
                "Polygon": [
                    {"X": 0.3, "Y": 0.1},
                    {"X": 0.7, "Y": 0.1},
                    {"X": 0.7, "Y": 0.18},
                    {"X": 0.3, "Y": 0.18},
                ],
            },
        },
        {
            "DetectedText": "AND CARRY ON",
            "Type": "LINE",
            "Id": 1,
            "Confidence": 97.6,
            "Geometry": {
                "BoundingBox": {"Width": 0.5, "Height": 0.08, "Left": 0.25, "Top": 0.2},
                "Polygon": [],
            },
        },
        {
            "DetectedText": "KEEP",
            "Type": "WORD",
            "Id": 2,
            "ParentId": 0,
            "Confidence": 99.3,
            "Geometry": {
                "BoundingBox": {"Width": 0.18, "Height": 0.08, "Left": 0.3, "Top": 0.1},
                "Polygon": [],
            },
        },
    ],
    "TextModelVersion": "3.0",
}


def detect_params(image: dict[str, Any], min_confidence: float = 50.0) -> dict[str, Any]:
    return {
        "Image": image,
        "MinConfidence": min_confidence,
        "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"],
    }


@dataclass
class StubbedRekognition:
    """The stubbed client and every DetectLabels (and DetectText) request it was asked to make."""

    stubber: Stubber
    requests: list[dict[str, Any]] = field(default_factory=list)
    text_requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, image: Any = ANY, min_confidence: float = 50.0) -> None:
        """DetectLabels answers, then DetectText for the same image."""
        self.stubber.add_response("detect_labels", RESPONSE, detect_params(image, min_confidence))
        self.answer_text(image)

    def answer_text(self, image: Any = ANY) -> None:
        self.stubber.add_response("detect_text", TEXT_RESPONSE, {"Image": image})

    def fail(self, code: str, message: str = "details for the operator") -> None:
        self.stubber.add_client_error(
            "detect_labels",
            service_error_code=code,
            service_message=message,
            http_status_code=500 if code == "InternalServerError" else 400,
            expected_params=detect_params(ANY),
        )

    @property
    def sent(self) -> bytes:
        """The image bytes of the one request made."""
        assert len(self.requests) == 1
        return bytes(self.requests[0]["Image"]["Bytes"])


@pytest.fixture
def aws_credentials(aws_credentials: None, settings: Any) -> Iterator[None]:
    """The suite's fake credentials, plus a region and a fresh client for every test."""
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = None
    settings.FINDLABELS_REKOGNITION_MIN_CONFIDENCE = 50
    # These tests are about DetectLabels; the moderation call that follows it
    # has its own (test_rekognition_moderation.py).
    settings.FINDLABELS_MODERATION = False
    aws.client.cache_clear()
    get_detector.cache_clear()
    yield
    aws.client.cache_clear()
    get_detector.cache_clear()


@pytest.fixture
def rekognition(aws_credentials: None) -> Iterator[StubbedRekognition]:
    client = aws.client("rekognition")
    stubbed = StubbedRekognition(Stubber(client))

    def record(params: dict[str, Any], **_: Any) -> None:
        stubbed.requests.append(params)

    def record_text(params: dict[str, Any], **_: Any) -> None:
        stubbed.text_requests.append(params)

    client.meta.events.register("before-parameter-build.rekognition.DetectLabels", record)
    client.meta.events.register("before-parameter-build.rekognition.DetectText", record_text)
    with stubbed.stubber:
        yield stubbed
        # Every answer queued was asked for: no call was skipped.
        stubbed.stubber.assert_no_pending_responses()


@pytest.fixture
def detector(rekognition: StubbedRekognition) -> RekognitionDetector:
    return RekognitionDetector.from_settings()


@pytest.fixture
def s3(settings: Any, aws_credentials: None) -> Iterator[Any]:
    """S3 media storage (with a key prefix) in moto's in-process S3."""
    with mock_aws():
        s3_client = boto3.client("s3", region_name=REGION)
        s3_client.create_bucket(Bucket=BUCKET)
        storage = aws.s3_storage(BUCKET, REGION, None, 300, aws.botocore_config(5, 30, 3))
        storage["OPTIONS"]["location"] = S3_LOCATION
        settings.FINDLABELS_STORAGE = "s3"
        settings.AWS_STORAGE_BUCKET_NAME = BUCKET
        settings.STORAGES = {**settings.STORAGES, "default": storage}
        aws.client.cache_clear()
        yield s3_client
        aws.client.cache_clear()


def encoded(img: PILImage.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def noise(size: tuple[int, int]) -> PILImage.Image:
    """Pixels that do not compress: the worst case for fitting under 5 MB."""
    return PILImage.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def opened(data: bytes) -> PILImage.Image:
    img = PILImage.open(io.BytesIO(data))
    img.load()
    return img


# -- reading the answer --------------------------------------------------------------


def test_it_maps_every_part_of_a_detect_labels_answer(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    data = make_jpeg()
    rekognition.answer({"Bytes": data})

    detection = detector.detect(data)

    assert detection.engine == "rekognition"
    assert detection.model_version == "3.0"
    cat, animal, couch = detection.labels
    assert cat.name == "Cat"
    assert cat.confidence == pytest.approx(98.71)
    assert cat.parents == ("Pet", "Mammal", "Animal")
    assert cat.aliases == ("Kitty",)
    assert cat.categories == ("Animals and Pets",)
    assert cat.instances == (
        Instance(BoundingBox(0.11, 0.23, 0.52, 0.61), 97.25, colors=("orange", "gray")),
    )
    assert animal.parents == ()
    assert animal.instances == ()
    assert [i.bounding_box.left for i in couch.instances] == [0.0, 0.7]
    assert couch.aliases == ("Sofa",)


def test_it_reads_the_photos_colours_and_quality(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.answer()

    properties = detector.detect(make_jpeg()).properties

    assert properties is not None
    assert (properties.brightness, properties.sharpness) == (72.4, 88.9)
    # Two CSS greys are one simplified "gray", their shares added.
    assert properties.colors == (
        DominantColor("brown", "#8c6446", 38.5),
        DominantColor("white", "#f0f0eb", 21.0),
        DominantColor("gray", "#808080", 21.5),
    )


def test_a_colour_code_that_is_not_hex_is_rebuilt_from_its_channels() -> None:
    properties = engine.properties_from_response(
        {
            "DominantColors": [
                {
                    "Red": 300,
                    "Green": 16,
                    "Blue": 0,
                    "HexCode": "red;background:url(x)",
                    "SimplifiedColor": "Red",
                    "PixelPercent": 50.0,
                }
            ]
        }
    )

    assert properties is not None
    assert properties.colors == (DominantColor("red", "#ff1000", 50.0),)
    assert (properties.brightness, properties.sharpness) == (None, None)


def test_each_box_gets_its_simplified_colours_largest_first(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.answer()

    cat, _, couch = detector.detect(make_jpeg()).labels

    assert cat.instances[0].colors == ("orange", "gray")
    assert couch.instances[0].colors == ()


def test_it_reads_the_lines_of_text_in_the_same_press(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    data = make_jpeg()
    rekognition.answer({"Bytes": data})

    detection = detector.detect(data)

    assert detection.text == (
        TextLine("KEEP CALM", 99.1, BoundingBox(0.3, 0.1, 0.4, 0.08)),
        TextLine("AND CARRY ON", 97.6, BoundingBox(0.25, 0.2, 0.5, 0.08)),
    )
    assert detection.incomplete == ()
    assert rekognition.text_requests == [{"Image": {"Bytes": data}}]


def test_one_detect_is_one_call_for_labels_and_one_for_text(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.answer()
    detector.detect(make_jpeg())
    assert len(rekognition.requests) == 1
    assert len(rekognition.text_requests) == 1


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_labels_are_kept_when_only_the_text_fails(
    code: str,
    detector: RekognitionDetector,
    rekognition: StubbedRekognition,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rekognition.stubber.add_response("detect_labels", RESPONSE, detect_params(ANY))
    rekognition.stubber.add_client_error(
        "detect_text", service_error_code=code, service_message="details for the operator"
    )

    detection = detector.detect(make_jpeg())

    assert [label.name for label in detection.labels] == ["Cat", "Animal", "Couch"]
    assert detection.properties is not None
    assert detection.text == ()
    assert detection.incomplete == (PART_TEXT,)
    assert code in caplog.text


def test_unreachable_text_keeps_the_labels_too(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    # Nothing queued for DetectText: the stubbed client fails as botocore does.
    rekognition.stubber.add_response("detect_labels", RESPONSE, detect_params(ANY))

    detection = detector.detect(make_jpeg())

    assert len(detection.labels) == 3
    assert detection.incomplete == (PART_TEXT,)


def test_an_answer_without_properties_or_text_is_read(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.stubber.add_response("detect_labels", {"Labels": [], "LabelModelVersion": "3.0"})
    rekognition.stubber.add_response("detect_text", {"TextDetections": []})

    detection = detector.detect(make_jpeg())

    assert (detection.properties, detection.text, detection.incomplete) == (None, (), ())


def test_it_asks_for_the_configured_minimum_confidence(
    settings: Any, rekognition: StubbedRekognition
) -> None:
    settings.FINDLABELS_REKOGNITION_MIN_CONFIDENCE = 70
    rekognition.answer(min_confidence=70.0)
    RekognitionDetector.from_settings().detect(make_jpeg())
    assert rekognition.requests[0]["MinConfidence"] == 70.0


def test_an_answer_without_labels_is_an_empty_detection(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.stubber.add_response("detect_labels", {"Labels": [], "LabelModelVersion": "3.0"})
    rekognition.answer_text()
    detection = detector.detect(make_jpeg())
    assert detection.labels == ()
    assert detection.model_version == "3.0"


# -- errors --------------------------------------------------------------------------

PHOTO_ERRORS = [
    ("InvalidImageFormatException", "Amazon Rekognition could not read this photo"),
    ("ImageTooLargeException", "This photo is too large for Amazon Rekognition"),
    ("InvalidS3ObjectException", "Amazon Rekognition could not read the stored photo."),
    ("InvalidParameterException", "a photo must be at least 80 px on each side"),
]
# Rekognition's documented "try again" errors, listed here and not read from
# the module, so that dropping one from BUSY_ERRORS fails a test.
BUSY_CODES = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "InternalServerError",
    "ServiceUnavailableException",
]


@pytest.mark.parametrize(("code", "message"), PHOTO_ERRORS)
def test_an_error_about_the_photo_is_permanent(
    code: str, message: str, detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.fail(code)
    with pytest.raises(DetectionError) as caught:
        detector.detect(make_jpeg())
    assert message in caught.value.message
    assert "details for the operator" not in caught.value.message
    assert caught.value.permanent is True
    assert len(rekognition.requests) == 1


@pytest.mark.parametrize("code", BUSY_CODES)
def test_a_busy_service_asks_to_try_again(
    code: str, detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    rekognition.fail(code)
    with pytest.raises(DetectionError) as caught:
        detector.detect(make_jpeg())
    assert caught.value.message == "Amazon Rekognition is busy; try again in a minute."
    assert caught.value.permanent is False


def test_access_denied_is_logged_for_the_operator_and_generic_for_the_person(
    detector: RekognitionDetector,
    rekognition: StubbedRekognition,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rekognition.fail("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/web is not ...")
    with (
        caplog.at_level(logging.ERROR, logger=engine.__name__),
        pytest.raises(DetectionError) as caught,
    ):
        detector.detect(make_jpeg())
    assert caught.value.message == "Label detection is not available right now."
    assert caught.value.permanent is False
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "AccessDeniedException" in logged[0].getMessage()
    assert "assumed-role/web" in logged[0].getMessage()


def test_an_unknown_error_code_is_logged_and_generic(
    detector: RekognitionDetector,
    rekognition: StubbedRekognition,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rekognition.fail("SomethingNewException", "a new failure")
    with (
        caplog.at_level(logging.ERROR, logger=engine.__name__),
        pytest.raises(DetectionError) as caught,
    ):
        detector.detect(make_jpeg())
    assert caught.value.message == UNAVAILABLE
    assert caught.value.permanent is False
    assert "SomethingNewException: a new failure" in caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        ReadTimeoutError(endpoint_url="https://rekognition.us-east-1.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://rekognition.us-east-1.amazonaws.com/"),
        EndpointConnectionError(endpoint_url="https://rekognition.us-east-1.amazonaws.com/"),
        ConnectionClosedError(endpoint_url="https://rekognition.us-east-1.amazonaws.com/"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_network_failures_are_retried_a_bounded_number_of_times_then_busy(
    failure: Exception,
    settings: Any,
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.AWS_MAX_ATTEMPTS = 2
    # botocore backs off between attempts; the test need not wait for it.
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)
    attempts: list[str] = []

    def network_down(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise failure

    # before-send is the last step before the socket: the client's own retry
    # handling sees the failure exactly as from a real network, and no
    # request can leave the machine.
    client = aws.client("rekognition")
    client.meta.events.register("before-send.rekognition.DetectLabels", network_down)
    with pytest.raises(DetectionError) as caught:
        RekognitionDetector.from_settings().detect(make_jpeg())
    assert caught.value.message == BUSY
    assert caught.value.permanent is False
    # Retried, and only as often as findlabels.aws configured: botocore's
    # "max_attempts" counts retries, its "total_max_attempts" every attempt.
    retries = client.meta.config.retries
    allowed = retries.get("total_max_attempts") or retries["max_attempts"] + 1
    assert 1 < len(attempts) == allowed <= settings.AWS_MAX_ATTEMPTS + 1


def test_a_missing_region_is_an_operator_problem_not_a_crash(
    settings: Any, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.AWS_REGION = None
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    aws.client.cache_clear()
    with pytest.raises(DetectionError) as caught:
        RekognitionDetector.from_settings().detect(make_jpeg())
    assert caught.value.message == UNAVAILABLE


def test_no_other_exception_ever_escapes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def detect_labels(self, **params: Any) -> Any:
            raise RuntimeError("a bug in a dependency")

    monkeypatch.setattr(engine, "client", lambda service: Broken())
    with pytest.raises(DetectionError) as caught:
        RekognitionDetector().detect(make_jpeg())
    assert caught.value.message == UNAVAILABLE
    assert "a bug in a dependency" in caplog.text


# -- what is sent --------------------------------------------------------------------


def test_a_small_png_is_sent_as_it_is(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    data = make_png((200, 150), mode="RGB")
    rekognition.answer({"Bytes": data})
    detector.detect(data)


@pytest.mark.parametrize("size", [(79, 400), (400, 60)])
def test_it_rejects_photos_under_80_px_without_calling_rekognition(
    size: tuple[int, int], detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    with pytest.raises(DetectionError) as caught:
        detector.detect(make_jpeg(size))
    assert "too small for Rekognition, at least 80 px" in caught.value.message
    assert caught.value.permanent is True
    assert rekognition.requests == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"%PDF-1.7 not a photo", "This file is not an image"),
        (make_jpeg()[:200], "damaged"),
    ],
    ids=["empty", "pdf", "truncated-header"],
)
def test_it_rejects_files_that_are_not_images(
    data: bytes, message: str, detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    with pytest.raises(DetectionError) as caught:
        detector.detect(data)
    assert message in caught.value.message
    assert caught.value.permanent is True
    assert rekognition.requests == []


def test_webp_is_converted_to_an_upright_jpeg(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored on its side: shown a quarter turn clockwise
    data = encoded(PILImage.new("RGB", (300, 200), (10, 200, 30)), "WEBP", exif=exif.tobytes())
    rekognition.answer()

    detector.detect(data)

    sent = opened(rekognition.sent)
    assert sent.format == "JPEG"
    assert sent.size == (200, 300)
    assert sent.getexif().get(0x0112) is None


def test_heic_is_converted_to_jpeg(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    data = encoded(PILImage.new("RGB", (320, 240), (200, 30, 30)), "HEIF")
    rekognition.answer()
    detector.detect(data)
    assert opened(rekognition.sent).format == "JPEG"


def test_a_transparent_png_over_5_mb_is_flattened_into_a_jpeg(
    detector: RekognitionDetector, rekognition: StubbedRekognition
) -> None:
    img = noise((1400, 1400)).convert("RGBA")
    img.putalpha(128)
    data = encoded(img, "PNG")
    assert len(data) > MAX_BYTES
    rekognition.answer()

    detector.detect(data)

    sent = opened(rekognition.sent)
    assert (sent.format, sent.mode, sent.size) == ("JPEG", "RGB", (1400, 1400))
    assert len(rekognition.sent) < MAX_BYTES


def test_a_jpeg_over_5_mb_is_decoded_in_draft_mode_and_shrunk_below_5_mb(
    detector: RekognitionDetector,
    rekognition: StubbedRekognition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encoded(noise((2600, 2200)), "JPEG", quality=95)
    assert len(data) > MAX_BYTES
    drafts: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: str | None, size: tuple[int, int] | None) -> Any:
        drafts.append(size or (0, 0))
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    rekognition.answer()

    detector.detect(data)

    assert drafts == [(2600, 2200)]  # already within 4096 px: no reduction asked
    sent = opened(rekognition.sent)
    assert sent.format == "JPEG"
    assert len(rekognition.sent) <= engine.TARGET_BYTES
    assert max(sent.size) <= 4096


def test_downscaling_keeps_a_long_panorama_at_80_px_high() -> None:
    assert engine._fit((40_000, 100), 4096) == (32_000, 80)
    assert engine._fit((8000, 6000), 4096) == (4096, 3072)
    assert engine._fit((640, 480), 4096) == (640, 480)


# -- stored photos -------------------------------------------------------------------


def test_a_stored_s3_jpeg_is_read_by_rekognition_in_place(
    s3: Any,
    make_image: Callable[..., Image],
    rekognition: StubbedRekognition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = make_image()
    key = f"{S3_LOCATION}/{image.original.name}"
    s3.head_object(Bucket=BUCKET, Key=key)  # the key the storage really wrote
    rekognition.answer({"S3Object": {"Bucket": BUCKET, "Name": key}})
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)

    labels = detect_and_store(image)

    assert [label.name for label in labels] == ["Cat", "Animal", "Couch"]


def test_a_stored_s3_photo_over_15_mb_is_sent_as_bytes(
    s3: Any,
    make_image: Callable[..., Image],
    rekognition: StubbedRekognition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = make_image()
    assert (
        RekognitionDetector().detect_stored(str(image.original.name), 15 * 1024 * 1024 + 1) is None
    )

    image.size_bytes = 16 * 1024 * 1024
    with default_storage.open(str(image.original.name), "rb") as stored:
        rekognition.answer({"Bytes": stored.read()})
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)

    detect_and_store(image)


def test_a_stored_s3_webp_is_sent_as_jpeg_bytes(
    s3: Any, owner: Any, rekognition: StubbedRekognition, monkeypatch: pytest.MonkeyPatch
) -> None:
    webp = encoded(PILImage.new("RGB", (300, 200), (10, 200, 30)), "WEBP")
    image = store_upload(owner, upload_file("leaf.webp", webp, "image/webp"))
    rekognition.answer()
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)

    detect_and_store(image)

    assert opened(rekognition.sent).format == "JPEG"


def test_local_storage_is_never_named_to_rekognition(
    make_image: Callable[..., Image], detector: RekognitionDetector
) -> None:
    image = make_image()
    assert detector.detect_stored(str(image.original.name), image.size_bytes) is None


# -- through the view ----------------------------------------------------------------


@pytest.fixture
def rekognition_engine(rekognition: StubbedRekognition, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)


def detect_url(image: Image) -> str:
    return reverse("gallery:detect", args=[image.pk])


@pytest.mark.usefixtures("rekognition_engine")
def test_detect_stores_rekognition_labels(
    owner_client: Client, make_image: Callable[..., Image], rekognition: StubbedRekognition
) -> None:
    image = make_image()
    rekognition.answer()

    response = owner_client.post(detect_url(image))

    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.engine, image.model_version) == ("rekognition", "3.0")
    cat = image.labels.get(name="Cat")
    assert cat.parents == ["Pet", "Mammal", "Animal"]
    assert cat.aliases == ["Kitty"]
    assert cat.categories == ["Animals and Pets"]
    assert cat.instances == [
        {
            "left": 0.11,
            "top": 0.23,
            "width": 0.52,
            "height": 0.61,
            "confidence": 97.25,
            "colors": ["orange", "gray"],
        }
    ]
    assert [line["text"] for line in image.text] == ["KEEP CALM", "AND CARRY ON"]
    assert image.properties["brightness"] == 72.4
    assert image.properties["colors"][0] == {
        "name": "brown",
        "hex": "#8c6446",
        "pixel_percent": 38.5,
    }
    assert image.incomplete == []


@pytest.mark.usefixtures("rekognition_engine")
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ThrottlingException", BUSY),
        ("InvalidImageFormatException", "Amazon Rekognition could not read this photo"),
        ("AccessDeniedException", UNAVAILABLE),
    ],
)
def test_a_rekognition_error_becomes_a_message_not_a_500(
    code: str,
    message: str,
    owner_client: Client,
    make_image: Callable[..., Image],
    rekognition: StubbedRekognition,
) -> None:
    image = make_image()
    rekognition.fail(code)

    response = owner_client.post(detect_url(image), follow=True)

    assert response.status_code == 200
    assert f"Labels could not be found: {message}".encode() in response.content
    assert image.labels.count() == 0


# -- against moto, without Stubber ---------------------------------------------------


def test_the_real_client_call_path_works_against_moto(
    s3: Any, settings: Any, owner_client: Client, make_image: Callable[..., Image]
) -> None:
    # moto answers every DetectLabels with one fixed "Mobile Phone" label.
    settings.FINDLABELS_DETECTOR = "rekognition"
    get_detector.cache_clear()
    image = make_image()

    response = owner_client.post(detect_url(image))

    assert response.status_code == 302
    image.refresh_from_db()
    assert image.engine == "rekognition"
    label = image.labels.get()
    assert (label.name, label.parents, label.aliases) == ("Mobile Phone", ["Phone"], ["Cell Phone"])
    assert label.instances[0]["width"] == pytest.approx(0.2678, abs=1e-3)


def test_bytes_reach_moto_too(aws_credentials: None) -> None:
    with mock_aws():
        detection = RekognitionDetector.from_settings().detect(make_jpeg())
    assert [label.name for label in detection.labels] == ["Mobile Phone"]
    # moto's DetectText answers fixed lines; they come through the real client.
    assert detection.text
    assert detection.incomplete == ()


# -- labels the person muted ------------------------------------------------------


def test_muted_labels_are_sent_as_label_exclusion_filters_and_unmuting_asks_again(
    make_image: Callable[..., Image],
    rekognition: StubbedRekognition,
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
) -> None:
    from gallery.models import mute_label, unmute_label

    image = make_image()
    monkeypatch.setattr("gallery.models.get_detector", RekognitionDetector.from_settings)
    mute_label(owner, "Couch")
    mute_label(owner, "Animal")
    excluded = {
        **detect_params(ANY),
        "Settings": {"GeneralLabels": {"LabelExclusionFilters": ["Animal", "Couch"]}},
    }
    rekognition.stubber.add_response("detect_labels", RESPONSE, excluded)
    rekognition.answer_text()
    detect_and_store(image)
    assert "Couch" not in {label.name for label in image.labels.shown()}

    unmute_label(owner, "Couch")
    unmute_label(owner, "Animal")
    rekognition.answer()  # no Settings at all: every label is asked for again
    detect_and_store(image)
    assert "Couch" in {label.name for label in image.labels.shown()}
