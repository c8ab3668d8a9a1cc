"""The on-box engine's own wiring: bytes -> classifier -> taxonomy + faces + objects.

The taxonomy and the face and object detectors have their own tests; here
they are replaced by small stand-ins that record what the engine hands them,
so that these tests check the engine and nothing else. The fusion of the
three (``fuse_objects``) is tested with the real taxonomy.
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
from gallery.detection.local import BOX_FLOOR, LocalDetector, fuse_objects, merge_labels, softmax
from gallery.detection.objects import MIN_SIDE as OBJECTS_MIN_SIDE
from gallery.detection.objects import Box
from gallery.detection.preprocess import load_image
from gallery.detection.taxonomy import Taxonomy
from gallery.detection.types import (
    PART_MODERATION,
    PART_TEXT,
    BoundingBox,
    DetectionError,
    Instance,
    Label,
    Moderation,
    TextLine,
)
from tools.models.efficientnet import ensure_model

from .conftest import PHOTOS, REFERENCE_LOGITS


class StandInTaxonomy:
    version: ClassVar[str] = "test1234"
    calls: ClassVar[list[tuple[np.ndarray, float]]] = []
    label_names: ClassVar[tuple[str, ...]] = ("Thing",)

    def parents(self, label: str) -> tuple[str, ...]:
        return ()

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


class StandInObjects:
    version: ClassVar[str] = "objects-test"
    seen: ClassVar[list[Image.Image]] = []

    @classmethod
    def load(cls) -> StandInObjects:
        return cls()

    def detect(self, img: Image.Image) -> list[Box]:
        self.seen.append(img)
        return []


class StandInText:
    version: ClassVar[str] = "text-test"
    seen: ClassVar[list[Image.Image]] = []
    error: ClassVar[DetectionError | None] = None

    @classmethod
    def load(cls) -> StandInText:
        return cls()

    def read(self, img: Image.Image) -> tuple[TextLine, ...]:
        self.seen.append(img)
        if self.error:
            raise self.error
        return (TextLine("OPEN LATE", 96.0, BoundingBox(0.1, 0.1, 0.3, 0.05)),)


class StandInModeration:
    seen: ClassVar[list[Image.Image]] = []
    error: ClassVar[DetectionError | None] = None

    @classmethod
    def load(cls) -> StandInModeration:
        return cls()

    def check(self, img: Image.Image) -> Moderation:
        self.seen.append(img)
        if self.error:
            raise self.error
        return Moderation((), "moderation-test")


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    StandInTaxonomy.calls = []
    StandInFaces.seen = []
    StandInObjects.seen = []
    StandInText.seen, StandInText.error = [], None
    StandInModeration.seen, StandInModeration.error = [], None
    monkeypatch.setattr(local, "Taxonomy", StandInTaxonomy)
    monkeypatch.setattr(local, "FaceDetector", StandInFaces)
    monkeypatch.setattr(local, "ObjectDetector", StandInObjects)
    monkeypatch.setattr(local, "TextReader", StandInText)
    monkeypatch.setattr(local, "NsfwClassifier", StandInModeration)


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
    assert detection.model_version == (
        "efficientnet-lite0+taxonomy-test1234+faces-test+objects-test+text-test"
    )
    names = [label.name for label in detection.labels]
    assert names[0] in ("Face", "Person")
    assert "imagenet-282" in names


def test_probabilities_are_the_softmax_of_the_reference_logits(detector: LocalDetector) -> None:
    with np.load(REFERENCE_LOGITS) as reference:
        logits = reference["logits"][list(reference["photos"]).index("coffee.jpg")]

    got = detector.classify(load_image((PHOTOS / "coffee.jpg").read_bytes()))

    np.testing.assert_allclose(got, softmax(logits), atol=1e-6)


def test_face_and_object_detectors_get_the_one_upright_reduced_photo(
    detector: LocalDetector,
) -> None:
    with Image.open(PHOTOS / "grace_hopper.jpg") as img:
        upright = img.convert("RGB").resize((2048, 2400))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned on its side, shown upright
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", exif=exif.tobytes())

    detector.detect(out.getvalue())

    seen = StandInFaces.seen[0]
    assert StandInObjects.seen[0] is seen  # one decode for every model
    assert seen.mode == "RGB"
    assert seen.width < seen.height  # portrait again, as the person sees it
    assert StandInText.seen[0] is seen
    # Large enough for the classifier's crop, the detector's 416 px input and
    # small print; no larger than a draft decode must be.
    needed = max(detector.variant.min_side, OBJECTS_MIN_SIDE, local.TEXT_MIN_SIDE)
    assert needed <= min(seen.size) < 2 * needed


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
    assert StandInTaxonomy.calls == [] and StandInFaces.seen == [] and StandInObjects.seen == []


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


def test_a_missing_model_names_the_set_up_step(tmp_path: Path, stand_ins: None) -> None:
    detector = LocalDetector(local.variant_named("efficientnet-lite0"), model_dir=tmp_path)

    with pytest.raises(DetectionError, match="prepare_model") as caught:
        detector.session()
    assert not caught.value.permanent
    assert str(tmp_path) not in caught.value.message


def test_a_damaged_model_is_not_rebuilt_at_run_time(tmp_path: Path, stand_ins: None) -> None:
    variant = local.variant_named("efficientnet-lite0")
    (tmp_path / variant.model_file).write_bytes(b"not an onnx model")
    detector = LocalDetector(variant, model_dir=tmp_path)

    with pytest.raises(DetectionError, match="prepare_model") as caught:
        detector.session()
    assert not caught.value.permanent
    assert (tmp_path / variant.model_file).read_bytes() == b"not an onnx model"


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
    assert f"+{local.FaceDetector.version}+" in cat.model_version
    assert "+" + local.ObjectDetector.version + "+" in cat.model_version


def test_the_real_engine_boxes_the_motorcycle_and_the_cat() -> None:
    detector = LocalDetector.from_settings()

    bike = {
        label.name: label
        for label in detector.detect((PHOTOS / "motorcycle.jpg").read_bytes()).labels
    }
    cat = {
        label.name: label
        for label in detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes()).labels
    }

    assert bike["Motorcycle"].confidence > 80
    assert bike["Motorcycle"].instances[0].confidence > 80
    assert "Vehicle" in bike["Motorcycle"].parents
    # One Cat label, boxed; NanoDet's second reading of the cat as a dog is
    # contradicted by the classifier and its box is not kept.
    assert len(cat["Cat"].instances) == 1 and cat["Cat"].instances[0].confidence > 80
    assert "Dog" not in cat or (cat["Dog"].confidence < 10 and not cat["Dog"].instances)


# -- fusion -----------------------------------------------------------------

WHOLE = BoundingBox(0.1, 0.1, 0.8, 0.8)
CORNER = BoundingBox(0.0, 0.0, 0.2, 0.2)


def named(labels: list[Label]) -> dict[str, Label]:
    names = [label.name for label in labels]
    assert len(names) == len(set(names)), f"a label twice in {names}"
    return {label.name: label for label in labels}


def test_a_dog_seen_by_both_models_is_one_dog_label_with_its_box() -> None:
    classified = [Label("Dog", 80.0, parents=("Canine", "Pet", "Mammal", "Animal"))]

    labels = named(fuse_objects(classified, [], [Box("Dog", 0.5, WHOLE)], floor=1.0))

    dog = labels["Dog"]
    # Two opinions at 0.8 and 0.5 agree: 1 - 0.2 * 0.5.
    assert dog.confidence == pytest.approx(90.0)
    assert [instance.bounding_box for instance in dog.instances] == [WHOLE]
    assert dog.instances[0].confidence == pytest.approx(90.0)
    assert dog.parents == ("Canine", "Pet", "Mammal", "Animal")
    assert labels["Animal"].confidence == pytest.approx(90.0)
    # Raised parents keep their own ancestors: a Canine is not a Pet.
    assert labels["Canine"].parents == Taxonomy.load().parents("Canine")
    assert "Pet" not in labels["Canine"].parents


def test_a_weaker_second_box_of_the_same_label_stays_weaker() -> None:
    classified = [Label("Dog", 80.0)]
    boxes = [Box("Dog", 0.5, WHOLE), Box("Dog", 0.1, CORNER)]

    dog = named(fuse_objects(classified, [], boxes, floor=1.0))["Dog"]

    # The classifier says a dog is there, not where: the faint box is raised
    # by the same ratio as the best one (0.9 / 0.5), not to 90%.
    assert [round(i.confidence) for i in dog.instances] == [90]
    assert dog.confidence == pytest.approx(90.0)


def test_a_box_on_the_spot_of_a_confirmed_rival_is_lowered() -> None:
    classified = [Label("Cat", 95.0, parents=("Pet", "Mammal", "Animal"))]
    boxes = [Box("Cat", 0.54, WHOLE), Box("Dog", 0.41, WHOLE), Box("Person", 0.6, WHOLE)]

    labels = named(fuse_objects(classified, [], boxes, floor=1.0))

    assert labels["Cat"].confidence > 95
    for rival in ("Dog", "Person"):
        assert rival not in labels or labels[rival].confidence < 5


def test_the_detector_alone_keeps_its_score_and_names_parents_the_taxonomy_lacks() -> None:
    labels = named(fuse_objects([], [], [Box("Giraffe", 0.7, WHOLE)], floor=1.0))

    assert labels["Giraffe"].confidence == pytest.approx(70.0)
    assert labels["Giraffe"].parents == ("Mammal", "Animal")
    assert labels["Mammal"].confidence == pytest.approx(70.0)
    assert labels["Animal"].parents == ()


def test_a_face_raises_the_person_box_it_sits_in_and_only_that_one() -> None:
    face = Instance(BoundingBox(0.4, 0.2, 0.1, 0.1), 90.0)
    faces = [Label("Face", 90.0, parents=("Person",), instances=(face,)), Label("Person", 90.0)]
    boxes = [Box("Person", 0.6, WHOLE), Box("Person", 0.3, BoundingBox(0.3, 0.1, 0.5, 0.5))]

    person = named(fuse_objects([], faces, boxes, floor=1.0))["Person"]

    assert [round(i.confidence) for i in person.instances] == [96, 30]
    assert person.confidence == pytest.approx(96.0)


def test_faint_boxes_are_not_stored() -> None:
    labels = named(fuse_objects([], [], [Box("Bench", 0.15, WHOLE)], floor=1.0))

    assert labels["Bench"].confidence == pytest.approx(15.0)
    assert labels["Bench"].instances == ()
    assert BOX_FLOOR > 15


def test_one_detect_also_reads_text_measures_the_photo_and_checks_it(
    detector: LocalDetector,
) -> None:
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    assert [line.text for line in detection.text] == ["OPEN LATE"]
    assert "Text" in [label.name for label in detection.labels]
    assert detection.properties is not None and detection.properties.colors
    assert detection.moderation == Moderation((), "moderation-test")
    assert detection.incomplete == ()
    # Every model read the same single decode.
    (img,) = {id(seen) for seen in StandInFaces.seen + StandInText.seen + StandInModeration.seen}
    assert img == id(StandInFaces.seen[0])


def test_boxes_carry_their_colours(detector: LocalDetector) -> None:
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    face = next(label for label in detection.labels if label.name == "Face")
    assert face.instances[0].colors


def test_unread_text_keeps_the_labels_and_says_so(detector: LocalDetector) -> None:
    StandInText.error = DetectionError("The text in this photo could not be read.")
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    assert detection.text == ()
    assert detection.incomplete == (PART_TEXT,)
    assert "imagenet-282" in [label.name for label in detection.labels]


def test_a_failed_moderation_check_keeps_the_labels_and_says_so(
    detector: LocalDetector,
) -> None:
    StandInModeration.error = DetectionError("The moderation check cannot run.")
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    assert detection.moderation is None
    assert detection.incomplete == (PART_MODERATION,)
    assert detection.labels


def test_with_moderation_turned_off_no_check_runs(detector: LocalDetector, settings: Any) -> None:
    settings.FINDLABELS_MODERATION = False
    detection = detector.detect((PHOTOS / "chelsea_cat.jpg").read_bytes())
    assert detection.moderation is None
    assert detection.incomplete == ()
    assert StandInModeration.seen == []
