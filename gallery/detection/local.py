"""The on-box engine: EfficientNet-Lite, a label taxonomy and a face detector.

Everything runs in-process with ONNX Runtime; no network at run time. The
classifier's 1000 ImageNet probabilities go through the curated taxonomy
(:mod:`.taxonomy`) to become labels a person uses, and BlazeFace
(:mod:`.faces`) adds Person and Face, which ImageNet lacks.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from .conf import setting
from .efficientnet import INPUT_NAME, OUTPUT_NAME, Variant, cache_dir, ensure_model, variant_named
from .faces import FaceDetector
from .preprocess import load_image, to_classifier_input
from .runtime import LOAD_ERRORS, default_threads, new_session
from .taxonomy import Taxonomy
from .types import Detection, DetectionError, Label

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
            model_dir=cache_dir(),
            floor=float(setting("FINDLABELS_LOCAL_FLOOR", DEFAULT_FLOOR)),
            threads=int(threads) if threads else None,
        )

    @property
    def model_version(self) -> str:
        return f"{self.variant.name}+taxonomy-{Taxonomy.load().version}+{FaceDetector.version}"

    def detect(self, data: bytes, *, storage_name: str | None = None) -> Detection:
        """Labels for an encoded image; ``storage_name`` is unused (bytes suffice)."""
        # Decoded just large enough for the classifier's crop; the face
        # detector looks at 192 px, so this serves it too.
        img = load_image(data, min_side=self.variant.min_side)
        # The face model's small layers leave cores idle; run beside the
        # classifier, it costs ~4 ms less per photo on two cores.
        faces = _background().submit(FaceDetector.load().detect, img)
        probabilities = self.classify(img)
        labels = [
            *Taxonomy.load().labels_from_probabilities(probabilities, floor=self.floor),
            *faces.result(),
        ]
        return Detection(self.name, self.model_version, tuple(merge_labels(labels)))

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

        For ``prepare_model`` and for a web worker warming up before its first
        request; converts the classifier if its cache file is missing.
        """
        self.session()
        Taxonomy.load()
        FaceDetector.load()

    def _shared_session(self) -> ort.InferenceSession:
        path = self._model_path()
        if path not in _sessions:
            _sessions[path] = self._new_session(path)
        return _sessions[path]

    def _model_path(self) -> Path:
        try:
            return ensure_model(self.variant.name, self.model_dir)
        except OSError as exc:
            raise DetectionError(
                f"Cannot write the converted model to {self.model_dir}: {exc.strerror or exc}.",
                permanent=False,
            ) from exc

    def _new_session(self, path: Path) -> ort.InferenceSession:
        try:
            return new_session(path, threads=self.threads)
        except LOAD_ERRORS:
            # Not a half-written file (those are never renamed into place),
            # but a damaged disk or an older ONNX Runtime: rebuild it once.
            path.unlink(missing_ok=True)
            path = self._model_path()
        try:
            return new_session(path, threads=self.threads)
        except LOAD_ERRORS as exc:
            raise DetectionError(
                f"ONNX Runtime cannot load {path}: {exc}", permanent=False
            ) from exc


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    exp = np.exp(shifted)
    return exp / exp.sum()


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
