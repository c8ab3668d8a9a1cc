"""Face and person labels from BlazeFace full range.

These tests need the converted model in the model cache, which the set-up
step (`prepare_model`, run by `make test`) puts there. A missing model is
a failure, never a skip: the engine would be broken for real.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gallery.detection import faces
from gallery.detection.faces import FaceDetector
from gallery.detection.types import DetectionError, Label

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.load()


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


def by_name(labels: list[Label]) -> dict[str, Label]:
    return {label.name: label for label in labels}


def centre(label: Label, index: int = 0) -> tuple[float, float]:
    box = label.instances[index].bounding_box
    return box.left + box.width / 2, box.top + box.height / 2


def assert_boxes_inside_photo(label: Label) -> None:
    for instance in label.instances:
        box = instance.bounding_box
        assert 0.0 <= box.left <= 1.0 and 0.0 <= box.top <= 1.0
        assert 0.0 < box.width <= 1.0 - box.left + 1e-9
        assert 0.0 < box.height <= 1.0 - box.top + 1e-9


def test_it_finds_grace_hoppers_face(detector: FaceDetector) -> None:
    labels = by_name(detector.detect(photo("grace_hopper.jpg")))

    assert set(labels) == {"Face", "Person"}
    face = labels["Face"]
    assert len(face.instances) == 1
    # Her face spans roughly x 0.31-0.72, y 0.20-0.55 of the 512x600 portrait.
    x, y = centre(face)
    assert 0.42 < x < 0.60
    assert 0.28 < y < 0.46
    assert 0.30 < face.instances[0].bounding_box.width < 0.52
    assert face.confidence >= 60
    assert face.confidence == face.instances[0].confidence


def test_face_is_a_kind_of_person_with_the_same_confidence(detector: FaceDetector) -> None:
    labels = by_name(detector.detect(photo("grace_hopper.jpg")))

    assert labels["Face"].parents == ("Person",)
    assert labels["Person"].parents == ()
    assert labels["Person"].confidence == labels["Face"].confidence
    assert labels["Person"].instances == ()


def test_it_finds_the_astronauts_face(detector: FaceDetector) -> None:
    face = by_name(detector.detect(photo("astronaut.jpg")))["Face"]

    assert len(face.instances) == 1
    x, y = centre(face)
    assert 0.38 < x < 0.50
    assert 0.17 < y < 0.31
    assert face.confidence >= 80


def test_it_finds_no_face_in_a_flower(detector: FaceDetector) -> None:
    assert detector.detect(photo("flower.jpg")) == []


def test_it_finds_two_people_side_by_side_and_maps_each_box_back(detector: FaceDetector) -> None:
    # A wide 1024x600 picture is letterboxed top and bottom, so a wrong
    # mapping back to the photo would move both boxes vertically.
    pair = Image.new("RGB", (1024, 600))
    pair.paste(photo("grace_hopper.jpg"), (0, 0))
    pair.paste(photo("astronaut.jpg"), (512, 44))

    face = by_name(detector.detect(pair))["Face"]

    assert len(face.instances) == 2
    centres = sorted(centre(face, i) for i in range(2))
    (grace_x, grace_y), (astronaut_x, astronaut_y) = centres
    assert 0.20 < grace_x < 0.30 and 0.28 < grace_y < 0.46
    assert 0.67 < astronaut_x < 0.76 and 0.20 < astronaut_y < 0.34
    confidences = [instance.confidence for instance in face.instances]
    assert confidences == sorted(confidences, reverse=True)
    assert face.confidence == confidences[0]
    assert_boxes_inside_photo(face)


@pytest.mark.parametrize(
    ("crop", "clipped_side"),
    [((200, 0, 512, 600), "left"), ((0, 0, 330, 600), "right"), ((0, 150, 512, 600), "top")],
)
def test_a_face_cut_by_the_edge_gets_a_box_clipped_to_the_photo(
    detector: FaceDetector, crop: tuple[int, int, int, int], clipped_side: str
) -> None:
    face = by_name(detector.detect(photo("grace_hopper.jpg").crop(crop)))["Face"]

    assert_boxes_inside_photo(face)
    box = face.instances[0].bounding_box
    edge = {"left": box.left, "right": 1.0 - box.left - box.width, "top": box.top}[clipped_side]
    assert edge == pytest.approx(0.0, abs=1e-6)


def test_it_accepts_grey_and_transparent_images(detector: FaceDetector) -> None:
    grace = photo("grace_hopper.jpg")

    for mode in ("L", "RGBA"):
        face = by_name(detector.detect(grace.convert(mode)))["Face"]
        assert len(face.instances) == 1


def test_converted_model_matches_the_tflite_reference(detector: FaceDetector) -> None:
    # Recorded from Google's LiteRT interpreter running the original .tflite
    # file on this input; a layout slip in the conversion changes them all.
    nhwc = np.random.default_rng(0).uniform(-1.0, 1.0, (1, 192, 192, 3)).astype(np.float32)
    session = detector._session
    boxes, scores = session.run(None, {session.get_inputs()[0].name: nhwc.transpose(0, 3, 1, 2)})

    logits = scores[0, :, 0]
    top = np.argsort(-logits)[:5]
    assert top.tolist() == [597, 549, 598, 645, 550]
    np.testing.assert_allclose(
        logits[top], [-3.0896, -3.2629, -3.2659, -3.2797, -3.3141], atol=2e-3
    )
    np.testing.assert_allclose(boxes[0, 597, :4], [-1.791, -1.314, 60.391, 60.386], atol=5e-3)
    assert float(logits.mean()) == pytest.approx(-6.48887, abs=1e-3)
    assert float(np.abs(boxes).mean()) == pytest.approx(14.64643, abs=1e-3)


def test_weighted_nms_merges_overlapping_boxes_by_score() -> None:
    boxes = np.array(
        [[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [5.0, 5.0, 6.0, 6.0]], dtype=np.float32
    )
    scores = np.array([0.9, 0.6, 0.7], dtype=np.float32)

    kept = faces._weighted_nms(boxes, scores)

    assert [score for _, score in kept] == pytest.approx([0.9, 0.7])
    np.testing.assert_allclose(kept[0][0], [0.04, 0.0, 1.04, 1.0], atol=1e-6)
    np.testing.assert_allclose(kept[1][0], boxes[2])


def test_load_builds_one_detector_for_all_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FaceDetector, "_shared", None)
    built: list[FaceDetector] = []
    start = threading.Barrier(6)

    def load() -> None:
        start.wait()
        built.append(FaceDetector.load())

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(built) == 6
    assert all(detector is built[0] for detector in built)


def test_a_missing_model_names_the_set_up_step(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings.FINDLABELS_MODEL_CACHE_DIR = tmp_path
    monkeypatch.setattr(FaceDetector, "_shared", None)

    with pytest.raises(DetectionError, match="prepare_model") as raised:
        FaceDetector.load()
    assert raised.value.permanent is False


def test_a_damaged_model_names_the_set_up_step(tmp_path: Path) -> None:
    damaged = tmp_path / "faces.onnx"
    damaged.write_bytes(b"not a model")

    with pytest.raises(DetectionError, match="prepare_model") as raised:
        FaceDetector(damaged)
    assert str(tmp_path) not in raised.value.message
