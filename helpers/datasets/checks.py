"""Checks of the arrays a dataset file holds, each failure naming the file, key and expectation.

The pickled formats (GTSRB, CIFAR-10) store images, labels and per-image metadata under
keys; these helpers turn whatever is stored there into a NumPy array of the promised
kind or raise :class:`~helpers.errors.DataFormatError`. Nothing is converted silently:
float, bool, string or ``None`` labels are refused rather than truncated, ragged lists
are refused rather than turned into object arrays, and empty arrays are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFormatError


def describe(value: Any) -> str:
    """A short description of a value for error messages: type, and dtype/shape for arrays."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, list | tuple):
        kinds = sorted({type(v).__name__ for v in value[:1000]})
        return f"a {type(value).__name__} of {len(value)} items ({', '.join(kinds) or 'empty'})"
    return f"{type(value).__name__} {value!r:.60}"


def as_array(path: Path, key: str, value: Any, expected: str) -> np.ndarray:
    """``value`` as an array, if it is one already or a rectangular list of plain values."""
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, list | tuple):
        raise DataFormatError(f"{path}: '{key}' should be {expected}, got {describe(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise DataFormatError(
            f"{path}: '{key}' should be {expected}, got {describe(value)} whose items do not "
            "all have the same shape (ragged)"
        ) from None
    if array.dtype == object:
        raise DataFormatError(
            f"{path}: '{key}' should be {expected}, got {describe(value)} (mixed or ragged items)"
        )
    return array


def labels(path: Path, key: str, value: Any, num_classes: int) -> np.ndarray:
    """Integer class labels of shape ``(N,)`` with N >= 1, each in ``0..num_classes-1``."""
    expected = f"N integer class labels in 0..{num_classes - 1}, shape (N,)"
    y = as_array(path, key, value, expected)
    if y.dtype.kind not in "iu":
        raise DataFormatError(
            f"{path}: '{key}' should be {expected}; got {describe(y)} ({y.dtype.kind!r} kind: "
            "labels must be integers, not floats, booleans or strings)"
        )
    if y.ndim != 1:
        raise DataFormatError(f"{path}: '{key}' should be {expected}; got shape {y.shape}")
    if len(y) == 0:
        raise DataFormatError(f"{path}: '{key}' is empty; a split needs at least one image")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise DataFormatError(f"{path}: labels span {low}..{high} in '{key}', expected {expected}")
    return y.astype(np.int64)


def images(path: Path, key: str, value: Any, expected: str, ndim: int) -> np.ndarray:
    """A non-empty uint8 array of ``ndim`` dimensions, none of them zero."""
    x = as_array(path, key, value, expected)
    if x.dtype != np.uint8 or x.ndim != ndim:
        raise DataFormatError(f"{path}: '{key}' should be {expected}, got {describe(x)}")
    if 0 in x.shape:
        raise DataFormatError(
            f"{path}: '{key}' holds no pixels (shape {x.shape}); expected {expected} with N >= 1"
        )
    return x


def table(path: Path, key: str, value: Any, rows: int, columns: int) -> np.ndarray:
    """Per-image numeric metadata of shape ``(rows, columns)`` (e.g. GTSRB's sizes)."""
    expected = f"a numeric array of shape ({rows}, {columns}), one row per image"
    t = as_array(path, key, value, expected)
    if t.dtype.kind not in "iuf" or t.shape != (rows, columns):
        raise DataFormatError(f"{path}: '{key}' should be {expected}, got {describe(t)}")
    return t


def names(path: Path, key: str, value: Any, count: int | None = None) -> list[str]:
    """A list of str or bytes names (decoded as UTF-8), of length ``count`` if given."""
    expected = "a list of names (str or bytes)" + (f" with {count} entries" if count else "")
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "SU":
        value = value.tolist()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | bytes) for v in value):
        raise DataFormatError(f"{path}: '{key}' should be {expected}, got {describe(value)}")
    if (count is not None and len(value) != count) or not value:
        raise DataFormatError(f"{path}: '{key}' should be {expected}, got {len(value)} entries")
    try:
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: '{key}' holds names that are not UTF-8") from None
