"""Objects with boxes from NanoDet-g.

The converted model must be in the model cache (``prepare_model``, run by
``make test``); a missing model is a failure, never a skip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from gallery.detection import objects
from gallery.detection.objects import ObjectDetector
from gallery.detection.taxonomy import Taxonomy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTOS = FIXTURES / "photos"


def _reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_nanodet_reference", FIXTURES / "make_nanodet_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    return ObjectDetector.load()


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as img:
        return img.convert("RGB")


@pytest.mark.parametrize("name", ["chelsea_cat", "motorcycle", "astronaut"])
def test_the_converted_model_matches_tensorflow_js(detector: ObjectDetector, name: str) -> None:
    script = _reference_script()
    reference = np.load(FIXTURES / "nanodet_reference.npz")
    scores, distributions = detector.raw(script.reference_input(PHOTOS / f"{name}.jpg"))

    # Both run float16 weights widened to float32; only summation order differs.
    np.testing.assert_allclose(scores.max(axis=1), reference[f"{name}/best"], atol=1e-4)
    top = reference[f"{name}/top"]
    np.testing.assert_allclose(scores[top], reference[f"{name}/top_scores"], atol=1e-4)
    np.testing.assert_allclose(distributions[top], reference[f"{name}/top_boxes"], atol=2e-3)


def test_it_boxes_the_motorcycle(detector: ObjectDetector) -> None:
    boxes = detector.detect(photo("motorcycle.jpg"))

    best = boxes[0]
    assert best.label == "Motorcycle" and best.score > 0.6
    # The motorbike fills the middle of the frame: x 0.13-0.92, y 0.16-0.91.
    box = best.bounding_box
    assert 0.05 < box.left < 0.25 and 0.8 < box.left + box.width < 1.0
    assert 0.05 < box.top < 0.3 and 0.8 < box.top + box.height <= 1.0


def test_boxes_are_ratios_of_a_tall_photo(detector: ObjectDetector) -> None:
    # Grace Hopper's portrait is taller than wide: the letterbox borders are
    # left and right, and the person box must still span her whole height.
    person = next(b for b in detector.detect(photo("grace_hopper.jpg")) if b.label == "Person")

    assert person.score > 0.6
    assert person.bounding_box.height > 0.9
    assert person.bounding_box.left + person.bounding_box.width <= 1.0


def _one_cell(
    cell: int, class_index: int, score: float, sides: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    scores = np.zeros((len(objects._CENTRES), 80), dtype=np.float32)
    distributions = np.full((len(objects._CENTRES), 44), -50.0, dtype=np.float32)
    scores[cell, class_index] = score
    for side, bin_ in enumerate(sides):
        distributions[cell, side * 11 + bin_] = 50.0  # all weight on one bin
    return scores, distributions


def test_it_decodes_distances_from_the_cell_centre_times_the_stride() -> None:
    # Cell 3 of row 2 on the stride-8 level: centre (28, 20) in input pixels.
    scores, distributions = _one_cell(2 * 52 + 3, 16, 0.9, (1, 2, 3, 4))

    [(class_index, score, corners)] = objects.decode(scores, distributions)

    assert class_index == 16 and score == pytest.approx(0.9)
    np.testing.assert_allclose(corners, [28 - 8, 20 - 16, 28 + 24, 20 + 32], atol=1e-6)


def test_it_decodes_the_coarsest_level_with_its_stride() -> None:
    # First cell of the stride-32 level: centre (16, 16); 2 bins = 64 px.
    scores, distributions = _one_cell(2704 + 676, 0, 0.7, (0, 0, 2, 2))

    [(_, _, corners)] = objects.decode(scores, distributions)

    np.testing.assert_allclose(corners, [16, 16, 80, 80], atol=1e-6)


def test_suppression_is_per_class() -> None:
    scores, distributions = _one_cell(1000, 15, 0.8, (3, 3, 3, 3))
    # The neighbouring cell sees nearly the same box, once as cat, once as dog.
    scores[1001, 15] = 0.6
    scores[1001, 16] = 0.5
    distributions[1001] = distributions[1000]

    found = objects.decode(scores, distributions)

    assert [(index, round(score, 2)) for index, score, _ in found] == [(15, 0.8), (16, 0.5)]


def test_scores_at_or_below_the_threshold_are_dropped() -> None:
    scores, distributions = _one_cell(10, 2, objects.SCORE_THRESHOLD, (1, 1, 1, 1))

    assert objects.decode(scores, distributions) == []


def test_coco_names_read_as_the_taxonomy_says_them() -> None:
    names = {name: objects.label_name(name) for name in objects.COCO_CLASSES}

    assert names["dining table"] == "Dining Table"
    assert names["cell phone"] == "Mobile Phone"
    assert names["mouse"] == "Computer Mouse"
    assert len(set(names.values())) == 80
    taxonomy = Taxonomy.load()
    assert "Table" in taxonomy.parents("Dining Table")
    assert taxonomy.parents("Kite") == ("Toy",)  # the toy, not ImageNet's bird


def test_the_input_is_the_photo_centred_in_black_bgr_and_normalised() -> None:
    # A 2:1 photo, pure red: 416x208 in the middle, black bands above and below.
    tensor, place = objects.to_input(Image.new("RGB", (800, 400), (255, 0, 0)))

    assert tensor.shape == (1, 3, 416, 416) and tensor.dtype == np.float32
    assert (place.left, place.top, place.width, place.height) == (0, 104, 416, 208)
    black = -np.array([103.53, 116.28, 123.675]) / np.array([57.375, 57.12, 58.395])
    red_bgr = (np.array([0, 0, 255]) - np.array([103.53, 116.28, 123.675])) / np.array(
        [57.375, 57.12, 58.395]
    )
    np.testing.assert_allclose(tensor[0, :, 50, 200], black, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, :, 208, 200], red_bgr, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, :, 380, 200], black, rtol=1e-5)
