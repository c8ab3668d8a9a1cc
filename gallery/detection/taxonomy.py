"""ImageNet-1k class probabilities as labels people use.

A classifier's 1000 classes are too narrow and too odd to show ("tiger cat",
"Egyptian cat"). ``taxonomy.json``, generated from WordNet hypernyms and
curated by ``tools/build_taxonomy.py``, maps every class to a few friendly
labels ("Cat") and gives each label its parents ("Pet", "Mammal", "Animal"),
like Amazon Rekognition's. A label's confidence is the probability mass of
all the classes that reach it, so three cat classes at 40, 30 and 20 percent
make "Cat" 90 percent sure although no single class is.

Two rules keep that sum honest (issue 8):

* A parent keeps the mass scattered beyond its strongest answer in full only
  when that answer carries real weight. An "answer" is an own label with the
  classes sharing it (the coat-pattern classes together are one "Cat"
  answer, each dog breed one answer). A leaf close-up that the classifier
  spreads over many insect, frog and snake classes at a few percent each is
  not "Animal" at 80 percent; a palace that it splits between palace, bell
  tower and monastery is a "Building" all the same.
* Species and breeds few people know ("Coucal", "Tench") carry a ``sure``
  threshold: below it they are left out and the photo shows their parent.

The file also names every label the other on-box models emit (the COCO-80
object detector, the scene rules) with its parents, so :meth:`Taxonomy.parents`
answers for labels no ImageNet class maps to.

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
SUPPORTED_FORMAT = 2

# How much of a parent's mass beyond its strongest answer it keeps: half
# when no answer below it reaches WEAK percent, all of it from REAL percent
# on, linearly between. Worked through: "Animal" made of 80 percent scattered
# over answers of at most 8 percent is 44 (hidden by the page's 50 percent
# slider); a dog split over breeds of 20, 15, 10... adding up to 83 is a 67
# percent "Dog"; a palace at 28 with bell tower and monastery (64 in all) is
# a 62 percent "Building". A parent never exceeds its summed mass.
SCATTER_KEPT = 0.5
WEAK, REAL = 10.0, 30.0


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
        label_sure: Sequence[float] | None = None,
        coco: dict[str, str] | None = None,
    ) -> None:
        if len(class_labels) != len(wnids):
            raise ValueError(f"{len(wnids)} classes but {len(class_labels)} label lists")
        if len(label_parents) != len(label_names):
            raise ValueError(f"{len(label_names)} labels but {len(label_parents)} parent lists")
        if label_sure is not None and len(label_sure) != len(label_names):
            raise ValueError(f"{len(label_names)} labels but {len(label_sure)} thresholds")
        known = set(label_names)
        stray = sorted(set((coco or {}).values()) - known)
        if stray:
            raise ValueError(f"COCO classes map to names that are not labels: {stray}")
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
        self._coco = dict(coco or {})
        self._sure = np.asarray(
            label_sure if label_sure is not None else [0.0] * len(self.label_names),
            dtype=np.float64,
        )
        self._own_rows, self._own_cols = self._own_labels(class_labels)
        self._answer_of, self._answer_starts, self._answer_targets = self._answers_below()

    def _own_labels(
        self, class_labels: Sequence[Sequence[int]]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(class, label) pairs where the label is the class's own: none of its
        other labels is narrower. A label's own classes are direct evidence for
        it, like a child label."""
        rows: list[int] = []
        cols: list[int] = []
        for row, labels in enumerate(class_labels):
            names = {self.label_names[i] for i in labels}
            above = {p for name in names for p in self.parents(name)}
            for col in sorted(set(labels)):
                if self.label_names[col] not in above:
                    rows.append(row)
                    cols.append(col)
        return np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)

    def _answers_below(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Every (answer, label at or above it) pair, sorted by label, as
        ``np.maximum.reduceat`` wants them: the answer of each pair, where
        each label's run starts, and which label each run is for."""
        answers = sorted(set(self._own_cols.tolist()))
        pairs = sorted(
            (self._label_index[above], answer)
            for answer in answers
            for above in (self.label_names[answer], *self._parents[answer])
        )
        targets = np.asarray([label for label, _ in pairs], dtype=np.intp)
        starts = np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
        answer_of = np.asarray([answer for _, answer in pairs], dtype=np.intp)
        return answer_of, starts.astype(np.intp), targets[starts]

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
            label_sure=[float(label.get("sure", 0.0)) for label in document["labels"]],
            coco=document["coco"],
        )

    @property
    def class_count(self) -> int:
        return len(self.wnids)

    def parents(self, label: str) -> tuple[str, ...]:
        """All ancestors of ``label``, nearest first.

        Every label any on-box model emits is known here, including those no
        ImageNet class maps to ("Giraffe", "Kitchen"); an unknown name is a
        ``KeyError``.
        """
        return self._parents[self._label_index[label]]

    def __contains__(self, label: object) -> bool:
        return label in self._label_index

    def coco_label(self, coco_name: str) -> str:
        """The label for a COCO-80 class name as the detector emits it ("cow" -> "Cow")."""
        return self._coco[coco_name]

    def sure_threshold(self, label: str) -> float:
        """The confidence below which ``label`` is left out for its parent (0: never)."""
        return float(self._sure[self._label_index[label]])

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
        softmax outputs can add up to a hair over 1. A parent's confidence is
        pulled from that sum towards its strongest answer when that answer
        is weak (``SCATTER_KEPT``, ``WEAK``, ``REAL``).
        Obscure labels below their ``sure`` threshold are left out.
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
        count = len(self.label_names)
        sums = np.bincount(self._cols, weights=probs[self._rows], minlength=count)
        confidence = np.minimum(sums * 100.0, 100.0)
        # Each answer's mass (an own label with the classes sharing it), then
        # the strongest answer at or below every label.
        answers = np.bincount(self._own_cols, weights=probs[self._own_rows], minlength=count)
        strongest = np.zeros(count)
        strongest[self._answer_targets] = np.maximum.reduceat(
            answers[self._answer_of], self._answer_starts
        )
        strongest = np.minimum(strongest * 100.0, confidence)
        weight = np.clip((strongest - WEAK) / (REAL - WEAK), 0.0, 1.0)
        share = SCATTER_KEPT + (1.0 - SCATTER_KEPT) * weight
        confidence = strongest + share * (confidence - strongest)
        kept = np.flatnonzero((confidence >= floor) & (confidence >= self._sure))
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
