from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gallery.detection.modelcache import cache_dir


class Command(BaseCommand):
    help = "Build the on-box label models into the model cache (once; later runs reuse it)."
    # Signs nothing, so it runs without DJANGO_SECRET_KEY (the check that wants it is skipped).
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        from tools.models import builders
        from tools.models.common import BuildError

        steps: list[tuple[str, Callable[[], Path]]] = [
            (module.DESCRIPTION, partial(module.build, cache_dir())) for module in builders()
        ]
        for what, prepare in steps:
            started = time.perf_counter()
            try:
                path = prepare()
            except BuildError as exc:
                raise CommandError(f"{what}: {exc}") from exc
            took = time.perf_counter() - started
            self.stdout.write(f"{what}: {path} ({took:.1f} s)")
