"""Storing one uploaded photo: validate, write files, then the row."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect
from django.urls import reverse

from .imaging import InvalidImage, process_upload
from .models import Image
from .signals import delete_stored_files

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    """A file was not stored; the message names the reason for the person."""


class AlreadyStored(UploadRejected):
    """The same photo is in the owner's library; ``image`` is where, to link to it."""

    def __init__(self, image: Image) -> None:
        super().__init__("it is already in your library.")
        self.image = image


def store_upload(owner: User, upload: UploadedFile) -> Image:
    name = upload.name or "unnamed"
    limit = settings.FINDLABELS_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadRejected(f"it is {_mb(upload.size)}; the limit is {_mb(limit)}.")
    if upload.size == 0:
        raise UploadRejected("the file is empty.")
    stream = upload.open("rb")
    try:
        processed = process_upload(stream, max_pixels=settings.FINDLABELS_MAX_PIXELS)
    except InvalidImage as exc:
        raise UploadRejected(str(exc)) from None
    _refuse_a_duplicate(owner, processed.sha256)

    # Unguessable names, grouped per owner so one account's files stay together.
    folder = f"images/{owner.pk}/{uuid.uuid4().hex}"
    # Removed by name on failure: a save that fails part-way (a full disk)
    # leaves a partial file without ever returning its name.
    written = [f"{folder}/original.{processed.extension}", f"{folder}/thumbnail.jpg"]
    try:
        original = default_storage.save(written[0], stream)
        thumbnail = default_storage.save(written[1], ContentFile(processed.thumbnail))
        written += {original, thumbnail} - set(written)  # a storage may pick other names
        with transaction.atomic():
            image = Image.objects.create(
                owner=owner,
                original=original,
                thumbnail=thumbnail,
                original_name=name[:255],
                content_type=processed.content_type,
                size_bytes=upload.size or 0,
                width=processed.width,
                height=processed.height,
                sha256=processed.sha256,
            )
            image.reindex()  # found by its file name before any label
            return image
    except IntegrityError:
        delete_stored_files(written)
        _refuse_a_duplicate(owner, processed.sha256)  # stored by a request at the same time
        raise UploadRejected("it could not be saved; please try again.") from None
    except Exception:
        delete_stored_files(written)
        logger.exception("Could not store upload %r for user %s", name, owner.pk)
        raise UploadRejected("it could not be saved; please try again.") from None


def _refuse_a_duplicate(owner: User, sha256: str) -> None:
    existing = Image.objects.filter(owner=owner, sha256=sha256).first()
    if existing is not None:
        raise AlreadyStored(existing)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class UnnamedTemporaryUploadedFile(UploadedFile):
    """An upload kept on disk in a file with no name (O_TMPFILE on Linux).

    The kernel frees it when the last handle closes, so a worker killed in the
    middle of a request leaves nothing in the temporary folder.
    """

    def __init__(
        self,
        name: str | None,
        content_type: str | None,
        size: int | None,
        charset: str | None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        # Closed with the upload, as Django closes its own temporary files.
        file = tempfile.TemporaryFile(suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        super().__init__(file, name, content_type, size, charset, content_type_extra)


class UnnamedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's stream-to-disk handler, with files that no killed worker leaves behind."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        self.file = UnnamedTemporaryUploadedFile(  # type: ignore[assignment]
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()


# Raised by Django while it reads a multipart body, before any view runs; left
# alone they become a bare "Bad Request (400)" page.
UNREADABLE_UPLOAD = (MultiPartParserError, TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig)


class UploadLimitsMiddleware:
    """Turns an upload that breaks Django's request limits into a plain message.

    It reads the upload page's POST body first (CSRF is still checked after
    it), so the person sees the upload page again with what went wrong.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == reverse("gallery:upload"):
            try:
                request.FILES  # noqa: B018  (parses the body now, where errors can be caught)
            except UNREADABLE_UPLOAD as exc:
                return self.refused(request, unreadable_upload_message(exc))
        return self.get_response(request)

    @staticmethod
    def refused(request: HttpRequest, message: str) -> HttpResponse:
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":
            return JsonResponse({"errors": [message]}, status=400)
        messages.error(request, message)
        return redirect("gallery:upload")


def unreadable_upload_message(exc: Exception) -> str:
    if isinstance(exc, TooManyFilesSent):
        most = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return f"Nothing was stored: choose at most {most} photos in one upload."
    if "header size" in str(exc):
        # Django allows 1 KB of headers per file; a file name is most of it.
        return "Nothing was stored: a file name is too long. Rename the file and try again."
    logger.warning("Unreadable upload: %s", exc)
    return "Nothing was stored: the upload could not be read. Please try again."
