"""Amazon Rekognition ``DetectLabels`` and ``DetectText`` behind the detection interface.

One Detect press asks ``DetectLabels`` for labels and image properties
(dominant colours, brightness, sharpness; colours of each object's box), then
``DetectText`` for the lines of text. The labels decide success: when they
fail the press fails; when only the text fails, the labels are kept and the
detection says its text was not read (``PART_TEXT``).

Rekognition takes a JPEG or PNG, either named in S3 (up to 15 MB) or sent as
bytes (up to 5 MB), at least 80 pixels on each side. A stored JPEG or PNG in
the app's own bucket is named, so the photo never travels through the web
server; everything else is sent as bytes, re-encoded as JPEG first when it is
too large or in a format Rekognition does not read (WebP, HEIC...).

Every call goes through :func:`findlabels.aws.client`, which sets timeouts
and botocore's bounded "standard" retries; whatever still fails becomes a
:class:`DetectionError` with words for the person, and the details go to the
log for the operator.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from PIL import Image, ImageOps

from findlabels.aws import client

from ..imaging import DECODE_ERRORS
from .preprocess import readable_formats
from .types import (
    PART_MODERATION,
    PART_TEXT,
    BoundingBox,
    Detection,
    DetectionError,
    DominantColor,
    ImageProperties,
    Instance,
    Label,
    Moderation,
    ModerationLabel,
    TextLine,
)

logger = logging.getLogger(__name__)

ENGINE = "rekognition"

# Labels, plus the photo's colours and quality and each object's colours.
FEATURES = ["GENERAL_LABELS", "IMAGE_PROPERTIES"]
# Rekognition's SimplifiedColor names, where ours differ (properties.COLOR_NAMES).
SIMPLIFIED_COLORS = {"grey": "gray"}
MAX_INSTANCE_COLORS = 3

# DetectLabels' limits (botocore's model caps ImageBlob at 5242880 bytes).
MAX_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE = 80

# Re-encoded photos aim well below MAX_BYTES: a margin costs no visible
# detail, and a request near the limit is the one most likely to be refused.
TARGET_BYTES = 4 * 1024 * 1024
# Tried in order until one fits TARGET_BYTES. Photos fit at the first step;
# only noise-like pictures need the later ones. 4096 px is already more than
# Rekognition looks at.
ENCODINGS = tuple(
    (side, quality) for side in (4096, 3072, 2048, 1536, 1024) for quality in (90, 80)
)

# Formats Rekognition reads as they are. MPO (the multi-picture JPEG of many
# phone cameras) starts with an ordinary JPEG, which is what a decoder sees.
SENT_AS_IS = ("JPEG", "MPO", "PNG")
# What Rekognition can read straight from S3, judged by the name the upload
# path gives a stored original (original.jpg, original.png...).
S3_SUFFIXES = (".jpg", ".jpeg", ".png")

BUSY = "Amazon Rekognition is busy; try again in a minute."
UNAVAILABLE = "Label detection is not available right now."

# Error codes about the photo itself: trying the same photo again cannot help.
PERMANENT_ERRORS = {
    "InvalidImageFormatException": (
        "Amazon Rekognition could not read this photo; the file may be damaged "
        "or in a format it does not take (it reads JPEG and PNG)."
    ),
    "ImageTooLargeException": (
        "This photo is too large for Amazon Rekognition "
        "(at most 5 MB sent directly, 15 MB from storage)."
    ),
    "InvalidS3ObjectException": "Amazon Rekognition could not read the stored photo.",
    "InvalidParameterException": (
        "Amazon Rekognition could not use this photo; a photo must be at least "
        f"{MIN_SIDE} px on each side."
    ),
}
# Error codes that say "not now": the same request can succeed later.
BUSY_ERRORS = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "InternalServerError",
    "ServiceUnavailableException",
}
# Codes that mean the deployment is wrong (role, bucket region), not the photo.
OPERATOR_ERRORS = {"AccessDeniedException", "InvalidS3ObjectException"}


_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    *DECODE_ERRORS,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class RekognitionDetector:
    """Labels, properties and text for one photo: DetectLabels, then DetectText."""

    name = ENGINE

    def __init__(self, *, min_confidence: float = 50.0, moderation: bool = True) -> None:
        self.min_confidence = min_confidence
        # DetectModerationLabels in the same Detect press: one more billed call.
        self.moderation = moderation

    @classmethod
    def from_settings(cls) -> RekognitionDetector:
        return cls(
            min_confidence=float(settings.FINDLABELS_REKOGNITION_MIN_CONFIDENCE),
            moderation=bool(getattr(settings, "FINDLABELS_MODERATION", True)),
        )

    def detect(
        self, data: bytes, *, storage_name: str | None = None, exclude: Sequence[str] = ()
    ) -> Detection:
        """Labels for an encoded image sent as bytes; ``storage_name`` is not needed.

        (A stored photo Rekognition can read in place goes through
        :meth:`detect_stored` first.)
        """
        image = {"Bytes": image_bytes_for_rekognition(data)}
        return self._with_moderation(self._detect_labels(image, exclude), image)

    def detect_stored(
        self, storage_name: str, size: int, exclude: Sequence[str] = ()
    ) -> Detection | None:
        """Labels for a photo in the app's S3 bucket, read by Rekognition itself.

        Returns None when Rekognition cannot read it in place (not S3, larger
        than 15 MB, not JPEG or PNG); the caller then passes the bytes.
        """
        if settings.FINDLABELS_STORAGE != "s3" or size > MAX_S3_BYTES:
            return None
        if not storage_name.lower().endswith(S3_SUFFIXES):
            return None
        location = s3_location(storage_name)
        if location is None:
            return None
        bucket, key = location
        image = {"S3Object": {"Bucket": bucket, "Name": key}}
        return self._with_moderation(self._detect_labels(image, exclude), image)

    def _with_moderation(self, detection: Detection, image: dict[str, Any]) -> Detection:
        """``detection`` with the moderation check of the same image added.

        Asked only once the labels succeeded; if the check fails, the labels
        are kept and the detection says its moderation part is missing.
        """
        if not self.moderation:
            return detection
        moderation = detect_moderation_labels(image, self.min_confidence)
        if moderation is None:
            return replace(detection, incomplete=(*detection.incomplete, PART_MODERATION))
        return replace(detection, moderation=moderation)

    def _detect_labels(self, image: dict[str, Any], exclude: Sequence[str]) -> Detection:
        return with_text(self._labels(image, exclude), image)

    def _labels(self, image: dict[str, Any], exclude: Sequence[str]) -> Detection:
        # Labels the person muted are not asked for (Rekognition takes up to 100,
        # as many as a person may mute), so one unmuted comes back on the next Detect.
        settings_ = (
            {"Settings": {"GeneralLabels": {"LabelExclusionFilters": list(exclude)[:100]}}}
            if exclude
            else {}
        )
        try:
            response = client("rekognition").detect_labels(
                Image=image,
                MinConfidence=self.min_confidence,
                Features=FEATURES,
                **settings_,
            )
            return detection_from_response(response)
        except ClientError as exc:
            raise error_for_client_error(exc) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            # Timeouts and dropped connections, after botocore's own retries.
            logger.warning("Rekognition DetectLabels could not be reached: %s", exc)
            raise DetectionError(BUSY, permanent=False) from exc
        except BotoCoreError as exc:
            # No credentials, no region, a request botocore refuses: the
            # operator's to fix, and nothing the person did.
            logger.error("Rekognition DetectLabels failed: %s: %s", type(exc).__name__, exc)
            raise DetectionError(UNAVAILABLE, permanent=False) from exc
        except Exception as exc:
            # The contract is "only DetectionError escapes"; anything else
            # (an odd response shape) is logged in full, never a 500.
            logger.exception("Rekognition DetectLabels failed unexpectedly")
            raise DetectionError(UNAVAILABLE, permanent=False) from exc


def detect_moderation_labels(image: dict[str, Any], min_confidence: float) -> Moderation | None:
    """Rekognition's ``DetectModerationLabels`` for an image; None if it failed.

    Same client, timeouts and retries as DetectLabels. A failure is never
    the person's to see (their labels are stored all the same); the log says
    why, at error level when the operator must act (a role without
    ``rekognition:DetectModerationLabels``, say).
    """
    try:
        response = client("rekognition").detect_moderation_labels(
            Image=image, MinConfidence=min_confidence
        )
        return moderation_from_response(response)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
        level = logging.WARNING if code in BUSY_ERRORS else logging.ERROR
        logger.log(
            level,
            "Rekognition DetectModerationLabels failed: %s: %s (request %s)",
            code,
            error.get("Message", ""),
            request_id,
        )
    except (BotoConnectionError, HTTPClientError) as exc:
        logger.warning("Rekognition DetectModerationLabels could not be reached: %s", exc)
    except BotoCoreError as exc:
        logger.error("Rekognition DetectModerationLabels failed: %s: %s", type(exc).__name__, exc)
    except Exception:
        # An odd response shape: logged in full; the labels still stand.
        logger.exception("Rekognition DetectModerationLabels failed unexpectedly")
    return None


def moderation_from_response(response: Mapping[str, Any]) -> Moderation:
    """Our result type from a DetectModerationLabels response.

    Each label's ``parent`` is its top-level category ("Explicit" for
    "Exposed Male Genitalia"): Rekognition names only the direct parent,
    and the rest of the chain is in the same answer.
    """
    raw_labels = [raw for raw in response.get("ModerationLabels", ()) if raw.get("Name")]
    direct = {str(raw["Name"]): str(raw.get("ParentName") or "") for raw in raw_labels}

    def top_level(name: str) -> str:
        parent, seen = direct.get(name, ""), {name}
        while direct.get(parent) and parent not in seen:
            seen.add(parent)
            parent = direct[parent]
        return parent

    labels = tuple(
        ModerationLabel(
            str(raw["Name"]), float(raw.get("Confidence", 0.0)), top_level(str(raw["Name"]))
        )
        for raw in raw_labels
    )
    return Moderation(labels, str(response.get("ModerationModelVersion") or "unknown"))


def with_text(detection: Detection, image: dict[str, Any]) -> Detection:
    """``detection`` with the lines DetectText reads in the same image.

    Called once the labels are in: a failure here costs the text only, which
    the detection then lists as incomplete, so the person can try again.
    """
    try:
        response = client("rekognition").detect_text(Image=image)
        lines = text_from_response(response)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        logger.warning(
            "Rekognition DetectText failed, labels kept: %s: %s",
            error.get("Code", ""),
            error.get("Message", ""),
        )
    except BotoCoreError as exc:
        logger.warning("Rekognition DetectText failed, labels kept: %s: %s",
                       type(exc).__name__, exc)  # fmt: skip
    except (KeyError, TypeError, ValueError):
        logger.exception("Rekognition DetectText answered in a shape we cannot read")
    else:
        return replace(detection, text=lines)
    return replace(detection, incomplete=(*detection.incomplete, PART_TEXT))


def text_from_response(response: Mapping[str, Any]) -> tuple[TextLine, ...]:
    """The LINE detections of a DetectText answer, in the order given (reading order)."""
    return tuple(
        TextLine(
            text=str(raw["DetectedText"]),
            confidence=float(raw.get("Confidence", 0.0)),
            bounding_box=_box(raw.get("Geometry", {}).get("BoundingBox", {})),
        )
        for raw in response.get("TextDetections", ())
        if raw.get("Type") == "LINE" and str(raw.get("DetectedText", "")).strip()
    )


def properties_from_response(raw: Mapping[str, Any] | None) -> ImageProperties | None:
    """Our ImageProperties from DetectLabels' ``ImageProperties`` (whole photo).

    Rekognition may name several CSS colours that simplify to one name; they
    become one colour with their shares added and the hex of the largest.
    """
    if not raw:
        return None
    quality = raw.get("Quality") or {}
    by_name: dict[str, DominantColor] = {}
    for color in sorted(
        raw.get("DominantColors", ()), key=lambda c: -float(c.get("PixelPercent", 0.0))
    ):
        name = _simplified(color)
        if not name:
            continue
        percent = float(color.get("PixelPercent", 0.0))
        known = by_name.get(name)
        if known is None:
            by_name[name] = DominantColor(name, _hex(color), percent)
        else:
            by_name[name] = replace(known, pixel_percent=known.pixel_percent + percent)
    return ImageProperties(
        colors=tuple(by_name.values()),
        brightness=_optional_float(quality.get("Brightness")),
        sharpness=_optional_float(quality.get("Sharpness")),
    )


def _simplified(color: Mapping[str, Any]) -> str:
    name = str(color.get("SimplifiedColor") or "").strip().lower()
    return SIMPLIFIED_COLORS.get(name, name)


def _hex(color: Mapping[str, Any]) -> str:
    # The page paints swatches with it: only ever "#" and six hex digits.
    code = str(color.get("HexCode") or "").strip().lstrip("#").lower()
    if re.fullmatch(r"[0-9a-f]{6}", code):
        return f"#{code}"
    red, green, blue = (
        max(0, min(255, int(color.get(channel, 0)))) for channel in ("Red", "Green", "Blue")
    )
    return f"#{red:02x}{green:02x}{blue:02x}"


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _instance_colors(raw: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for color in sorted(
        raw.get("DominantColors", ()), key=lambda c: -float(c.get("PixelPercent", 0.0))
    ):
        name = _simplified(color)
        if name and name not in names:
            names.append(name)
    return tuple(names[:MAX_INSTANCE_COLORS])


def s3_location(storage_name: str) -> tuple[str, str] | None:
    """(bucket, key) of a name in the default storage, or None if it is not S3.

    The key is computed by the storage itself, so a ``location`` prefix set
    on S3Storage is honoured exactly as when the file was written.
    """
    from django.core.files.storage import storages
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name

    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        return None
    try:
        key = storage._normalize_name(clean_name(storage_name))
    except SuspiciousOperation as exc:
        # A name outside the storage's location came from somewhere other
        # than the upload path; it is not read.
        logger.error("Refusing stored name outside the S3 location: %r", storage_name)
        raise DetectionError("The stored photo could not be found.") from exc
    return str(storage.bucket_name), str(key)


def image_bytes_for_rekognition(data: bytes) -> bytes:
    """``data`` itself when Rekognition takes it, else an upright JPEG that fits.

    Raises :class:`DetectionError` (permanent) for empty files, files that
    are not images, and images under 80 px on a side.
    """
    if not data:
        raise DetectionError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # The same short list of photo formats the on-box engine opens:
            # each extra parser is attack surface.
            with Image.open(io.BytesIO(data), formats=readable_formats()) as img:
                _check_size(img)
                if img.format in SENT_AS_IS and len(data) <= MAX_BYTES:
                    return data
                return _reencode(img)
    except DetectionError:
        raise
    except Image.UnidentifiedImageError:
        raise DetectionError(
            "This file is not an image Amazon Rekognition can use "
            "(JPEG, PNG, WebP, HEIC and other common photo formats are)."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DetectionError("This image has too many pixels to process.") from None
    except _DECODE_ERRORS as exc:
        raise DetectionError(f"This image file is damaged and cannot be read ({exc}).") from None


def _check_size(img: Image.Image) -> None:
    width, height = img.size
    if min(width, height) < MIN_SIDE:
        raise DetectionError(
            f"This photo is {width}x{height} pixels, too small for Rekognition, "
            f"at least {MIN_SIDE} px on each side."
        )


def _check_pixels(img: Image.Image) -> None:
    width, height = img.size
    # Decoding is where a huge picture costs memory; the upload limit applies.
    max_pixels = int(getattr(settings, "FINDLABELS_MAX_PIXELS", 50_000_000))
    if width * height > max_pixels:
        raise DetectionError(
            f"This photo is {width}x{height} pixels; the limit is "
            f"{max_pixels / 1e6:.0f} megapixels."
        )


def _reencode(img: Image.Image) -> bytes:
    """Decode once (draft mode for JPEG), turn upright, then shrink until it fits."""
    _check_pixels(img)
    first_side = ENCODINGS[0][0]
    if img.format in ("JPEG", "MPO"):
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: a 50 MP photo is
        # never decoded in full to be sent at 4096 px.
        img.draft("RGB", _fit(img.size, first_side))
    img.load()
    # Bytes sent carry no EXIF, so the pixels themselves must be upright for
    # Rekognition's boxes to match the photo as the gallery shows it.
    upright = ImageOps.exif_transpose(img)
    rgb = _to_rgb(upright)
    for side, quality in ENCODINGS:
        size = _fit(rgb.size, side)
        scaled = rgb if size == rgb.size else rgb.resize(size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        scaled.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= TARGET_BYTES:
            return out.getvalue()
    raise DetectionError("This photo could not be made small enough for Amazon Rekognition.")


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled down to ``max_side`` on its long side, keeping MIN_SIDE on its short."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    # A long panorama must not shrink below what Rekognition accepts.
    scale = max(scale, min(1.0, MIN_SIDE / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        # Transparent pixels hold arbitrary colours; show them on white, as
        # the gallery does.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def detection_from_response(response: Mapping[str, Any]) -> Detection:
    """Our result types from a DetectLabels response (GENERAL_LABELS, IMAGE_PROPERTIES)."""
    labels = tuple(
        label_from_response(raw) for raw in response.get("Labels", ()) if raw.get("Name")
    )
    return Detection(
        ENGINE,
        str(response.get("LabelModelVersion") or "unknown"),
        labels,
        properties=properties_from_response(response.get("ImageProperties")),
    )


def label_from_response(raw: Mapping[str, Any]) -> Label:
    return Label(
        name=str(raw["Name"]),
        confidence=float(raw.get("Confidence", 0.0)),
        parents=_names(raw.get("Parents")),
        instances=tuple(
            _instance(instance)
            for instance in raw.get("Instances", ())
            if instance.get("BoundingBox")
        ),
        aliases=_names(raw.get("Aliases")),
        categories=_names(raw.get("Categories")),
    )


def _names(items: Iterable[Mapping[str, Any]] | None) -> tuple[str, ...]:
    return tuple(str(item["Name"]) for item in items or () if item.get("Name"))


def _instance(raw: Mapping[str, Any]) -> Instance:
    return Instance(
        _box(raw["BoundingBox"]),
        confidence=float(raw.get("Confidence", 0.0)),
        colors=_instance_colors(raw),
    )


def _box(box: Mapping[str, Any]) -> BoundingBox:
    return BoundingBox(
        left=float(box.get("Left", 0.0)),
        top=float(box.get("Top", 0.0)),
        width=float(box.get("Width", 0.0)),
        height=float(box.get("Height", 0.0)),
    )


def error_for_client_error(exc: ClientError) -> DetectionError:
    """The DetectionError for an error Rekognition answered with."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    detail = str(error.get("Message", ""))
    request_id = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
    if code in BUSY_ERRORS:
        logger.warning("Rekognition DetectLabels is busy: %s: %s", code, detail)
        return DetectionError(BUSY, permanent=False)
    if code in OPERATOR_ERRORS or code not in PERMANENT_ERRORS:
        # The person cannot fix a missing permission, a bucket in another
        # region or an error we do not know; the operator needs the details.
        logger.error(
            "Rekognition DetectLabels failed: %s: %s (request %s)", code, detail, request_id
        )
    else:
        logger.info("Rekognition DetectLabels rejected a photo: %s: %s", code, detail)
    if code in PERMANENT_ERRORS:
        return DetectionError(PERMANENT_ERRORS[code], permanent=True)
    return DetectionError(UNAVAILABLE, permanent=False)
