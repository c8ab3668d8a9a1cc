"""The on-box engine: EfficientNet-Lite, a label taxonomy, faces and objects.

Everything runs in-process with ONNX Runtime; no network at run time. The
photo is decoded once, at the size the largest model needs, and every model
reads that picture. The classifier's 1000 ImageNet probabilities go through
the curated taxonomy (:mod:`.taxonomy`) to become labels a person uses;
BlazeFace (:mod:`.faces`) adds Person and Face, which ImageNet lacks; NanoDet
(:mod:`.objects`) adds COCO-80 objects with boxes. :func:`fuse_objects`
merges the three so that a dog seen by the classifier and the detector is
one Dog label with its boxes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from . import modelcache
from .conf import setting
from .efficientnet import INPUT_NAME, OUTPUT_NAME, Variant, variant_named
from .faces import FaceDetector
from .nsfw import NsfwClassifier
from .objects import MIN_SIDE as OBJECTS_MIN_SIDE
from .objects import Box, ObjectDetector
from .preprocess import load_image, to_classifier_input
from .properties import box_colors, measure
from .runtime import LOAD_ERRORS, default_threads, new_session
from .scenes import scene_labels
from .taxonomy import Taxonomy
from .text import TextReader, text_labels
from .types import (
    PART_MODERATION,
    PART_TEXT,
    BoundingBox,
    Detection,
    DetectionError,
    Instance,
    Label,
    Moderation,
)

logger = logging.getLogger(__name__)

# Small print needs about 1000 px on the photo's long side (750 on the short
# side of a 4:3 photo) to be read; the other models need less.
TEXT_MIN_SIDE = 750

# Labels below this confidence (percent, like Label.confidence) are not worth
# storing: the detail page's slider starts far above it, and the long tail of
# 0.0x% guesses would only bloat the table.
DEFAULT_FLOOR = 1.0

_sessions: dict[Path, ort.InferenceSession] = {}
_sessions_lock = threading.Lock()
_executors: dict[int, ThreadPoolExecutor] = {}


def _background() -> ThreadPoolExecutor:
    """This process's helper threads; threads do not survive fork(), so per pid."""
    pid = os.getpid()
    executor = _executors.get(pid)
    if executor is None:
        with _sessions_lock:
            executor = _executors.setdefault(
                pid, ThreadPoolExecutor(max_workers=4, thread_name_prefix="faces")
            )
    return executor


class LocalDetector:
    """Labels for one photo from the on-box models."""

    name = "local"

    def __init__(
        self,
        variant: Variant,
        *,
        model_dir: Path,
        floor: float = DEFAULT_FLOOR,
        threads: int | None = None,
    ) -> None:
        self.variant = variant
        self.model_dir = model_dir
        self.floor = floor
        self.threads = threads or default_threads()
        self._session: ort.InferenceSession | None = None

    @classmethod
    def from_settings(cls) -> LocalDetector:
        """Reads FINDLABELS_LOCAL_MODEL, FINDLABELS_MODEL_CACHE_DIR,
        FINDLABELS_LOCAL_FLOOR and FINDLABELS_LOCAL_THREADS (all optional)."""
        threads = setting("FINDLABELS_LOCAL_THREADS", None)
        return cls(
            variant_named(),
            model_dir=modelcache.cache_dir(),
            floor=float(setting("FINDLABELS_LOCAL_FLOOR", DEFAULT_FLOOR)),
            threads=int(threads) if threads else None,
        )

    @property
    def model_version(self) -> str:
        return (
            f"{self.variant.name}+taxonomy-{Taxonomy.load().version}"
            f"+{FaceDetector.version}+{ObjectDetector.version}+{TextReader.version}"
        )

    def detect(
        self, data: bytes, *, storage_name: str | None = None, exclude: Sequence[str] = ()
    ) -> Detection:
        """Labels, text, properties and the moderation check for an encoded image.

        ``storage_name`` is unused (bytes suffice); ``exclude`` too: every label
        is kept, so that one the person stops muting shows again at once. A
        failed text or moderation model costs only its part: the labels are
        kept and the detection says which part is missing.
        """
        # One decode, large enough for the classifier's crop, the object
        # detector's 416-pixel input and small print (OCR reads the lines at
        # about 1000 px); faces and the moderation check shrink it themselves.
        img = load_image(data, min_side=max(self.variant.min_side, OBJECTS_MIN_SIDE, TEXT_MIN_SIDE))
        # The small models leave cores idle between layers; run beside the
        # classifier, they cost less than one after the other. Loaded in the
        # helper threads too: a new worker's first photo opens them side by side.
        faces = _background().submit(lambda: FaceDetector.load().detect(img))
        boxes = _background().submit(lambda: ObjectDetector.load().detect(img))
        lines = _background().submit(lambda: TextReader.load().read(img))
        moderated = _background().submit(self.moderation, img) if self.moderate else None
        probabilities = self.classify(img)
        properties = measure(img)
        classified = Taxonomy.load().labels_from_probabilities(probabilities, floor=self.floor)
        labels = fuse_objects(classified, faces.result(), boxes.result(), floor=self.floor)
        incomplete: list[str] = []
        try:
            text = lines.result()
        except DetectionError:
            text, incomplete = (), [PART_TEXT]
        labels = with_box_colors(img, [*labels, *text_labels(text, img.size)])
        labels = merge_labels([*labels, *scene_labels(labels, properties)])
        moderation = None
        if moderated is not None:
            moderation = moderated.result()
            incomplete += [PART_MODERATION] if moderation is None else []
        return Detection(
            self.name,
            self.model_version,
            tuple(labels),
            text=text,
            properties=properties,
            moderation=moderation,
            incomplete=tuple(incomplete),
        )

    @property
    def moderate(self) -> bool:
        return bool(setting("FINDLABELS_MODERATION", True))

    @staticmethod
    def moderation(img: Image.Image) -> Moderation | None:
        """The on-box moderation check, or None when it could not run."""
        try:
            return NsfwClassifier.load().check(img)
        except DetectionError:
            logger.warning("The moderation check failed; the photo stays not checked")
            return None

    def classify(self, img: Image.Image) -> np.ndarray:
        """The 1000 ImageNet-1k class probabilities for an upright RGB image."""
        tensor = to_classifier_input(img, self.variant.resolution, self.variant.crop_fraction)
        logits = self.session().run([OUTPUT_NAME], {INPUT_NAME: tensor})[0][0]
        return softmax(logits)

    def session(self) -> ort.InferenceSession:
        """The process-wide session for this model, created on first use.

        Sessions are shared by model file, so every detector instance and
        every thread of a worker use one copy of the weights; ``run`` is
        thread-safe in ONNX Runtime.
        """
        if self._session is None:
            with _sessions_lock:
                if self._session is None:
                    self._session = self._shared_session()
        return self._session

    def prepare(self) -> None:
        """Load every model now rather than on the first photo.

        For a web worker warming up before its first request.
        """
        self.session()
        Taxonomy.load()
        FaceDetector.load()
        ObjectDetector.load()
        TextReader.load()
        if self.moderate:
            NsfwClassifier.load()

    def _shared_session(self) -> ort.InferenceSession:
        path = self._model_path()
        if path not in _sessions:
            _sessions[path] = self._new_session(path)
        return _sessions[path]

    def _model_path(self) -> Path:
        path = self.model_dir / self.variant.model_file
        if not path.is_file():
            logger.error("Model file %s is missing; run `%s`.", path, modelcache.PREPARE_COMMAND)
            raise DetectionError(
                f"{modelcache.NOT_PREPARED} Run `{modelcache.PREPARE_COMMAND}`.", permanent=False
            )
        return path

    def _new_session(self, path: Path) -> ort.InferenceSession:
        try:
            return new_session(path, threads=self.threads)
        except LOAD_ERRORS as exc:
            # Only complete files are renamed into place, so this is a damaged
            # disk or an older ONNX Runtime; prepare_model replaces the file.
            logger.error("ONNX Runtime cannot load %s: %s", path, exc)
            raise DetectionError(
                f"The label model cannot be loaded; run `{modelcache.PREPARE_COMMAND}` again.",
                permanent=False,
            ) from exc


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    exp = np.exp(shifted)
    return exp / exp.sum()


# Object boxes fainter than this (percent) are not stored: NanoDet lists
# every candidate above 5%, mostly noise a person would never want drawn.
BOX_FLOOR = 20.0
# Boxes of two classes this much on the same spot (IoU) are rival readings
# of one object.
RIVAL_IOU = 0.5


def fuse_objects(
    classified: Sequence[Label], faces: Sequence[Label], boxes: Sequence[Box], *, floor: float
) -> list[Label]:
    """One list of labels from the classifier, the face detector and the object boxes.

    NanoDet is weak alone, so each box's score (its estimate that the box
    is right) is combined with the other models:

    - agreement raises it: the classifier's confidence in the same label
      (a face inside a person box, for Person) is a second, independent
      opinion (see ``_agreement``);
    - contradiction lowers it: where a box of another class covers the same
      spot with a higher combined score, this box is multiplied by
      (1 - that score) (the cat NanoDet also calls a dog).

    The label's confidence is the best of its boxes and the classifier's
    own; its parents come from the taxonomy (which lists every COCO label)
    and are raised to at least the child's confidence, as the taxonomy's
    sums already do for the classifier's labels.
    """
    said = {label.name: label.confidence / 100.0 for label in classified}
    face_boxes = [
        instance for label in faces if label.name == "Face" for instance in label.instances
    ]
    agreed = _agreement(boxes, said, face_boxes)
    # A box under the floor is dropped whatever else happens, and cannot be
    # a rival that lowers a box above it; skipping such boxes saves the
    # quadratic loop below most of its work.
    live = [index for index, score in enumerate(agreed) if score * 100.0 >= floor]
    boxes = [boxes[index] for index in live]
    agreed = [agreed[index] for index in live]
    fused = _contradicted(boxes, agreed)
    found: dict[str, list[Instance]] = {}
    best: dict[str, float] = {}
    for box, score in zip(boxes, fused, strict=True):
        confidence = score * 100.0
        best[box.label] = max(best.get(box.label, 0.0), confidence)
        if confidence >= BOX_FLOOR:
            found.setdefault(box.label, []).append(Instance(box.bounding_box, confidence))
    detected: list[Label] = []
    for name, confidence in best.items():
        if confidence < floor:
            continue
        parents = _parents(name)
        instances = tuple(sorted(found.get(name, []), key=lambda i: i.confidence, reverse=True))
        detected.append(Label(name, confidence, parents=parents, instances=instances))
        for depth, parent in enumerate(parents):
            # The parent's own ancestors where the taxonomy knows them (a
            # Canine is not a Pet), else the rest of the chain.
            detected.append(
                Label(parent, confidence, parents=_parents(parent, parents[depth + 1 :]))
            )
    return merge_labels([*classified, *faces, *detected])


def _agreement(
    boxes: Sequence[Box], said: dict[str, float], faces: Sequence[Instance]
) -> list[float]:
    """Each box's score raised by the other models' agreement.

    A face says where a person is, so it raises the best person box it sits in.
    The classifier only says what the photo shows, not where: its confidence
    raises the best box of that label by 1 - (1 - box) * (1 - classifier),
    and the label's weaker boxes by the same ratio, so that a faint duplicate
    stays faint.
    """
    top: dict[str, float] = {}
    for box in boxes:
        top[box.label] = max(top.get(box.label, 0.0), box.score)
    # A face belongs to one person: the best person box it sits in (boxes
    # come best first).
    unclaimed = list(faces)
    agreed = []
    for box in boxes:
        if box.label == "Person":
            inside = [face for face in unclaimed if _inside(face.bounding_box, box)]
            second = max((face.confidence / 100.0 for face in inside), default=0.0)
            unclaimed = [face for face in unclaimed if face not in inside]
            agreed.append(_either(box.score, second))
        elif box.label not in said:
            agreed.append(box.score)
        else:
            best = top[box.label]
            agreed.append(min(1.0, box.score * _either(best, said[box.label]) / best))
    return agreed


def _either(first: float, second: float) -> float:
    """Two independent opinions that something is there, combined."""
    return 1.0 - (1.0 - first) * (1.0 - second)


def _inside(face: BoundingBox, box: Box) -> bool:
    """Whether the face's centre lies in the box."""
    x = face.left + face.width / 2
    y = face.top + face.height / 2
    outer = box.bounding_box
    return (
        outer.left <= x <= outer.left + outer.width and outer.top <= y <= outer.top + outer.height
    )


def _contradicted(boxes: Sequence[Box], agreed: Sequence[float]) -> list[float]:
    """Each box's score times (1 - the best rival's): a rival is a box of another
    label with a higher score, overlapping it at IoU >= RIVAL_IOU."""
    if not boxes:
        return []
    corners = np.array(
        [
            (b.bounding_box.left, b.bounding_box.top, b.bounding_box.width, b.bounding_box.height)
            for b in boxes
        ]
    )
    corners[:, 2:] += corners[:, :2]
    scores = np.asarray(agreed, dtype=np.float64)
    names = np.array([box.label for box in boxes])
    width = np.minimum(corners[:, None, 2], corners[None, :, 2]) - np.maximum(
        corners[:, None, 0], corners[None, :, 0]
    )
    height = np.minimum(corners[:, None, 3], corners[None, :, 3]) - np.maximum(
        corners[:, None, 1], corners[None, :, 1]
    )
    overlap = np.clip(width, 0.0, None) * np.clip(height, 0.0, None)
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    union = areas[:, None] + areas[None, :] - overlap
    iou = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    rivals = (iou >= RIVAL_IOU) & (names[:, None] != names[None, :])
    rivals &= scores[None, :] > scores[:, None]
    strongest = np.where(rivals, scores[None, :], 0.0).max(axis=1)
    return (scores * (1.0 - strongest)).tolist()


def _parents(name: str, otherwise: tuple[str, ...] = ()) -> tuple[str, ...]:
    taxonomy = Taxonomy.load()
    return taxonomy.parents(name) if name in taxonomy.label_names else otherwise


def with_box_colors(img: Image.Image, labels: list[Label]) -> list[Label]:
    """Each box with its dominant colours, so that "red car" finds a red car."""
    return [
        replace(
            label,
            instances=tuple(
                replace(box, colors=box_colors(img, box.bounding_box)) for box in label.instances
            ),
        )
        if label.instances
        else label
        for label in labels
    ]


def merge_labels(labels: list[Label]) -> list[Label]:
    """One label per name, highest confidence first.

    The taxonomy and the face detector can both say "Person"; a person
    expects it once, with the better confidence and every box.
    """
    merged: dict[str, Label] = {}
    for label in labels:
        seen = merged.get(label.name)
        if seen is None:
            merged[label.name] = label
            continue
        best, other = (label, seen) if label.confidence > seen.confidence else (seen, label)
        merged[label.name] = Label(
            best.name,
            best.confidence,
            parents=tuple(dict.fromkeys(best.parents + other.parents)),
            instances=best.instances + other.instances,
            aliases=tuple(dict.fromkeys(best.aliases + other.aliases)),
            categories=tuple(dict.fromkeys(best.categories + other.categories)),
        )
    return sorted(merged.values(), key=lambda label: label.confidence, reverse=True)
