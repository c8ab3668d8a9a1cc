"""Finding what the storage and the database disagree on, for `manage.py sweep_media`.

A photo is its files plus its row. An upload writes the files first and a
delete removes them after the row, so a crash, a full disk or an unreachable
S3 can leave files without a row (orphans), and an outside hand can leave a
row without its files. Orphans are removed once older than an hour, so that
an upload writing its files right now is never swept; rows without files are
only reported (the row may be all that is left of a person's labels).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.storage import default_storage

from .media import STORAGE_ERRORS, display_copy_of, on_s3
from .models import Image

PREFIX = "images/"
MIN_AGE = dt.timedelta(hours=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StoredFile:
    name: str
    modified: dt.datetime


@dataclass
class Sweep:
    stored: int = 0
    orphans: list[str] = field(default_factory=list)  # old enough to remove
    recent: list[str] = field(default_factory=list)  # without a row, but maybe mid-upload
    missing: list[tuple[str, str]] = field(default_factory=list)  # (image id, file name)
    folders: list[str] = field(default_factory=list)  # empty, old enough to remove


def survey(min_age: dt.timedelta = MIN_AGE) -> Sweep:
    """What the storage holds under images/ against what the rows name."""
    cutoff = now() - min_age
    expected: dict[str, str] = {}  # file name -> its photo's id
    made_on_view: set[str] = set()  # display copies, made when first shown
    for pk, *names in Image.objects.values_list("pk", "original", "thumbnail"):
        expected.update({name: str(pk) for name in names if name})
        made_on_view.add(display_copy_of(names[0]))
    found = Sweep()
    present: set[str] = set()
    for stored in stored_files():
        found.stored += 1
        present.add(stored.name)
        if stored.name not in expected and stored.name not in made_on_view:
            (found.orphans if stored.modified < cutoff else found.recent).append(stored.name)
    found.missing = sorted((pk, name) for name, pk in expected.items() if name not in present)
    if not on_s3():
        found.folders = [str(f) for f in _empty_folders(_images_root(), cutoff.timestamp())]
    return found


def remove(found: Sweep) -> list[str]:
    """Remove the orphans and empty folders a survey found; returns the ones that failed."""
    failed = []
    for name in found.orphans:
        try:
            default_storage.delete(name)
        except STORAGE_ERRORS as exc:
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    if on_s3():
        return failed
    root = _images_root()
    folders = {Path(default_storage.path(name)).parent for name in found.orphans}
    folders |= {Path(folder) for folder in found.folders}
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        while folder != root.parent and folder.is_relative_to(root) and _is_empty(folder):
            folder.rmdir()
            folder = folder.parent
    return failed


def stored_files() -> Iterator[StoredFile]:
    if on_s3():
        yield from _s3_files()
    else:
        yield from _local_files()


def _images_root() -> Path:
    return Path(default_storage.location) / PREFIX  # type: ignore[attr-defined]


def _local_files() -> Iterator[StoredFile]:
    root = Path(default_storage.location)  # type: ignore[attr-defined]
    for folder, _, files in os.walk(root / PREFIX):
        for file in files:
            path = Path(folder) / file
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            yield StoredFile(path.relative_to(root).as_posix(), modified)


def _s3_files() -> Iterator[StoredFile]:
    bucket = default_storage.bucket  # type: ignore[attr-defined]
    pages = bucket.meta.client.get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket.name, Prefix=PREFIX):
        for item in page.get("Contents", []):
            yield StoredFile(item["Key"], item["LastModified"])


def _empty_folders(root: Path, older_than: float) -> list[Path]:
    """Folders holding no file at any depth, last changed before ``older_than``."""
    if not root.is_dir():
        return []
    empty = []
    for folder, _, _ in os.walk(root, topdown=False):
        path = Path(folder)
        if path != root and _is_empty(path) and path.stat().st_mtime < older_than:
            empty.append(path)
    return empty


def _is_empty(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())
