"""Containers shared by the four dataset loaders and the lookup of dataset folders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import default_data_dirs
from ..errors import DataNotFoundError


@dataclass
class ArraySplit:
    """Images held in memory: ``x`` is uint8 ``(N, H, W, 3)``, ``y`` int64 ``(N,)``.

    ``extra`` keeps per-image arrays a format also carries (GTSRB's original sizes
    and regions of interest, CIFAR's file names), aligned with ``x``.
    """

    x: np.ndarray
    y: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, index: np.ndarray) -> ArraySplit:
        """A new split holding the rows in ``index``."""
        return ArraySplit(
            self.x[index], self.y[index], {k: v[index] for k, v in self.extra.items()}
        )


@dataclass
class FileSplit:
    """Images on disk: one path and one integer label per image."""

    paths: list[str]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, index: np.ndarray) -> FileSplit:
        return FileSplit([self.paths[i] for i in index], self.y[index])


@dataclass
class Dataset:
    """A labelled dataset split into named parts (``train``, ``validation``, ``test``).

    Attributes:
        name: short name (``"gtsrb"``, ``"ahe"``, ...).
        class_names: human-readable class names; label ``i`` is ``class_names[i]``.
        splits: the parts, each an :class:`ArraySplit` or a :class:`FileSplit`.
        source: where the data was read from, or ``"synthetic"``.
        synthetic: True for a quick-mode stand-in made when no real data exists.
        skipped: ``(path, reason)`` for every file the loader left out.
    """

    name: str
    class_names: list[str]
    splits: dict[str, ArraySplit | FileSplit]
    source: str
    synthetic: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __getitem__(self, split: str) -> ArraySplit | FileSplit:
        try:
            return self.splits[split]
        except KeyError:
            raise KeyError(
                f"{self.name} has no split {split!r}; it has {list(self.splits)}"
            ) from None

    def counts(self) -> dict[str, list[int]]:
        """Images per class for every split."""
        return {
            s: np.bincount(part.y, minlength=self.num_classes).tolist()
            for s, part in self.splits.items()
        }

    def describe(self) -> dict:
        """A JSON-friendly summary: source, classes and images per split."""
        return {
            "dataset": self.name,
            "source": self.source,
            "synthetic": self.synthetic,
            "classes": self.num_classes,
            "images": {s: len(p) for s, p in self.splits.items()},
            "skipped_files": len(self.skipped),
        }


def subsample_per_class(y: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Indices of at most ``limit`` samples of each class, drawn with ``seed``, in order.

    ``limit=None`` keeps everything. Used for the quick-mode subsets.
    """
    if limit is None:
        return np.arange(len(y))
    if limit < 1:
        raise ValueError(f"limit per class must be at least 1, got {limit}")
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(y == c))[:limit] for c in np.unique(y)]
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def stratified_holdout(
    y: np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(keep, holdout)`` with ``fraction`` of every class held out.

    Used to carve a validation set out of a training split (CIFAR-10, AHE) so that model
    choices never look at the test set. Each class keeps at least one example.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        held.append(idx[:n])
    holdout = np.sort(np.concatenate(held)) if held else np.arange(0)
    keep = np.setdiff1d(np.arange(len(y)), holdout)
    return keep, holdout


def find_dataset_dir(
    dataset: str,
    explicit: str | Path | None,
    looks_valid: Callable[[Path], bool],
    expected_layout: str,
    how_to_get: str,
    search: Sequence[Path] | None = None,
) -> Path | None:
    """Resolve where a dataset lives: the explicit path, then ``DATA_DIR``, then ``<repo>/data``.

    Returns the first folder that ``looks_valid`` accepts, or None if nothing was
    found (the caller may then download). An explicit path that is not valid is an
    error straight away: the user asked for that folder.

    Raises:
        DataNotFoundError: ``explicit`` was given but does not hold the dataset.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if looks_valid(path):
            return path
        raise DataNotFoundError(missing_message(dataset, [path], expected_layout, how_to_get))
    for root in search if search is not None else default_data_dirs():
        candidate = root / dataset
        if looks_valid(candidate):
            return candidate
    return None


def missing_message(
    dataset: str, looked_in: Sequence[Path], expected_layout: str, how_to_get: str
) -> str:
    """The one error text for a dataset that cannot be found."""
    places = "\n".join(f"  - {p}" for p in looked_in)
    return (
        f"The {dataset} dataset was not found. Looked in:\n{places}\n"
        f"Expected layout:\n{expected_layout}\n"
        f"How to get it: {how_to_get}\n"
        "Put it under <repo>/data/ or point the DATA_DIR environment variable at the folder "
        "that holds it."
    )


def search_roots(explicit: str | Path | None, dataset: str) -> list[Path]:
    """The folders a loader looked in, for error messages."""
    if explicit is not None:
        return [Path(explicit)]
    return [root / dataset for root in default_data_dirs()]
