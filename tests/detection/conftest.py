from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.models.efficientnet import ensure_model

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
REFERENCE_LOGITS = Path(__file__).resolve().parents[1] / "fixtures" / "reference_logits.npz"


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding the converted EfficientNet-Lite0, built once per run."""
    directory = tmp_path_factory.mktemp("model-cache")
    ensure_model("efficientnet-lite0", directory)
    return directory


@pytest.fixture
def classifier_settings(settings: Any, classifier_cache: Path) -> Path:
    """Point the classifier at the session's model cache (not var/models)."""
    settings.FINDLABELS_MODEL_CACHE_DIR = classifier_cache
    settings.FINDLABELS_LOCAL_MODEL = "efficientnet-lite0"
    return classifier_cache
