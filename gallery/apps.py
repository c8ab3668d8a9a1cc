from __future__ import annotations

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image as PILImage

        from . import signals  # noqa: F401  (connects the file clean-up)

        # Pillow's decompression-bomb guard is our pixel limit.
        PILImage.MAX_IMAGE_PIXELS = settings.FINDLABELS_MAX_PIXELS
