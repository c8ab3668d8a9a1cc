from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from .media import STORAGE_ERRORS, remove_empty_folders
from .models import Image, LabelTally, touch_galleries

logger = logging.getLogger(__name__)


def delete_stored_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except STORAGE_ERRORS:
            # The row is gone either way; the orphan is logged for the operator
            # and `manage.py sweep_media` removes it later.
            logger.exception("Could not delete stored file %s", name)
    remove_empty_folders(names)


@receiver(post_delete, sender=Image)
def remove_files_after_delete(sender: type[Image], instance: Image, **kwargs: Any) -> None:
    """Files go only once the deletion is committed, so a rollback loses nothing."""
    names = instance.stored_names()
    transaction.on_commit(lambda: delete_stored_files(names))


@receiver(post_delete, sender=Image)
def refresh_owner_gallery(sender: type[Image], instance: Image, **kwargs: Any) -> None:
    # Deletes come from many places (views, admin, an account's cascade); every
    # other change to what a gallery shows goes through Image.reindex.
    touch_galleries(instance.owner_id)


@receiver(pre_delete, sender=Image)
def untally_deleted_image(sender: type[Image], instance: Image, **kwargs: Any) -> None:
    LabelTally.objects.shift(instance.owner_id, instance.tallied, {})
