"""The on-box moderation check: open_nsfw on ONNX Runtime.

These tests need the model in the model cache, which the set-up step
(``prepare_model``, run by ``make test``) puts there; tests never fetch it.
A missing model is a failure, never a skip: the check would be broken for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gallery.detection import nsfw
from gallery.detection.nsfw import NsfwClassifier, to_nsfw_input
from gallery.detection.types import DetectionError, Moderation, ModerationLabel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTOS = FIXTURES / "photos"
REFERENCE = json.loads((FIXTURES / "reference_nsfw.json").read_text())["nsfw"]


def prepared_model() -> Path:
    """The model ``prepare_model`` put in the default cache (var/models)."""
    path = nsfw.model_cache_path()
    assert path.is_file(), f"{path} is missing: run `python manage.py prepare_model` first."
    return path


@pytest.fixture(scope="module")
def classifier() -> NsfwClassifier:
    return NsfwClassifier(prepared_model())


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_it_matches_the_packages_own_scores(classifier: NsfwClassifier, name: str) -> None:
    # The package crops before its JPEG round trip, upstream (and the app)
    # after it; 8x8 blocks line up at the 16 px offset, so scores differ by
    # about 1% of themselves (measured: at most 3e-5 absolute).
    score = classifier.nsfw_probability(photo(name))
    assert score == pytest.approx(REFERENCE[name], rel=0.05, abs=1e-5)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_safe_fixture_photos_report_nothing(classifier: NsfwClassifier, name: str) -> None:
    result = classifier.check(photo(name))
    assert result == Moderation((), nsfw.MODEL_VERSION)


@pytest.mark.parametrize("side", [300, 4096])
def test_the_answer_does_not_depend_on_the_decode_size(
    classifier: NsfwClassifier, side: int
) -> None:
    # The local engine may hand over a draft decode with its short side near
    # 256 px, or a large photo (which is box-reduced first). Within one point
    # of a 0-100 score that flags at 80 by default.
    full = photo("astronaut.jpg")
    resized = full.resize((side, side), Image.Resampling.BICUBIC)
    assert classifier.nsfw_probability(resized) == pytest.approx(
        classifier.nsfw_probability(full), abs=0.01
    )


def test_input_is_upstreams_bgr_mean_subtracted_centre_crop() -> None:
    # A flat colour survives the resize and JPEG round trip nearly unchanged.
    tensor = to_nsfw_input(Image.new("RGB", (640, 480), (200, 100, 50)))
    assert tensor.shape == (1, 224, 224, 3)
    assert tensor.dtype == np.float32
    blue, green, red = tensor[0, 112, 112]
    assert blue == pytest.approx(50 - 104, abs=2)
    assert green == pytest.approx(100 - 117, abs=2)
    assert red == pytest.approx(200 - 123, abs=2)


def test_grey_and_transparent_photos_are_read_as_rgb(classifier: NsfwClassifier) -> None:
    for mode in ("L", "RGBA", "P"):
        assert classifier.check(Image.new(mode, (320, 240))).model_version == nsfw.MODEL_VERSION


class _Session:
    def __init__(self, nsfw_score: float) -> None:
        self.scores = np.array([[1 - nsfw_score, nsfw_score]], dtype=np.float32)

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (tensor,) = feeds.values()
        assert tensor.shape == (1, 224, 224, 3)
        return [self.scores]


@pytest.mark.parametrize(
    ("score", "labels"),
    [
        (0.93, (ModerationLabel("Explicit Nudity", 93.0),)),
        (0.2, (ModerationLabel("Explicit Nudity", 20.0),)),
        (0.19, ()),
    ],
)
def test_a_score_is_reported_like_rekognitions_top_level_label(
    classifier: NsfwClassifier, monkeypatch: Any, score: float, labels: tuple[Any, ...]
) -> None:
    monkeypatch.setattr(classifier, "_session", _Session(score))
    result = classifier.check(photo("coffee.jpg"))
    assert [(label.name, label.parent) for label in result.labels] == [
        (label.name, label.parent) for label in labels
    ]
    assert [label.confidence for label in result.labels] == pytest.approx(
        [label.confidence for label in labels], abs=1e-3
    )


def test_a_missing_model_names_the_command_not_the_path(settings: Any, tmp_path: Path) -> None:
    settings.FINDLABELS_MODEL_CACHE_DIR = tmp_path
    NsfwClassifier._shared = None
    try:
        with pytest.raises(DetectionError) as caught:
            NsfwClassifier.load()
    finally:
        NsfwClassifier._shared = None
    assert "prepare_model" in caught.value.message
    assert str(tmp_path) not in caught.value.message
    assert not caught.value.permanent


def test_a_damaged_model_gives_a_plain_message(tmp_path: Path) -> None:
    damaged = tmp_path / nsfw.MODEL_FILE
    damaged.write_bytes(b"not a model")
    with pytest.raises(DetectionError) as caught:
        NsfwClassifier(damaged)
    assert str(tmp_path) not in caught.value.message
    assert "onnx" not in caught.value.message.lower()


def test_load_gives_every_caller_one_classifier_from_the_cache(settings: Any) -> None:
    settings.FINDLABELS_MODEL_CACHE_DIR = prepared_model().parent
    NsfwClassifier._shared = None
    try:
        first = NsfwClassifier.load()
        assert NsfwClassifier.load() is first
        assert first.check(photo("flower.jpg")).labels == ()
    finally:
        NsfwClassifier._shared = None


def test_a_failed_run_is_a_detection_error_in_plain_words(
    classifier: NsfwClassifier, monkeypatch: Any
) -> None:
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    class Broken:
        def run(self, outputs: Any, feeds: Any) -> Any:
            raise ort_errors.RuntimeException("/srv/var/models/x.onnx: bad_alloc in Conv")

    monkeypatch.setattr(classifier, "_session", Broken())
    with pytest.raises(DetectionError) as caught:
        classifier.check(photo("coffee.jpg"))
    assert caught.value.message == "The moderation check failed on this server."
    assert not caught.value.permanent
