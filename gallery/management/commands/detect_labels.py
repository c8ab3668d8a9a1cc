"""Find labels in files on disk, or in stored images.

The JSON output is a contract used by benchmarks and checks (design.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from gallery.detection import Detection, DetectionError, get_detector
from gallery.models import Image, detect_and_store


class Command(BaseCommand):
    help = "Detect labels in image files (--file) or in stored images (--all)."
    # Signs nothing, so it runs without DJANGO_SECRET_KEY (the check that wants it is skipped).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", action="append", type=Path, help="An image file; repeatable.")
        source.add_argument("--all", action="store_true", help="Every stored image.")
        parser.add_argument("--min-confidence", type=float, default=0.0, metavar="N")
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument(
            "--missing-only", action="store_true", help="With --all: unlabelled only."
        )
        parser.add_argument(
            "--outdated",
            action="store_true",
            help="With --all: labelled by another engine or model version only "
            "(with --missing-only: those and the unlabelled).",
        )
        parser.add_argument("--user", metavar="EMAIL", help="With --all: one owner's images.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            self.detect_stored(options["missing_only"], options["outdated"], options["user"])
            return
        if options["missing_only"] or options["outdated"] or options["user"]:
            raise CommandError("--missing-only, --outdated and --user go with --all.")
        results = [self.detect_file(path, options["min_confidence"]) for path in options["file"]]
        if options["format"] == "json":
            self.stdout.write(json.dumps(results, indent=1))
        else:
            self.stdout.write(render_table(results))
        failed = sum(1 for result in results if "error" in result)
        if failed:
            raise CommandError(f"{failed} of {len(results)} file(s) could not be labelled.")

    def detect_file(self, path: Path, min_confidence: float) -> dict[str, Any]:
        try:
            data = path.read_bytes()
            detection = get_detector().detect(data)
        except OSError as exc:
            return {"file": str(path), "error": f"cannot read the file: {exc.strerror or exc}"}
        except DetectionError as exc:
            return {"file": str(path), "error": exc.message}
        return detection_json(str(path), detection.above(min_confidence))

    def detect_stored(self, missing_only: bool, outdated: bool, email: str | None) -> None:
        images = Image.objects.visible().order_by("uploaded_at")
        if email:
            images = images.filter(owner__email__iexact=email)
            if not images.exists():
                raise CommandError(f"No stored images for {email}.")
        if outdated:
            detector = get_detector()
            # Rekognition learns its version from its answer: None, so only
            # another engine's labels count as outdated there.
            version: str | None = getattr(detector, "model_version", None)
            stale = images.outdated(detector.name, version)
            images = stale | images.filter(detected_at__isnull=True) if missing_only else stale
        elif missing_only:
            images = images.filter(detected_at__isnull=True)
        failures = 0
        progress = tqdm(images.iterator(), total=images.count(), unit="image", file=sys.stderr)
        for image in progress:
            try:
                detect_and_store(image)
            except DetectionError as exc:
                failures += 1
                progress.write(f"{image.pk} ({image.original_name}): {exc.message}")
        if failures:
            raise CommandError(f"{failures} image(s) could not be labelled.")


def detection_json(path: str, detection: Detection) -> dict[str, Any]:
    return {
        "file": path,
        "engine": detection.engine,
        "model_version": detection.model_version,
        "labels": [label.as_dict() for label in detection.sorted_labels()],
        "text": [line.as_dict() for line in detection.text],
        "properties": detection.properties.as_dict() if detection.properties else {},
    }


def render_table(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for result in results:
        if "error" in result:
            lines.append(f"{result['file']}: ERROR {result['error']}")
            continue
        lines.append(f"{result['file']}  ({result['engine']} {result['model_version']})")
        for label in result["labels"]:
            parents = f"  < {', '.join(label['parents'])}" if label["parents"] else ""
            boxes = f"  [{len(label['instances'])} box(es)]" if label["instances"] else ""
            lines.append(f"  {label['confidence']:6.1f}%  {label['name']}{parents}{boxes}")
        if not result["labels"]:
            lines.append("  (no labels above the minimum confidence)")
    return "\n".join(lines)
