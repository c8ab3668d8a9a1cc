from __future__ import annotations

import hashlib
import logging
import re
import uuid
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db import connection
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AuthenticatedRequest, User

from . import search
from .detection import DetectionError
from .forms import BulkForm, ConfidenceForm, GalleryFilterForm, LabelNameForm, UploadForm
from .imaging import decode_slot
from .media import check_storage, serve
from .media import image_for_signed as media_for_signed
from .models import (
    MAX_MUTED,
    Image,
    Label,
    LabelTally,
    MutedLabel,
    detect_and_store,
    gallery_photos,
    mute_label,
    unmute_label,
    with_cards,
)
from .ratelimit import allow_detect
from .search import Query
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


def first_error(form: Form) -> str:
    return str(next(iter(form.errors.values()))[0])


def wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@login_required
@require_GET
def index(request: AuthenticatedRequest) -> HttpResponse:
    form = GalleryFilterForm(request.GET)
    query = form.query()
    minimum = request.user.label_confidence
    page_number = _page_number(request.GET.get("page"))
    # Rendered by our own templates from escaped values, so safe to embed.
    grid = mark_safe(cached_grid(request, query, minimum, page_number))  # noqa: S308
    context = {"grid": grid, "form": form, "query": query, "minimum": minimum}
    return render(request, "gallery/index.html", context)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def cached_grid(request: AuthenticatedRequest, query: Query, minimum: int, number: int) -> str:
    """The rendered cards and pager, reused until the owner's library changes.

    The key holds the user's gallery_version, which every change bumps, and the
    user row is loaded anyway: a repeated page costs no query at all.
    """
    user = request.user
    wanted = " ".join(clause.text() for clause in query.clauses)
    asked = hashlib.blake2s(wanted.encode(), digest_size=12).hexdigest()  # any words, safe key
    key = f"gallery:{user.pk}:{user.gallery_version}:{number}:{minimum}:{asked}"
    pages = caches["pages"]
    grid: str | None = pages.get(key)
    if grid is None:
        page = Paginator(gallery_photos(user, query, minimum), PAGE_SIZE).get_page(number)
        with_cards(page.object_list, minimum)
        unlabelled = Image.objects.owned_by(user).visible().filter(detected_at__isnull=True)
        context = {
            "page": page,
            "query": query,
            "wanted": wanted,
            "minimum": minimum,
            "unlabelled": unlabelled.count(),
            "back": request.get_full_path(),
        }
        grid = render_to_string("gallery/_grid.html", context, request)
        pages.set(key, grid)
    return grid


@login_required
@require_GET
def labels(request: AuthenticatedRequest) -> HttpResponse:
    # Counted where the person's slider stands, so "Dog" is not listed for a 3% guess.
    minimum = request.user.label_confidence
    counts = LabelTally.objects.counts(request.user.pk, minimum)
    muted = MutedLabel.objects.names(request.user.pk)
    context = {"counts": counts, "minimum": minimum, "muted": muted}
    return render(request, "gallery/labels.html", context)


@login_required
@require_GET
def suggest(request: AuthenticatedRequest) -> JsonResponse:
    """Labels the person has that start with what they typed, most photos first."""
    prefix = request.GET.get("q", "").strip()[: search.MAX_TERM]
    if not prefix:
        return JsonResponse({"suggestions": []})
    rows = LabelTally.objects.suggestions(request.user.pk, prefix, request.user.label_confidence)
    found = [{"name": row["name"], "count": row["count"]} for row in rows]
    if request.GET.get("all"):  # adding a label: every name the engines know, too
        found += search.known_names(prefix, exclude={row["name"] for row in found})
    return JsonResponse({"suggestions": found})


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
    labels = list(image.labels.shown()) if not image.hidden else []
    back = gallery_back_link(request.GET.get("back", ""))
    context = {
        **viewer_links(request, image, back),
        "image": image,
        "labels": labels,
        "confidence": request.user.label_confidence,
        "removed": image.corrections.filter(action="removed").values_list("name", flat=True),
        "muted": MutedLabel.objects.names(image.owner_id),
    }
    return render(request, "gallery/detail.html", context)


def gallery_back_link(raw: str) -> str:
    """The gallery page the person came from, if ``raw`` is one (never another site)."""
    return raw if raw == "/" or raw.startswith("/?") else "/"


def viewer_links(request: AuthenticatedRequest, image: Image, back: str) -> dict[str, str]:
    """Links to the newer and older photo in the gallery the person came from."""
    if image.owner_id != request.user.pk:
        return {"back": back}
    form = GalleryFilterForm(QueryDict(back[2:]))
    query = form.query()
    newer, older = gallery_photos(request.user, query, request.user.label_confidence).neighbours(
        image
    )
    suffix = f"?back={quote(back)}"
    return {
        "back": back,
        "newer": f"{newer.get_absolute_url()}{suffix}" if newer else "",
        "older": f"{older.get_absolute_url()}{suffix}" if older else "",
    }


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
@require_POST
def correct_label(request: AuthenticatedRequest, image_id: uuid.UUID, action: str) -> HttpResponse:
    """Remove a label from a photo, add one, or undo either; all outlive Detect again."""
    image = image_for(request, image_id, manage=True)
    form = LabelNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(image)
    name = form.cleaned_data["name"]
    if action == "remove" and image.remove_label(name):
        messages.success(request, f"Removed “{name}” from this photo.")
    elif action == "add":
        image.add_label(name)
        messages.success(request, f"Added “{name}”.")
    elif action == "undo" and image.undo_correction(name):
        messages.success(request, f"“{name}” is back as the engine found it.")
    return redirect(image)


@login_required
@require_POST
def mute(request: AuthenticatedRequest, action: str) -> HttpResponse:
    """ "Never show me X" on every photo, or show it again."""
    form = LabelNameForm(request.POST)
    back = url_has_allowed_host_and_scheme(request.POST.get("next"), {request.get_host()})
    target = request.POST["next"] if back else reverse("gallery:labels")
    if not form.is_valid():
        messages.error(request, first_error(form))
    elif action == "unmute":
        unmute_label(request.user, form.cleaned_data["name"])
        messages.success(request, f"“{form.cleaned_data['name']}” shows again.")
    elif mute_label(request.user, form.cleaned_data["name"]):
        messages.success(request, f"“{form.cleaned_data['name']}” will not be shown again.")
    else:
        messages.error(request, f"You can hide at most {MAX_MUTED} labels; show one again first.")
    return redirect(target)


@login_required
@require_POST
def bulk(request: AuthenticatedRequest) -> HttpResponse:
    """Delete, detect again, add or remove a label on the selected photos."""
    form = BulkForm(request.POST)
    back = request.POST.get("next", "")
    target = back if url_has_allowed_host_and_scheme(back, {request.get_host()}) else "/"
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(target)
    # Another person's ids select nothing: no hint that they exist.
    images = list(Image.objects.owned_by(request.user).filter(pk__in=form.cleaned_data["ids"]))
    action, name = form.cleaned_data["action"], form.cleaned_data.get("name", "")
    if action == "delete":
        for image in images:
            image.delete()
        messages.success(request, f"Deleted {len(images)} photo{pluralize(len(images))}.")
    elif action == "detect":
        _detect_each(request, images)
    else:
        changed = [image for image in images if _correct(image, action, name)]
        verb = "Added" if action == "add" else "Removed"
        messages.success(
            request, f"{verb} “{name}” on {len(changed)} photo{pluralize(len(changed))}."
        )
    return redirect(target)


def _correct(image: Image, action: str, name: str) -> bool:
    if action == "add":
        image.add_label(name)
        return True
    return image.remove_label(name)


def _detect_each(request: AuthenticatedRequest, images: list[Image]) -> None:
    done, failed = 0, []
    for image in images:
        if image.hidden:
            continue
        if not allow_detect(request.user.pk):
            messages.warning(request, "You have reached the Detect limit for this minute.")
            break
        found, _ = find_labels(image)  # the reasons are in the log
        if found is None:
            failed.append(image.original_name)
        else:
            done += 1
    messages.success(request, f"Found labels again in {done} photo{pluralize(done)}.")
    if failed:
        messages.error(request, f"Labels could not be found in {', '.join(failed)}.")


# Photos labelled per request of "Detect all photos without labels": a few
# seconds of work, so the browser can show progress and stop between batches.
DETECT_BATCH = 3


@login_required
@require_POST
def detect_missing(request: AuthenticatedRequest) -> JsonResponse:
    """Label the next few photos that have none; the browser calls it until none remain."""
    after = request.POST.get("after", "")
    waiting = Image.objects.owned_by(request.user).visible().filter(detected_at__isnull=True)
    if after:
        waiting = waiting.filter(pk__gt=after)
    done = failed = 0
    last = after
    for image in waiting.order_by("pk")[:DETECT_BATCH]:
        if not allow_detect(request.user.pk):
            message = "You have reached the Detect limit for this minute; try again shortly."
            return JsonResponse({"error": message}, status=429)
        found, _ = find_labels(image)
        if found is None:
            failed += 1  # skipped by the cursor; a later run tries it again
        else:
            done += 1
        last = str(image.pk)
    remaining = waiting.filter(pk__gt=last).count() if last else waiting.count()
    return JsonResponse({"done": done, "failed": failed, "after": last, "remaining": remaining})


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


@require_GET
def signed_media(request: HttpRequest, token: str) -> HttpResponseBase:
    """A photo by a time-limited signed link (the API's URLs); no session needed."""
    found = media_for_signed(token)
    image = Image.objects.filter(pk=found[0], hidden=False).first() if found else None
    if image is None or found is None or found[1] not in ("original", "thumbnail"):
        raise Http404("This link is not valid or has expired.")
    return serve(image, found[1])


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
def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness for the load balancer: this process answers, and nothing more.

    It touches neither the database nor the bucket, so a database outage, a
    maintenance window or a password rotation does not fail every target at
    once and make the Auto Scaling group replace the whole fleet. /healthz
    (the deep check) is for alarms.
    """
    return JsonResponse({"status": "ok"})


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
