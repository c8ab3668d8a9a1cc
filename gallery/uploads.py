"""Storing one uploaded photo: validate, write files, then the row."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

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
    written: list[str] = []
    try:
        written.append(default_storage.save(f"{folder}/original.{processed.extension}", stream))
        written.append(
            default_storage.save(f"{folder}/thumbnail.jpg", ContentFile(processed.thumbnail))
        )
        with transaction.atomic():
            return Image.objects.create(
                owner=owner,
                original=written[0],
                thumbnail=written[1],
                original_name=name[:255],
                content_type=processed.content_type,
                size_bytes=upload.size or 0,
                width=processed.width,
                height=processed.height,
                sha256=processed.sha256,
            )
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
