"""The running app only loads .onnx files: model building stays in tools/models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_ONLY = ("onnx", "tflite", "tools")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["gallery", "accounts", "findlabels"])
def test_no_app_module_imports_a_model_building_library(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & set(BUILD_ONLY))
        for path in (ROOT / package).rglob("*.py")
        if path.name != "prepare_model.py"  # runs the builders, imported lazily
    }

    assert {name: found for name, found in offenders.items() if found} == {}
