"""The JSON API at /api/v1/: photos, search, labels in Rekognition's DetectLabels shape.

Typed function endpoints (django-ninja) over the same QuerySets and helpers as
the site's pages: one search, one upload path, one access rule (another
person's photo is a 404). Every answer is JSON, errors included:
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer, django_auth

from accounts.models import ApiToken, User

from . import media, search
from .detection import DetectionError
from .imaging import decode_slot
from .models import Image, Label, LabelTally, detect_and_store, gallery_photos
from .ratelimit import allow_detect
from .uploads import AlreadyStored, UploadRejected, store_upload
from .views import ENGINE_FAILED, find_labels, for_people

logger = logging.getLogger(__name__)

PAGE_SIZE = 24


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``: a personal access token."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.objects.user_for(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Find the Labels",
    version="1",
    description=(
        "Your photos and the labels found in them. Labels come in Amazon Rekognition's "
        "DetectLabels shape. Authenticate with a personal access token "
        "(`Authorization: Bearer TOKEN`; create one at /settings/tokens/)."
    ),
    urls_namespace="api",
    # A token for scripts; the site's own pages use the session, with CSRF checks.
    auth=[BearerToken(), django_auth],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


# -- errors -----------------------------------------------------------------


class ErrorBody(Schema):
    code: str
    message: str
    image_id: uuid.UUID | None = None


class ErrorOut(Schema):
    error: ErrorBody


def error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    return api.create_response(request, body, status=status)


CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid"}
CODES |= {413: "too_large", 429: "rate_limited", 503: "unavailable"}


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: Exception) -> HttpResponse:
    message = "Send a valid token: Authorization: Bearer TOKEN (create one at /settings/tokens/)."
    return error(request, 401, "unauthorized", message)


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for item in exc.errors:
        where = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {item.get('msg', 'is not valid')}")
    return error(request, 400, "invalid", "; ".join(problems) or "The request is not valid.")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error(request, exc.status_code, CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(request, 404, "not_found", "There is no such photo or page in your library.")


def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /api/v1/: JSON, like every answer of the API."""
    return error(request, 404, "not_found", f"No endpoint at {request.path}; see /api/v1/docs.")


# -- shapes -------------------------------------------------------------------


class BoundingBoxOut(Schema):
    Width: float
    Height: float
    Left: float
    Top: float


class InstanceOut(Schema):
    BoundingBox: BoundingBoxOut
    Confidence: float


class NameOut(Schema):
    Name: str


class LabelOut(Schema):
    Name: str
    Confidence: float
    Parents: list[NameOut]
    Instances: list[InstanceOut]
    Aliases: list[NameOut]
    Categories: list[NameOut]


class LabelsOut(Schema):
    """As Rekognition's DetectLabels answers, so its clients can read it."""

    Labels: list[LabelOut]
    LabelModelVersion: str


class TextLineOut(Schema):
    text: str
    confidence: float
    bounding_box: dict[str, float]


class UrlsOut(Schema):
    original: str
    thumbnail: str


class ImageOut(Schema):
    id: uuid.UUID
    file_name: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    uploaded_at: datetime
    detected_at: datetime | None
    removed_by_moderator: bool
    labels: LabelsOut
    text: list[TextLineOut]
    properties: dict[str, Any]
    urls: UrlsOut


class PageOut(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[ImageOut]


class UploadResultOut(Schema):
    file: str
    image: ImageOut | None = None
    error: ErrorBody | None = None


class UploadOut(Schema):
    results: list[UploadResultOut]


class LabelCountOut(Schema):
    name: str
    count: int


class LabelCountsOut(Schema):
    min_confidence: int
    labels: list[LabelCountOut]


class LabelIn(Schema):
    name: str = Field(min_length=1, max_length=64)


def rekognition_label(label: Label) -> dict[str, Any]:
    return {
        "Name": label.name,
        "Confidence": label.confidence,
        "Parents": [{"Name": name} for name in label.parents],
        "Instances": [
            {
                "BoundingBox": {
                    "Width": box["width"],
                    "Height": box["height"],
                    "Left": box["left"],
                    "Top": box["top"],
                },
                "Confidence": box["confidence"],
            }
            for box in label.instances
        ],
        "Aliases": [{"Name": name} for name in label.aliases],
        "Categories": [{"Name": name} for name in label.categories],
    }


def image_out(request: HttpRequest, image: Image, labels: list[Label]) -> dict[str, Any]:
    shown = [] if image.hidden else labels
    return {
        "id": image.pk,
        "file_name": image.original_name,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "uploaded_at": image.uploaded_at,
        "detected_at": image.detected_at,
        "removed_by_moderator": image.hidden,
        "labels": {
            "Labels": [rekognition_label(label) for label in shown],
            "LabelModelVersion": image.model_version,
        },
        "text": [] if image.hidden else image.text,
        "properties": {} if image.hidden else image.properties,
        "urls": {
            variant: request.build_absolute_uri(media.signed_url(image, variant))
            for variant in ("original", "thumbnail")
        },
    }


def labels_by_image(images: list[Image], minimum: int) -> dict[uuid.UUID, list[Label]]:
    """The shown labels of several images at ``minimum`` or more, in one query."""
    found: dict[uuid.UUID, list[Label]] = {image.pk: [] for image in images}
    rows = Label.objects.shown().filter(image__in=images, confidence__gte=search.at_least(minimum))
    for label in rows.order_by("-confidence", "name"):
        found[label.image_id].append(label)
    return found


def owned(request: HttpRequest, image_id: uuid.UUID) -> Image:
    """The one access rule: the owner's photo, or 404 (never a hint that it exists)."""
    image = Image.objects.filter(pk=image_id, owner_id=request.user.pk).first()
    if image is None:
        raise Http404
    return image


def one_image_out(request: HttpRequest, image: Image) -> dict[str, Any]:
    minimum: int = request.user.label_confidence  # type: ignore[union-attr]
    return image_out(request, image, labels_by_image([image], minimum)[image.pk])


# -- endpoints ----------------------------------------------------------------------


@api.get("/images/", response={200: PageOut, 400: ErrorOut, 401: ErrorOut}, tags=["images"])
def list_images(
    request: HttpRequest,
    q: str = "",
    page: int = Query(1, ge=1, le=100_000),
    min_confidence: int | None = Query(None, ge=0, le=100),
) -> dict[str, Any]:
    """Your photos, newest first, 24 a page; ``q`` searches as the site's search box does.

    The minimum confidence defaults to your slider value, as on the site, and
    also filters the labels returned.
    """
    user: User = request.user  # type: ignore[assignment]
    minimum = user.label_confidence if min_confidence is None else min_confidence
    query = search.parse(q)
    paginator = Paginator(gallery_photos(user, query, minimum), PAGE_SIZE)
    if page > paginator.num_pages and paginator.count:
        raise HttpError(404, f"There are {paginator.num_pages} pages.")
    current = paginator.get_page(page)
    rows = list(current.object_list)
    labels = labels_by_image(rows, minimum)

    def link(number: int) -> str:
        params = {k: v for k, v in (("q", q), ("min_confidence", min_confidence)) if v}
        return request.build_absolute_uri(f"{request.path}?{urlencode({**params, 'page': number})}")

    return {
        "count": paginator.count,
        "next": link(current.next_page_number()) if current.has_next() else None,
        "previous": link(current.previous_page_number()) if current.has_previous() else None,
        "results": [image_out(request, image, labels[image.pk]) for image in rows],
    }


@api.post("/images/", response={201: UploadOut, 400: UploadOut, 401: ErrorOut}, tags=["images"])
def upload_images(
    request: HttpRequest, file: list[UploadedFile] = File(...)
) -> Status[dict[str, Any]]:
    """Store one or more photos (multipart field ``file``, repeatable).

    201 with one result per file when at least one was stored, 400 when none
    was; each failed file has the same reason as on the upload page.
    """
    results, stored = [], 0
    for upload in file:
        name = upload.name or "unnamed"
        try:
            image = store_upload(request.user, upload)  # type: ignore[arg-type]
        except AlreadyStored as exc:
            results.append({"file": name, "error": upload_error(exc, exc.image.pk)})
            continue
        except UploadRejected as exc:
            results.append({"file": name, "error": upload_error(exc)})
            continue
        stored += 1
        if settings.FINDLABELS_DETECT_ON_UPLOAD:
            find_labels(image)  # stored either way; a failure is logged there
        results.append({"file": name, "image": one_image_out(request, image)})
    return Status(201 if stored else 400, {"results": results})


def upload_error(exc: UploadRejected, image_id: uuid.UUID | None = None) -> dict[str, Any]:
    message = str(exc)
    if image_id is not None:
        code = "duplicate"
    elif "limit is" in message:
        code = "too_large"
    else:
        code = "unsupported_image"
    return {"code": code, "message": f"Not stored: {message}", "image_id": image_id}


@api.get("/images/{image_id}/", response={200: ImageOut, 404: ErrorOut}, tags=["images"])
def get_image(request: HttpRequest, image_id: uuid.UUID) -> dict[str, Any]:
    """One photo, its labels (Rekognition's shape), text, properties and download URLs."""
    return one_image_out(request, owned(request, image_id))


@api.delete("/images/{image_id}/", response={204: None, 404: ErrorOut}, tags=["images"])
def delete_image(request: HttpRequest, image_id: uuid.UUID) -> Status[None]:
    owned(request, image_id).delete()
    return Status(204, None)


@api.post(
    "/images/{image_id}/detect",
    response={200: ImageOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut, 503: ErrorOut},
    tags=["images"],
)
def detect(request: HttpRequest, image_id: uuid.UUID) -> Any:
    """Find the labels again (the same per-person rate limit as the Detect button)."""
    image = owned(request, image_id)
    if image.hidden:
        return error(request, 404, "not_found", "This photo was removed by a moderator.")
    if not allow_detect(image.owner_id):
        limit = settings.FINDLABELS_DETECT_RATE_PER_MINUTE
        return error(request, 429, "rate_limited", f"At most {limit} detections a minute.")
    try:
        with decode_slot(image.width, image.height):  # large decodes take turns
            detect_and_store(image)
    except DetectionError as exc:
        logger.warning("Detect failed for image %s: %s", image.pk, exc.message)
        if exc.permanent:
            return error(request, 422, "unsupported_image", for_people(exc))
        return error(request, 503, "unavailable", for_people(exc))
    except Exception:  # an engine library's own error, or the database's: logged, then told
        logger.exception("Detect failed for image %s", image.pk)
        return error(request, 503, "unavailable", ENGINE_FAILED)
    return one_image_out(request, image)


@api.post(
    "/images/{image_id}/labels/",
    response={201: ImageOut, 400: ErrorOut, 404: ErrorOut},
    tags=["labels"],
)
def add_label(request: HttpRequest, image_id: uuid.UUID, body: LabelIn) -> Any:
    """Add a label by hand (confidence 100); it outlives Detect again."""
    from .forms import LabelNameForm

    image = owned(request, image_id)
    form = LabelNameForm({"name": body.name})
    if not form.is_valid():
        return error(request, 400, "invalid", str(form.errors["name"][0]))
    image.add_label(form.cleaned_data["name"])
    return Status(201, one_image_out(request, image))


@api.delete(
    "/images/{image_id}/labels/{name}", response={200: ImageOut, 404: ErrorOut}, tags=["labels"]
)
def remove_label(request: HttpRequest, image_id: uuid.UUID, name: str) -> Any:
    """Remove a label from the photo; it stays removed after Detect again."""
    image = owned(request, image_id)
    if not image.remove_label(name):
        return error(request, 404, "not_found", f"The photo has no label “{name}”.")
    return one_image_out(request, image)


@api.get("/labels/", response={200: LabelCountsOut}, tags=["labels"])
def list_labels(
    request: HttpRequest, min_confidence: int | None = Query(None, ge=0, le=100)
) -> dict[str, Any]:
    """Your labels with how many photos show each, most common first."""
    user: User = request.user  # type: ignore[assignment]
    minimum = user.label_confidence if min_confidence is None else min_confidence
    rows = LabelTally.objects.counts(user.pk, minimum)
    return {"min_confidence": minimum, "labels": list(rows)}
