"""German Traffic Sign Recognition Benchmark as the pickles of the traffic-sign handout.

Layout (also accepted: the common ``train.p``/``valid.p``/``test.p`` and ``signnames.csv``)::

    gtsrb/train.pickle  valid.pickle  test.pickle  label_names.csv

Each pickle is a dict with ``features`` (uint8 N x 32 x 32 x 3, RGB) and ``labels``
(N,), and usually ``sizes`` (original width, height) and ``coords`` (the original
region of interest). They are read with :func:`helpers.safe_pickle.load_pickle`,
which refuses a pickle that tries to run code.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError
from ..safe_pickle import load_pickle
from . import checks
from .base import ArraySplit, Dataset, subsample_per_class
from .spec import DatasetSpec, load_dataset
from .synthetic import synthetic_images, warn_synthetic

NAME = "gtsrb"
SPLITS = {
    "train": ("train.pickle", "train.p"),
    "validation": ("valid.pickle", "valid.p"),
    "test": ("test.pickle", "test.p"),
}
LABEL_FILES = ("label_names.csv", "signnames.csv")
REQUIRED_KEYS = ("features", "labels")
LAYOUT = (
    "  gtsrb/train.pickle, gtsrb/valid.pickle, gtsrb/test.pickle (or train.p, valid.p, test.p)\n"
    "  gtsrb/label_names.csv (or signnames.csv) with columns ClassId,SignName"
)
HOW_TO_GET = (
    "the pickled 32x32 GTSRB files handed out with the traffic-sign assignment (the widely "
    "used traffic-signs-data.zip holds train.p/valid.p/test.p; signnames.csv comes with it). "
    "The original images are at https://benchmark.ini.rub.de/gtsrb_dataset.html."
)


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _looks_valid(folder: Path) -> bool:
    return (
        folder.is_dir()
        and all(_first_existing(folder, n) for n in SPLITS.values())
        and bool(_first_existing(folder, LABEL_FILES))
    )


def read_label_names(path: Path) -> list[str]:
    """Read ``ClassId,SignName`` rows into a list indexed by class id."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip() for c in rows[0][:2]] != ["ClassId", "SignName"]:
        raise DataFormatError(f"{path}: expected a header 'ClassId,SignName', got {rows[:1]}")
    names: dict[int, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        try:
            names[int(row[0])] = row[1].strip()
        except (IndexError, ValueError) as exc:
            raise DataFormatError(f"{path}, line {line}: cannot read {row!r}") from exc
    if sorted(names) != list(range(len(names))):
        raise DataFormatError(f"{path}: class ids must be 0..N-1, got {sorted(names)}")
    return [names[i] for i in range(len(names))]


def read_split(path: Path, num_classes: int) -> ArraySplit:
    """Read and check one GTSRB pickle."""
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected a dict, found {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise DataFormatError(
            f"{path}: missing keys {missing}; found {sorted(map(str, data))}. A GTSRB pickle "
            "holds 'features' (N x 32 x 32 x 3 images) and 'labels' (N,)."
        )
    x = checks.images(path, "features", data["features"], "uint8 N x H x W x 3 images", 4)
    if x.shape[-1] != 3:
        raise DataFormatError(
            f"{path}: 'features' should be uint8 N x H x W x 3 images, got shape {x.shape}"
        )
    y = checks.labels(path, "labels", data["labels"], num_classes)
    if len(x) != len(y):
        raise DataFormatError(f"{path}: {len(x)} images in 'features' but {len(y)} 'labels'")
    extra = {
        key: checks.table(path, key, data[key], len(y), columns)
        for key, columns in (("sizes", 2), ("coords", 4))
        if key in data
    }
    return ArraySplit(x, y, extra)


def read_gtsrb(folder: Path, limit_per_class: int | None = None, validate: bool = True,
               seed: int = 0) -> Dataset:
    """Read a folder of GTSRB pickles (``validate`` is moot: every array is checked)."""
    class_names = read_label_names(_first_existing(folder, LABEL_FILES))  # type: ignore[arg-type]
    splits = {}
    for split, names in SPLITS.items():
        part = read_split(_first_existing(folder, names), len(class_names))  # type: ignore[arg-type]
        splits[split] = part.take(subsample_per_class(part.y, limit_per_class, seed))
    return Dataset(NAME, class_names, splits, source=str(folder))


def synthetic_gtsrb(limit_per_class: int | None = None, validate: bool = True,
                    seed: int = 0) -> Dataset:
    """A 43-class synthetic stand-in of GTSRB's shapes, for quick mode offline."""
    warn_synthetic(NAME)
    n_per_class = limit_per_class or 20
    names = [f"synthetic sign {i}" for i in range(43)]
    splits = {}
    for i, split in enumerate(SPLITS):
        x, y = synthetic_images(
            max(2, n_per_class // (2 if split != "train" else 1)), 43, (32, 32), seed + i
        )
        sizes = np.tile(np.array([[32, 32]], dtype=np.int32), (len(y), 1))
        splits[split] = ArraySplit(x, y, {"sizes": sizes})
    return Dataset(NAME, names, splits, source="synthetic", synthetic=True)


SPEC = DatasetSpec(NAME, LAYOUT, HOW_TO_GET, _looks_valid, read_gtsrb, synthetic_gtsrb,
                   title="GTSRB (Stallkamp et al. 2012), the handout's 32×32 pickles",
                   official_images={"train": 34_799, "validation": 4_410, "test": 12_630},
                   note="the pickles hold whole camera crops resized to 32×32, not cut to the "
                        "sign: `coords` keeps the sign's box and `sizes` the original size")


def load_gtsrb(path: str | Path | None = None, **options: Any) -> Dataset:
    """Load the GTSRB pickles with ``train``/``validation``/``test`` splits.

    No official download of the pickles exists: without them, the error says where to put
    them. ``options`` are those of :func:`helpers.datasets.spec.load_dataset`.
    """
    return load_dataset(SPEC, path, **options)
