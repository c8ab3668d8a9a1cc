"""Where the app finds its on-box model files.

The app only loads ``.onnx`` (and small data) files from this cache; they are
made by ``python manage.py prepare_model`` (``tools/models/``). A missing file
is an operator's matter: the person is told that labels are not available, the
log says which command to run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .conf import setting
from .types import DetectionError

logger = logging.getLogger(__name__)

PREPARE_COMMAND = "python manage.py prepare_model"
NOT_PREPARED = "The on-box label models are not installed on this server yet."

_REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """``FINDLABELS_MODEL_CACHE_DIR``, or ``var/models`` beside the project."""
    return Path(setting("FINDLABELS_MODEL_CACHE_DIR", _REPO_ROOT / "var" / "models"))


def model_file(name: str) -> Path:
    """The cached file ``name`` (relative to the cache), or DetectionError if missing."""
    path = cache_dir() / name
    if not path.is_file():
        logger.error("Model file %s is missing; run `%s`.", path, PREPARE_COMMAND)
        raise DetectionError(f"{NOT_PREPARED} Run `{PREPARE_COMMAND}`.", permanent=False)
    return path
