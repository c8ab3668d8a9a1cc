from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from gallery.detection.efficientnet import ensure_model
from gallery.detection.faces import ensure_face_model


class Command(BaseCommand):
    help = "Build the on-box label models into the model cache (once; later runs reuse it)."
    # Signs nothing, so it runs without DJANGO_SECRET_KEY (the check that wants it is skipped).
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        for what, prepare in (("label model", ensure_model), ("face model", ensure_face_model)):
            started = time.perf_counter()
            path = prepare()
            took = time.perf_counter() - started
            self.stdout.write(f"{what}: {path} ({took:.1f} s)")
