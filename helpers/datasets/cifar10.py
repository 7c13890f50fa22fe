"""CIFAR-10 from the official "python version" batches, read by our own code.

Layout (what ``cifar-10-python.tar.gz`` extracts to)::

    cifar10/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta

Each batch is a Python 2 pickle of a dict with ``b"data"`` (uint8, N x 3072, the
1024 red, then green, then blue values of a 32 x 32 image, row by row),
``b"labels"`` and ``b"filenames"``. The reader accepts any number of images per
batch (the shared copy is a class-balanced subset). When no copy is found the
official archive is downloaded into the cache folder and checked by SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import cache_dir
from ..download import download_file, safe_extract
from ..errors import DataFormatError
from ..safe_pickle import load_pickle
from . import checks
from .base import ArraySplit, Dataset, subsample_per_class
from .spec import DatasetSpec, load_dataset
from .synthetic import synthetic_images, warn_synthetic

NAME = "cifar10"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
LAYOUT = (
    "  cifar10/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta\n"
    "  (the extracted official cifar-10-python.tar.gz)"
)
HOW_TO_GET = f"download {URL} (163 MiB) and extract it into cifar10/ (done automatically online)"


def _batch_dir(folder: Path) -> Path:
    return folder / BATCH_DIR if (folder / BATCH_DIR).is_dir() else folder


def _looks_valid(folder: Path) -> bool:
    d = _batch_dir(folder)
    return (
        d.is_dir()
        and (d / "test_batch").is_file()
        and (d / "batches.meta").is_file()
        and any((d / b).is_file() for b in TRAIN_BATCHES)
    )


def _get(d: dict, key: str):
    """Look a key up as bytes (Python 2 pickles) or str."""
    if key.encode() in d:
        return d[key.encode()]
    if key in d:
        return d[key]
    raise KeyError(key)


def read_meta(path: Path) -> list[str]:
    """Class names from ``batches.meta``."""
    meta = load_pickle(path, encoding="bytes")
    if not isinstance(meta, dict):
        raise DataFormatError(f"{path}: expected a dict, found {type(meta).__name__}")
    try:
        names = _get(meta, "label_names")
    except KeyError:
        raise DataFormatError(f"{path}: no 'label_names' entry") from None
    return checks.names(path, "label_names", names)


def read_batch(path: Path, num_classes: int = 10) -> ArraySplit:
    """Read one batch into uint8 N x 32 x 32 x 3 images (channels last) and int64 labels."""
    batch = load_pickle(path, encoding="bytes")
    if not isinstance(batch, dict):
        raise DataFormatError(f"{path}: expected a dict, found {type(batch).__name__}")
    try:
        raw_data, raw_labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as exc:
        raise DataFormatError(
            f"{path}: missing key {exc}; a CIFAR-10 batch holds b'data' and b'labels'"
        ) from None
    data = checks.images(path, "data", raw_data, "uint8 N x 3072 rows", 2)
    if data.shape[1] != 3072:
        raise DataFormatError(f"{path}: 'data' should be uint8 N x 3072, got shape {data.shape}")
    labels = checks.labels(path, "labels", raw_labels, num_classes)
    if len(data) != len(labels):
        raise DataFormatError(f"{path}: {len(data)} images in 'data' but {len(labels)} 'labels'")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    extra = {}
    try:
        filenames = _get(batch, "filenames")
    except KeyError:
        pass
    else:
        extra["filenames"] = np.asarray(checks.names(path, "filenames", filenames, len(labels)))
    return ArraySplit(np.ascontiguousarray(x), labels, extra)


def _concat(parts: list[ArraySplit]) -> ArraySplit:
    keys = set.intersection(*(set(p.extra) for p in parts)) if parts else set()
    return ArraySplit(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        {k: np.concatenate([p.extra[k] for p in parts]) for k in keys},
    )


def read_cifar10(folder: Path, limit_per_class: int | None = None, validate: bool = True,
                 seed: int = 0) -> Dataset:
    """Read the extracted batches (``validate`` is moot: every array is checked)."""
    d = _batch_dir(folder)
    class_names = read_meta(d / "batches.meta")
    train = _concat(
        [read_batch(d / b, len(class_names)) for b in TRAIN_BATCHES if (d / b).is_file()]
    )
    test = read_batch(d / "test_batch", len(class_names))
    splits = {
        name: part.take(subsample_per_class(part.y, limit_per_class, seed))
        for name, part in (("train", train), ("test", test))
    }
    return Dataset(NAME, class_names, splits, source=str(d))


def _fetch(download: bool) -> Path | None:
    """The copy in the cache folder, downloaded there first when allowed."""
    dest = cache_dir() / NAME
    if _looks_valid(dest):
        return dest
    return fetch_cifar10(dest) if download else None


def fetch_cifar10(dest: Path, url: str | None = None, sha256: str | None = None) -> Path:
    """Download and extract the official archive into ``dest``; return ``dest``.

    ``url`` and ``sha256`` default to the module's :data:`URL` and :data:`SHA256`, read
    when called (tests point ``URL`` at a local server).
    """
    url, sha256 = url or URL, sha256 or SHA256
    if _looks_valid(dest):
        return dest
    archive = download_file(url, dest / "cifar-10-python.tar.gz", sha256)
    safe_extract(archive, dest)
    archive.unlink()
    if not _looks_valid(dest):
        raise DataFormatError(f"{url} did not contain {BATCH_DIR}/ as expected")
    return dest


def synthetic_cifar10(limit_per_class: int | None = None, validate: bool = True,
                      seed: int = 0) -> Dataset:
    """A synthetic stand-in with CIFAR-10's shapes, for quick mode offline."""
    warn_synthetic(NAME)
    n_per_class = limit_per_class or 20
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    splits = {}
    for i, split in enumerate(("train", "test")):
        x, y = synthetic_images(n_per_class, 10, (32, 32), seed + i)
        splits[split] = ArraySplit(x, y)
    return Dataset(NAME, [f"synthetic {n}" for n in names], splits, "synthetic", synthetic=True)


SPEC = DatasetSpec(NAME, LAYOUT, HOW_TO_GET, _looks_valid, read_cifar10, synthetic_cifar10,
                   fetch=_fetch, url=URL,
                   title="CIFAR-10 (Krizhevsky 2009), the official Python batches",
                   official_images={"train": 50_000, "test": 10_000})


def load_cifar10(path: str | Path | None = None, **options: Any) -> Dataset:
    """Load CIFAR-10 with ``train`` and ``test`` splits.

    ``path`` is the folder holding ``cifar-10-batches-py`` (or the batches themselves);
    without one, the official archive is downloaded into the cache folder unless
    ``download=False``. ``options`` are those of :func:`helpers.datasets.spec.load_dataset`.
    """
    return load_dataset(SPEC, path, **options)
