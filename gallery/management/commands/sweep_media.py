from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gallery.sweep import Sweep, remove, survey


class Command(BaseCommand):
    help = (
        "Find stored files without a photo row and rows without their files; remove the "
        "files (and empty folders) older than an hour. Rows without files are only reported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be removed; remove nothing"
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        found = survey()
        for name in found.orphans:
            self.stdout.write(f"orphan: {name}")
        for name in found.recent:
            self.stdout.write(f"orphan younger than an hour, kept: {name}")
        for pk, name in found.missing:
            self.stdout.write(f"photo {pk} is missing its file {name}")
        failed = [] if dry_run else remove(found)
        for problem in failed:
            self.stderr.write(f"could not remove {problem}")
        self.stdout.write(summary(found, dry_run=dry_run))
        if failed:
            raise CommandError(f"{len(failed)} orphan files could not be removed; see above.")


def summary(found: Sweep, *, dry_run: bool) -> str:
    if not (found.orphans or found.recent or found.missing or found.folders):
        return f"No orphans: {found.stored} stored files, each with its photo."
    verb = "would remove" if dry_run else "removed"
    parts = [
        f"{found.stored} stored files",
        f"{verb} {len(found.orphans)} orphan files and {len(found.folders)} empty folders",
        f"kept {len(found.recent)} younger than an hour",
        f"{len(found.missing)} photo{'' if len(found.missing) == 1 else 's'} missing a file",
    ]
    return "; ".join(parts) + "."
