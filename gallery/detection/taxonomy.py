"""ImageNet-1k class probabilities as labels people use.

A classifier's 1000 classes are too narrow and too odd to show ("tiger cat",
"Egyptian cat"). ``taxonomy.json``, generated from WordNet hypernyms and
curated by ``tools/build_taxonomy.py``, maps every class to a few friendly
labels ("Cat") and gives each label its parents ("Pet", "Mammal", "Animal"),
like Amazon Rekognition's. A label's confidence is the probability mass of
all the classes that reach it, so three cat classes at 40, 30 and 20 percent
make "Cat" 90 percent sure although no single class is.

This module needs only the JSON file and numpy; WordNet is a build-time input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .types import Label

DATA_FILE = Path(__file__).with_name("taxonomy.json")
SUPPORTED_FORMAT = 1


class Taxonomy:
    """The class-to-label mapping, held as a sparse 0/1 matrix (classes x labels)."""

    def __init__(
        self,
        *,
        version: str,
        wnids: Sequence[str],
        label_names: Sequence[str],
        label_parents: Sequence[Sequence[str]],
        class_labels: Sequence[Sequence[int]],
    ) -> None:
        if len(class_labels) != len(wnids):
            raise ValueError(f"{len(wnids)} classes but {len(class_labels)} label lists")
        if len(label_parents) != len(label_names):
            raise ValueError(f"{len(label_names)} labels but {len(label_parents)} parent lists")
        known = set(label_names)
        for name, parents in zip(label_names, label_parents, strict=True):
            unknown = [p for p in parents if p not in known]
            if unknown:
                raise ValueError(f"label {name!r} has parents that are not labels: {unknown}")
        self.version = version
        self.wnids: tuple[str, ...] = tuple(wnids)
        self.label_names: tuple[str, ...] = tuple(label_names)
        self._parents: tuple[tuple[str, ...], ...] = tuple(tuple(p) for p in label_parents)
        self._label_index = {name: i for i, name in enumerate(self.label_names)}
        self._class_index = {wnid: i for i, wnid in enumerate(self.wnids)}
        # Coordinate form of the matrix: entry k says class rows[k] counts
        # towards label cols[k]. Each (class, label) pair appears once, so a
        # label reached by several WordNet paths still counts a class once.
        rows: list[int] = []
        cols: list[int] = []
        for row, labels in enumerate(class_labels):
            unique = sorted(set(labels))
            if not unique:
                raise ValueError(f"class {self.wnids[row]} maps to no label")
            if unique[0] < 0 or unique[-1] >= len(self.label_names):
                raise ValueError(f"class {self.wnids[row]} refers to a label that does not exist")
            rows.extend([row] * len(unique))
            cols.extend(unique)
        self._rows: npt.NDArray[np.intp] = np.asarray(rows, dtype=np.intp)
        self._cols: npt.NDArray[np.intp] = np.asarray(cols, dtype=np.intp)
        self._rows.setflags(write=False)
        self._cols.setflags(write=False)

    @classmethod
    def load(cls) -> Taxonomy:
        """The taxonomy shipped with the app, parsed once per process."""
        return _shipped_taxonomy()

    @classmethod
    def from_file(cls, path: Path) -> Taxonomy:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != SUPPORTED_FORMAT:
            raise ValueError(f"{path}: unsupported taxonomy format {document.get('format')!r}")
        return cls(
            version=str(document["version"]),
            wnids=[c["wnid"] for c in document["classes"]],
            label_names=[label["name"] for label in document["labels"]],
            label_parents=[label["parents"] for label in document["labels"]],
            class_labels=[c["labels"] for c in document["classes"]],
        )

    @property
    def class_count(self) -> int:
        return len(self.wnids)

    def parents(self, label: str) -> tuple[str, ...]:
        """All ancestors of ``label``, nearest first."""
        return self._parents[self._label_index[label]]

    def labels_for_class(self, wnid: str) -> tuple[str, ...]:
        """Every label a class counts towards, its own and all their parents."""
        row = self._class_index[wnid]
        return tuple(self.label_names[col] for col in self._cols[self._rows == row])

    def labels_from_probabilities(
        self, probabilities: npt.ArrayLike, floor: float = 1.0
    ) -> list[Label]:
        """Labels at or above ``floor`` percent, highest confidence first.

        ``probabilities`` is a classifier's softmax output, one value per
        class in ``wnids`` order. Each label's confidence is the sum of its
        classes' probabilities as a percentage, capped at 100 because float
        softmax outputs can add up to a hair over 1.
        """
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.shape != (self.class_count,):
            raise ValueError(
                f"expected {self.class_count} class probabilities, got shape {probs.shape}"
            )
        if not np.all(np.isfinite(probs)):
            raise ValueError("class probabilities must be finite numbers")
        # Sparse matrix-vector product: scatter-add each class's probability
        # into its labels.
        sums = np.bincount(self._cols, weights=probs[self._rows], minlength=len(self.label_names))
        confidence = np.minimum(sums * 100.0, 100.0)
        kept = np.flatnonzero(confidence >= floor)
        # Stable sort over name-ordered labels: ties come out alphabetically.
        ranked = kept[np.argsort(-confidence[kept], kind="stable")]
        # One conversion to Python objects, not one numpy scalar per label.
        names, parents = self.label_names, self._parents
        return [
            Label(name=names[i], confidence=value, parents=parents[i])
            for i, value in zip(ranked.tolist(), confidence[ranked].tolist(), strict=True)
        ]


@cache
def _shipped_taxonomy() -> Taxonomy:
    return Taxonomy.from_file(DATA_FILE)
