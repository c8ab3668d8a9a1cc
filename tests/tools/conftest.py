from __future__ import annotations

# The converted classifier, built once per run, shared with the detection tests.
from ..detection.conftest import classifier_cache

__all__ = ["classifier_cache"]
