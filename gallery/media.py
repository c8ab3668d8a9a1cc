"""How a stored photo reaches the browser, after the caller's access check.

Local storage streams the file through Django; S3 answers with a short-lived
presigned URL, so the bytes never pass through the app server.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header

from .imaging import BROWSER_TYPES, FORMATS, display_jpeg
from .links import image_url

if TYPE_CHECKING:
    from .models import Image

logger = logging.getLogger(__name__)

# What a storage backend raises when it cannot do its job: a full or read-only
# disk, an unreachable or refusing S3. Callers log these; they are never a 500.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)

# Browsers may keep a private copy; presigned URLs expire sooner than this anyway.
CACHE_CONTROL = "private, max-age=3600"


def on_s3() -> bool:
    return bool(settings.FINDLABELS_STORAGE == "s3")


# Extensions a saved file of each type may keep; the first is given to others.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    content_type: (f".{extension}", *{"jpg": (".jpeg",), "heic": (".heif",)}.get(extension, ()))
    for content_type, extension in FORMATS.values()
}


def _stored(image: Image, variant: str) -> tuple[str, str, str]:
    """Storage name, content type and download name of one variant."""
    if variant == "thumbnail":
        return str(image.thumbnail.name), "image/jpeg", "thumbnail.jpg"
    filename = download_name(image.original_name, image.content_type)
    return str(image.original.name), image.content_type, filename


def download_name(uploaded: str, content_type: str) -> str:
    """The uploaded name, ending in the extension of the type the file really is.

    ``evil.jpg.html`` that is a JPEG saves as ``evil.jpg``: a browser or file
    manager decides by the extension what opens the file.
    """
    extensions = EXTENSIONS.get(content_type, (".bin",))
    name = PurePosixPath(uploaded.replace("\\", "/")).name
    if PurePosixPath(name).suffix.lower() in extensions:
        return name
    stem = PurePosixPath(name).stem
    if not stem or stem.startswith("."):
        stem = "photo"
    if PurePosixPath(stem).suffix.lower() in extensions:
        return stem
    return f"{stem}{extensions[0]}"


def thumbnail_src(image: Image) -> str:
    """The <img src> of a gallery card: presigning is local, no network call."""
    if on_s3():
        return str(default_storage.url(str(image.thumbnail.name)))
    return image_url("gallery:thumbnail", image.pk)


# The detail page shows a photo at most this large: a 12 MP original is never
# sent to a phone, and a HEIC becomes a JPEG the browser can show.
DISPLAY_MAX_SIDE = 2048


def needs_display_copy(image: Image) -> bool:
    too_large = max(image.width or 0, image.height or 0) > DISPLAY_MAX_SIDE
    return image.content_type not in BROWSER_TYPES or too_large


def display_copy_name(image: Image) -> str:
    """Where the JPEG shown in place of a large or HEIC photo is kept, once made;
    "" for a photo shown as it is."""
    return display_copy_of(str(image.original.name or "")) if needs_display_copy(image) else ""


def display_copy_of(original: str) -> str:
    return str(PurePosixPath(original).with_name("display.jpg")) if original else ""


SIGNED_SALT = "gallery.media"


def signed_url(image: Image, variant: str) -> str:
    """A URL that fetches one variant without a session, for API clients.

    S3 presigns its own; locally the app signs the photo's id and variant, and
    the link expires as a presigned one would (FINDLABELS_PRESIGN_SECONDS).
    """
    name, _, _ = _stored(image, variant)
    if on_s3():
        return str(default_storage.url(name))
    token = signing.dumps({"i": str(image.pk), "v": variant}, salt=SIGNED_SALT)
    return reverse("gallery:signed_media", args=[token])


def image_for_signed(token: str) -> tuple[uuid.UUID, str] | None:
    """(image id, variant) of a signed media link still valid, else None."""
    try:
        data = signing.loads(token, salt=SIGNED_SALT, max_age=settings.FINDLABELS_PRESIGN_SECONDS)
        return uuid.UUID(data["i"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def serve(image: Image, variant: str, *, download: bool = False) -> HttpResponseBase:
    name, content_type, filename = _stored(image, variant)
    if variant == "display" and needs_display_copy(image):
        copy = _display_copy(image)
        if isinstance(copy, bytes):
            return _jpeg_response(copy)
        name, content_type = copy, "image/jpeg"
        filename = download_name(image.original_name, content_type)
    disposition = content_disposition_header(download, filename) or "inline"
    if on_s3():
        url = default_storage.url(  # type: ignore[call-arg]  # S3Storage takes parameters
            name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
                "ResponseCacheControl": CACHE_CONTROL,
            },
        )
        return redirect(url)
    if settings.FINDLABELS_ACCEL_REDIRECT_PREFIX:
        # nginx streams the file from its internal location; the app only said yes.
        response: HttpResponseBase = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.FINDLABELS_ACCEL_REDIRECT_PREFIX + quote(name)
    else:
        try:
            handle = default_storage.open(name, "rb")
        except OSError as exc:
            raise Http404("The stored file is missing.") from exc
        response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = CACHE_CONTROL
    return response


def _display_copy(image: Image) -> str | bytes:
    """The stored display JPEG's name, made on the first view (a 24 MP HEIC takes
    about a second to convert, a 12 MP JPEG a few hundred ms); its bytes alone
    when it cannot be stored."""
    name = display_copy_name(image)
    if default_storage.exists(name):
        return name
    try:
        with default_storage.open(str(image.original.name), "rb") as handle:
            data = display_jpeg(handle, DISPLAY_MAX_SIDE)
    except OSError as exc:
        raise Http404("The stored file is missing.") from exc
    try:
        saved = default_storage.save(name, ContentFile(data))
    except STORAGE_ERRORS:
        logger.warning("Could not keep the display copy %s", name, exc_info=True)
        _forget(name)  # a partial file would be served as the photo next time
        return data
    if saved != name:  # another request stored it first; keep one copy
        _forget(saved)
    return name


def _forget(name: str) -> None:
    try:
        default_storage.delete(name)
    except STORAGE_ERRORS:
        logger.exception("Could not delete stored file %s", name)


def _jpeg_response(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = CACHE_CONTROL
    return response


class StorageFull(OSError):
    """Less free space than one upload of the largest size allowed needs."""


def check_storage() -> None:
    """Raise when the media storage cannot take files; cheap enough for /healthz."""
    if on_s3():
        client = default_storage.connection.meta.client  # type: ignore[attr-defined]
        client.head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
        return
    location = Path(default_storage.location)  # type: ignore[attr-defined]
    location.mkdir(parents=True, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise PermissionError(f"{location} is not writable")
    # An original plus its thumbnail; below that every upload would fail.
    needed = settings.FINDLABELS_MAX_UPLOAD_BYTES + 1024 * 1024
    free = shutil.disk_usage(location).free
    if free < needed:
        raise StorageFull(errno.ENOSPC, f"{free} bytes free in {location}, {needed} needed")


def remove_empty_folders(names: list[str]) -> None:
    """Remove the folders that held ``names`` once they are empty (local storage only).

    Only a photo's own folder goes, never the owner's: an upload may be making
    a new photo folder inside it at this moment.
    """
    if on_s3():
        return  # S3 has no folders, only key prefixes
    location = Path(default_storage.location)  # type: ignore[attr-defined]
    for folder in {(location / name).parent for name in names}:
        if folder.parent.parent == location / "images":
            try:
                folder.rmdir()
            except OSError as exc:
                # Gone already, or still holding a file whose failed delete was logged.
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY):
                    logger.exception("Could not remove the folder %s", folder)
