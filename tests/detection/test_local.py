"""The on-box engine's own wiring: bytes -> classifier -> taxonomy + faces.

The taxonomy and the face detector have their own tests; here they are
replaced by small stand-ins that record what the engine hands them, so that
these tests check the engine and nothing else.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from gallery.detection import get_detector, local
from gallery.detection.efficientnet import ensure_model
from gallery.detection.local import LocalDetector, merge_labels, softmax
from gallery.detection.preprocess import load_image
from gallery.detection.types import BoundingBox, DetectionError, Instance, Label

from .conftest import PHOTOS, REFERENCE_LOGITS


class StandInTaxonomy:
    version: ClassVar[str] = "test1234"
    calls: ClassVar[list[tuple[np.ndarray, float]]] = []

    @classmethod
    def load(cls) -> StandInTaxonomy:
        return cls()

    def labels_from_probabilities(self, probabilities: np.ndarray, floor: float) -> list[Label]:
        self.calls.append((probabilities, floor))
        top = int(np.argmax(probabilities))
        return [
            Label(f"imagenet-{top}", float(probabilities[top]) * 100, parents=("Thing",)),
            Label("Person", 12.0, parents=("Thing",)),
        ]


class StandInFaces:
    version: ClassVar[str] = "faces-test"
    seen: ClassVar[list[Image.Image]] = []
    face = Instance(BoundingBox(0.4, 0.2, 0.2, 0.3), 97.0)

    @classmethod
    def load(cls) -> StandInFaces:
        return cls()

    def detect(self, img: Image.Image) -> list[Label]:
        self.seen.append(img)
        return [
            Label("Face", 97.0, parents=("Person",), instances=(self.face,)),
            Label("Person", 97.0),
        ]


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    StandInTaxonomy.calls = []
    StandInFaces.seen = []
    monkeypatch.setattr(local, "Taxonomy", StandInTaxonomy)
    monkeypatch.setattr(local, "FaceDetector", StandInFaces)


@pytest.fixture
def detector(classifier_settings: Path, stand_ins: None) -> LocalDetector:
    return LocalDetector.from_settings()


def test_it_labels_a_cat_photo_through_the_taxonomy(detector: LocalDetector) -> None:
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())

    probabilities, floor = StandInTaxonomy.calls[0]
    assert probabilities.shape == (1000,)
    assert probabilities.sum() == pytest.approx(1.0)
    assert int(np.argmax(probabilities)) == 282  # tiger cat
    assert floor == local.DEFAULT_FLOOR
    assert detection.engine == "local"
    assert detection.model_version == "efficientnet-lite0+taxonomy-test1234+faces-test"
    names = [label.name for label in detection.labels]
    assert names[0] in ("Face", "Person")
    assert "imagenet-282" in names


def test_probabilities_are_the_softmax_of_the_reference_logits(detector: LocalDetector) -> None:
    with np.load(REFERENCE_LOGITS) as reference:
        logits = reference["logits"][list(reference["photos"]).index("coffee.jpg")]

    got = detector.classify(load_image((PHOTOS / "coffee.jpg").read_bytes()))

    np.testing.assert_allclose(got, softmax(logits), atol=1e-6)


def test_face_detector_gets_the_upright_reduced_photo(detector: LocalDetector) -> None:
    with Image.open(PHOTOS / "grace_hopper.jpg") as img:
        upright = img.convert("RGB").resize((2048, 2400))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned on its side, shown upright
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", exif=exif.tobytes())

    detector.detect(out.getvalue())

    seen = StandInFaces.seen[0]
    assert seen.mode == "RGB"
    assert seen.width < seen.height  # portrait again, as the person sees it
    assert detector.variant.min_side <= min(seen.size) < 2 * detector.variant.min_side


def test_person_found_twice_is_stored_once_with_the_better_confidence_and_the_boxes(
    detector: LocalDetector,
) -> None:
    detection = detector.detect((PHOTOS / "grace_hopper.jpg").read_bytes())

    people = [label for label in detection.labels if label.name == "Person"]
    assert len(people) == 1
    assert people[0].confidence == 97.0
    assert people[0].parents == ("Thing",)


def test_labels_come_out_highest_confidence_first() -> None:
    labels = [Label("A", 5.0), Label("B", 50.0), Label("A", 9.0, instances=()), Label("C", 1.0)]

    merged = merge_labels(labels)

    assert [(label.name, label.confidence) for label in merged] == [
        ("B", 50.0),
        ("A", 9.0),
        ("C", 1.0),
    ]


def test_a_file_that_is_not_an_image_is_a_detection_error(detector: LocalDetector) -> None:
    with pytest.raises(DetectionError, match="not an image") as caught:
        detector.detect(b"%PDF-1.7 this is a PDF, not a photo")

    assert caught.value.permanent
    assert StandInTaxonomy.calls == [] and StandInFaces.seen == []


def test_floor_setting_reaches_the_taxonomy(
    settings: Any, classifier_settings: Path, stand_ins: None
) -> None:
    settings.FINDLABELS_LOCAL_FLOOR = 5

    LocalDetector.from_settings().detect((PHOTOS / "flower.jpg").read_bytes())

    assert StandInTaxonomy.calls[0][1] == 5.0


def test_unknown_model_setting_fails_with_a_clear_message(
    settings: Any, classifier_settings: Path
) -> None:
    settings.FINDLABELS_LOCAL_MODEL = "efficientnet-lite7"

    with pytest.raises(DetectionError, match="Unknown local model 'efficientnet-lite7'"):
        LocalDetector.from_settings()


def test_get_detector_builds_the_local_engine(classifier_settings: Path) -> None:
    get_detector.cache_clear()
    try:
        detector = get_detector("local")
    finally:
        get_detector.cache_clear()

    assert isinstance(detector, LocalDetector)
    assert detector.name == "local"
    assert detector.model_dir == classifier_settings


def test_detectors_and_threads_share_one_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stand_ins: None
) -> None:
    ensure_model("efficientnet-lite0", tmp_path)
    opened: list[Path] = []
    real_open = local.new_session

    def counting_open(path: Path, *, threads: int | None = None) -> Any:
        opened.append(path)
        return real_open(path, threads=threads)

    monkeypatch.setattr(local, "new_session", counting_open)
    first = LocalDetector(local.variant_named("efficientnet-lite0"), model_dir=tmp_path)
    second = LocalDetector(local.variant_named("efficientnet-lite0"), model_dir=tmp_path)
    data = (PHOTOS / "motorcycle.jpg").read_bytes()
    results: list[int] = []

    def run(detector: LocalDetector) -> None:
        results.append(int(np.argmax(detector.classify(load_image(data)))))

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(opened) == 1
    assert first.session() is second.session()
    assert results == [665] * 6  # moped, every time


def test_a_damaged_cached_model_is_rebuilt_once(tmp_path: Path, stand_ins: None) -> None:
    path = ensure_model("efficientnet-lite0", tmp_path)
    path.write_bytes(b"not an onnx model")
    detector = LocalDetector(local.variant_named("efficientnet-lite0"), model_dir=tmp_path)

    probabilities = detector.classify(load_image((PHOTOS / "coffee.jpg").read_bytes()))

    assert int(np.argmax(probabilities)) == 967  # espresso
    assert path.stat().st_size > 1_000_000


def test_an_unwritable_model_cache_is_a_detection_error(tmp_path: Path, stand_ins: None) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    detector = LocalDetector(local.variant_named("efficientnet-lite0"), model_dir=blocked / "m")

    with pytest.raises(DetectionError, match="Cannot write the converted model") as caught:
        detector.session()
    assert not caught.value.permanent


def test_the_real_engine_finds_a_cat_and_a_face() -> None:
    # The models prepared in the configured cache (`manage.py prepare_model`).
    detector = LocalDetector.from_settings()

    cat = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    portrait = detector.detect((PHOTOS / "grace_hopper.jpg").read_bytes())

    cat_labels = {label.name: label for label in cat.labels}
    assert cat_labels["Cat"].confidence > 80
    assert "Pet" in cat_labels["Cat"].parents
    portrait_labels = {label.name: label for label in portrait.labels}
    assert len(portrait_labels["Face"].instances) == 1
    assert portrait_labels["Person"].confidence > 50
    assert cat.model_version.startswith("efficientnet-lite0+taxonomy-")
    assert cat.model_version.endswith("+" + local.FaceDetector.version)
