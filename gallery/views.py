from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AuthenticatedRequest, User

from .detection import DetectionError
from .forms import ConfidenceForm, GalleryFilterForm, UploadForm
from .imaging import decode_slot
from .media import check_storage, serve
from .models import Image, Label, detect_and_store
from .ratelimit import allow_detect
from .uploads import AlreadyStored, UploadRejected, store_upload

PAGE_SIZE = 24

logger = logging.getLogger(__name__)


def image_for(request: AuthenticatedRequest, image_id: uuid.UUID, *, manage: bool = False) -> Image:
    """The one access check: the owner's image, or any image for a moderator to look at.

    ``manage`` views (detect, delete) are the owner's alone; moderators act in
    the admin. Everyone else gets a 404, never a hint that the image exists.
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        raise Http404("No such image.")
    if image.owner_id == request.user.pk:
        return image
    if may_view_any(request.user) and not manage:
        return image
    raise Http404("No such image.")


def may_view_any(user: User) -> bool:
    """Moderators: staff status opens the admin, the permission opens the photos."""
    return user.is_staff and user.has_perm("gallery.view_image")


def wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@login_required
@require_GET
def index(request: AuthenticatedRequest) -> HttpResponse:
    form = GalleryFilterForm(request.GET)
    label, minimum = "", 0
    if form.is_valid():
        label, minimum = form.cleaned_data["label"], form.cleaned_data["min"] or 0
    page_number = _page_number(request.GET.get("page"))
    # Rendered by our own templates from escaped values, so safe to embed.
    grid = mark_safe(cached_grid(request, label, minimum, page_number))  # noqa: S308
    context = {"grid": grid, "form": form, "label": label, "minimum": minimum}
    return render(request, "gallery/index.html", context)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def cached_grid(request: AuthenticatedRequest, label: str, minimum: int, number: int) -> str:
    """The rendered cards and pager, reused until the owner's library changes.

    The key holds the user's gallery_version, which every change bumps, and the
    user row is loaded anyway: a repeated page costs no query at all.
    """
    user = request.user
    key = f"gallery:{user.pk}:{user.gallery_version}:{number}:{minimum}:{label}"
    pages = caches["pages"]
    grid: str | None = pages.get(key)
    if grid is None:
        images = Image.objects.owned_by(user)
        if label:
            images = images.with_label(label, minimum)
        page = Paginator(images.for_gallery(), PAGE_SIZE).get_page(number)
        context = {"page": page, "label": label, "minimum": minimum}
        grid = render_to_string("gallery/_grid.html", context, request)
        pages.set(key, grid)
    return grid


@login_required
@require_GET
def labels(request: AuthenticatedRequest) -> HttpResponse:
    # Counted where the person's slider stands, so "Dog" is not listed for a 3% guess.
    minimum = request.user.label_confidence
    counts = Label.objects.owned_by(request.user).counts(min_confidence=minimum)
    return render(request, "gallery/labels.html", {"counts": counts, "minimum": minimum})


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: AuthenticatedRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if request.method == "POST" and form.is_valid():
        stored = [f for f in form.cleaned_data["images"] if _store_one(request, f)]
        if stored:
            messages.success(request, f"Stored {len(stored)} photo{pluralize(len(stored))}.")
        target = reverse("gallery:index") if stored else reverse("gallery:upload")
        if wants_json(request):
            return JsonResponse({"redirect": target, "stored": len(stored)})
        return redirect(target)
    if request.method == "POST" and wants_json(request):
        return JsonResponse({"errors": form.errors.get("images", [])}, status=400)
    limits = {"max_mb": settings.FINDLABELS_MAX_UPLOAD_BYTES // (1024 * 1024)}
    return render(request, "gallery/upload.html", {"form": form, **limits})


def _store_one(request: AuthenticatedRequest, upload_file: UploadedFile) -> bool:
    name = upload_file.name or "A file"
    try:
        image = store_upload(request.user, upload_file)
    except AlreadyStored as exc:
        url = exc.image.get_absolute_url()
        message = format_html('{} was not stored: {} <a href="{}">Open it</a>.', name, exc, url)
        messages.warning(request, message)
        return False
    except UploadRejected as exc:
        messages.error(request, f"{name} was not stored: {exc}")
        return False
    if settings.FINDLABELS_DETECT_ON_UPLOAD:
        found, problem = find_labels(image)
        if found is None:
            messages.warning(request, f"{name} was stored, but finding labels failed: {problem}")
    return True


def find_labels(image: Image) -> tuple[list[Label] | None, str]:
    """Run Detect on a stored photo: its labels, or None and a sentence saying why not.

    The photo is stored whatever happens here, so no failure may become a 500:
    an engine's own error (DetectionError), a database error while saving
    labels, or an engine library raising something of its own. The details go
    to the log for the operator; the person gets words without paths.
    """
    try:
        with decode_slot(image.width, image.height):  # the engine decodes the whole photo
            return detect_and_store(image), ""
    except DetectionError as exc:
        logger.warning("Detect failed for image %s: %s", image.pk, exc.message)
        return None, for_people(exc)
    except Exception:  # anything else: logged with its traceback, then told
        logger.exception("Detect failed for image %s", image.pk)
        return None, ENGINE_FAILED


ENGINE_FAILED = "the label engine failed; the error is logged for the site's operator."
# Absolute paths (POSIX or Windows) and the markers of library messages.
_TECHNICAL = re.compile(r"(^|[\s(\"'=])(/|[A-Za-z]:\\)\S|ONNX|onnxruntime|Traceback|Errno")


def for_people(error: DetectionError) -> str:
    """An engine's message, unless it names server paths or library internals."""
    if _TECHNICAL.search(error.message):
        return ENGINE_FAILED if not error.permanent else "this photo could not be analysed."
    return error.message


@login_required
@require_GET
def detail(request: AuthenticatedRequest, image_id: uuid.UUID) -> HttpResponse:
    image = image_for(request, image_id)
    labels = list(image.labels.all()) if not image.hidden else []
    confidence = request.user.label_confidence
    context = {"image": image, "labels": labels, "confidence": confidence}
    return render(request, "gallery/detail.html", context)


@login_required
@require_POST
def detect(request: AuthenticatedRequest, image_id: uuid.UUID) -> HttpResponse:
    image = image_for(request, image_id, manage=True)
    if image.hidden:
        messages.error(request, "This photo was removed by a moderator.")
    elif not allow_detect(request.user.pk):
        limit = settings.FINDLABELS_DETECT_RATE_PER_MINUTE
        messages.error(
            request, f"You have run Detect {limit} times in the last minute; please wait a moment."
        )
    else:
        found, problem = find_labels(image)
        if found is None:
            messages.error(request, f"Labels could not be found: {problem}")
        else:
            messages.success(request, f"Found {len(found)} label{pluralize(len(found))}.")
    return redirect("gallery:detail", image_id=image.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: AuthenticatedRequest, image_id: uuid.UUID) -> HttpResponse:
    image = image_for(request, image_id, manage=True)
    if request.method == "POST":
        image.delete()
        messages.success(request, f"Deleted {image.original_name}.")
        return redirect("gallery:index")
    return render(request, "gallery/confirm_delete.html", {"image": image})


@login_required
@require_GET
def media(request: AuthenticatedRequest, image_id: uuid.UUID, variant: str) -> HttpResponseBase:
    image = image_for(request, image_id)
    if image.hidden and not may_view_any(request.user):
        return redirect(static("img/removed.svg"))
    return serve(image, variant, download=request.GET.get("download") == "1")


@login_required
@require_POST
def save_confidence(request: AuthenticatedRequest) -> HttpResponse:
    form = ConfidenceForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    request.user.label_confidence = form.cleaned_data["confidence"]
    request.user.save(update_fields=["label_confidence"])
    return HttpResponse(status=204)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "storage": _check_storage()}
    healthy = all(result == "ok" for result in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not healthy", never a 500
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_storage() -> str:
    try:
        check_storage()
    except Exception as exc:  # any backend error means "not healthy", never a 500
        return f"error: {type(exc).__name__}"
    return "ok"
