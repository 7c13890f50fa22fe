"""Run configuration shared by every notebook: the quick/full switch, paths and seeds.

The suite has two modes that run the *same* cells:

* **full** (the default): the graded run on all the data;
* **quick**: small real subsets and few epochs, so that every notebook runs in
  seconds to minutes. ``make test`` selects it by setting ``CNN_SUITE_QUICK=1``;
  a notebook's papermill ``parameters`` cell can also force it with ``QUICK = True``.

Data is looked up in this order: an explicit path handed to a loader, then the
folder named by the ``DATA_DIR`` environment variable, then ``<repo>/data``.
Downloads (where an official URL exists) go to the cache folder, ``<repo>/data``
unless ``CNN_SUITE_CACHE_DIR`` says otherwise; a folder that was handed in is
only ever read.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

QUICK_ENV = "CNN_SUITE_QUICK"
DATA_DIR_ENV = "DATA_DIR"
CACHE_DIR_ENV = "CNN_SUITE_CACHE_DIR"
RESULTS_DIR_ENV = "CNN_SUITE_RESULTS_DIR"

REPO_ROOT = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def quick_from_env() -> bool:
    """Return True when ``CNN_SUITE_QUICK`` asks for quick mode.

    Raises:
        ValueError: the variable holds something that is not a yes/no word.
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{QUICK_ENV}={raw!r}: use 1/0, true/false, yes/no or on/off")


def default_data_dirs() -> list[Path]:
    """Folders searched for datasets when no explicit path is given, in order."""
    dirs: list[Path] = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    local = REPO_ROOT / "data"
    if local not in dirs:
        dirs.append(local)
    return dirs


def cache_dir() -> Path:
    """Writable folder for downloads and for datasets this project builds itself."""
    return Path(os.environ.get(CACHE_DIR_ENV) or REPO_ROOT / "data").expanduser()


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras/TensorFlow, and make TensorFlow ops deterministic."""
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:  # pragma: no cover - keras is a hard dependency of the notebooks
        return
    import tensorflow as tf

    # Same seed, same numbers: deterministic kernels and tf.data ordering (small CPU cost).
    tf.config.experimental.enable_op_determinism()


@dataclass(frozen=True)
class RunConfig:
    """What one notebook run needs to know about its mode.

    Attributes:
        name: notebook name, e.g. ``"00_datasets"``.
        quick: quick mode (small subsets) or full mode (the graded run).
        seed: global random seed.
        data_dir: explicit data folder handed in by the caller, or None.
    """

    name: str
    quick: bool
    seed: int = 42
    data_dir: Path | None = None

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def pick(self, quick: T, full: T) -> T:
        """Return ``quick`` in quick mode, ``full`` otherwise: same cell, smaller numbers."""
        return quick if self.quick else full

    def data_path(self, dataset: str) -> Path | None:
        """Explicit path for ``dataset`` when a data folder was handed in, else None."""
        return None if self.data_dir is None else self.data_dir / dataset


def make_config(
    name: str, quick: bool | None = None, seed: int = 42, data_dir: str | Path | None = None
) -> RunConfig:
    """Build the run configuration and seed every random generator.

    Args:
        name: notebook name.
        quick: force quick (True) or full (False) mode; None follows ``CNN_SUITE_QUICK``.
        seed: random seed for Python, NumPy and TensorFlow.
        data_dir: optional folder holding the datasets (``<data_dir>/gtsrb`` ...).
    """
    q = quick_from_env() if quick is None else bool(quick)
    set_seed(seed)
    return RunConfig(
        name=name, quick=q, seed=seed, data_dir=Path(data_dir).expanduser() if data_dir else None
    )
