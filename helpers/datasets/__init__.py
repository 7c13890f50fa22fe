"""The four datasets, each declared by a spec and read from its official on-disk format.

One loading path (:func:`helpers.datasets.spec.load_dataset`) resolves the data folder the
same way for all (explicit path, ``DATA_DIR``, ``<repo>/data``, then the cache folder and a
download where an official URL exists), falls back to a synthetic stand-in only when asked
(quick mode) and returns a :class:`~helpers.datasets.base.Dataset` that keeps its class
names. ``load("gtsrb", ...)`` loads by name; ``load_gtsrb`` and the others are the same call.
"""

from pathlib import Path
from typing import Any

from . import ahe, cats_dogs, cifar10, gtsrb
from .ahe import load_ahe
from .balance import class_weights, oversample_indices, undersample_indices
from .base import ArraySplit, Dataset, FileSplit, stratified_holdout, subsample_per_class
from .cats_dogs import build_small_split, load_cats_dogs
from .cifar10 import load_cifar10
from .folders import check_image, scan_split
from .gtsrb import load_gtsrb
from .spec import DatasetSpec, copy_notes, describe_copy, load_dataset

SPECS: dict[str, DatasetSpec] = {
    "cats_dogs": cats_dogs.SPEC,
    "cifar10": cifar10.SPEC,
    "gtsrb": gtsrb.SPEC,
    "ahe": ahe.SPEC,
}


def load(name: str, path: str | Path | None = None, *, quick: bool = False,
         **options: Any) -> Dataset:
    """Load a dataset by name (one of :data:`SPECS`) the way a run's mode wants it.

    ``quick=True`` never downloads and allows the synthetic stand-in; full mode downloads
    where an official URL exists and never stands in. ``options`` (``limit_per_class``,
    ``seed``, ...) are those of :func:`~helpers.datasets.spec.load_dataset` and win.
    """
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(SPECS)}")
    options = {"allow_synthetic": quick, "download": not quick, **options}
    return load_dataset(SPECS[name], path, **options)


__all__ = [
    "SPECS",
    "DatasetSpec",
    "ArraySplit",
    "Dataset",
    "FileSplit",
    "build_small_split",
    "check_image",
    "copy_notes",
    "describe_copy",
    "class_weights",
    "load",
    "load_ahe",
    "load_cats_dogs",
    "load_cifar10",
    "load_dataset",
    "load_gtsrb",
    "oversample_indices",
    "scan_split",
    "stratified_holdout",
    "subsample_per_class",
    "undersample_indices",
]
