"""Class balancing for imbalanced training sets (GTSRB): resampled indices or loss weights.

Each function takes the integer labels of a split; the index functions return a shuffled
index array to ``take`` from the split, :func:`class_weights` a ``class_weight`` for ``fit``.
"""

from __future__ import annotations

import numpy as np


def oversample_indices(y: np.ndarray, seed: int = 0, target: int | None = None) -> np.ndarray:
    """Indices that repeat minority-class examples until every class has ``target`` (default:
    the largest class's count). Each class's own examples are all kept; extras are drawn at
    random with replacement. Pair with augmentation so repeated copies look different."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = int(counts.max()) if target is None else target
    out = []
    for c in np.flatnonzero(counts):
        idx = np.flatnonzero(y == c)
        extra = rng.choice(idx, size=max(0, target - len(idx)), replace=True)
        out.append(np.concatenate([idx, extra]))
    return rng.permutation(np.concatenate(out))


def undersample_indices(y: np.ndarray, seed: int = 0, target: int | None = None) -> np.ndarray:
    """Indices keeping at most ``target`` random examples per class (default: smallest class)."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = int(counts[counts > 0].min()) if target is None else target
    out = [rng.permutation(np.flatnonzero(y == c))[:target] for c in np.flatnonzero(counts)]
    return rng.permutation(np.concatenate(out))


def cycle_to(index: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``index`` repeated, each pass in a fresh random order, and cut to exactly ``size``.

    Gives a small resampled set (e.g. :func:`undersample_indices`) the same epoch length as
    the full set, so that comparisons run the same number of gradient steps.
    """
    rng = np.random.default_rng(seed)
    index = np.asarray(index)
    if len(index) == 0:
        raise ValueError("cannot cycle an empty index")
    passes = -(-size // len(index))  # ceiling division
    return np.concatenate([rng.permutation(index) for _ in range(passes)])[:size]


def class_weights(y: np.ndarray) -> dict[int, float]:
    """``n_samples / (n_classes * count)`` per class, as scikit-learn's 'balanced' mode."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}
