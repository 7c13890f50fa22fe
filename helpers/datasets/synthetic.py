"""Clearly labelled synthetic stand-ins, for quick mode on a machine with no data at all.

They have the shapes and class counts of the real datasets and a pattern a small
CNN can learn (a class-specific colour and stripe direction under noise), so that
``make test`` exercises every cell offline. Loaders only make them when asked with
``allow_synthetic=True``; notebooks pass ``allow_synthetic=cfg.quick``, so full mode
never sees them, and :class:`helpers.reporting.Run` refuses them in full mode too.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image


def synthetic_images(
    n_per_class: int, num_classes: int, size: tuple[int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``n_per_class`` uint8 RGB images per class, returned with int64 labels."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = [], []
    for c in range(num_classes):
        angle = np.pi * c / max(num_classes, 1)
        hue = np.array(
            [
                np.sin(2.1 * c) * 0.5 + 0.5,
                np.sin(2.1 * c + 2.0) * 0.5 + 0.5,
                np.sin(2.1 * c + 4.0) * 0.5 + 0.5,
            ],
            dtype=np.float32,
        )
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            stripes = 0.5 + 0.5 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 0.6 + phase)
            img = stripes[..., None] * hue[None, None, :] * 200 + rng.normal(0, 20, (h, w, 3))
            xs.append(np.clip(img + 25, 0, 255).astype(np.uint8))
            ys.append(c)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def write_synthetic_folder(
    dest: Path,
    class_names: list[str],
    per_split: dict[str, int],
    size: tuple[int, int],
    seed: int = 0,
) -> Path:
    """Write a ``dest/<split>/<class>/*.jpg`` tree of synthetic images (kept if present)."""
    marker = dest / "SYNTHETIC.txt"
    if marker.exists():
        return dest
    for i, (split, n) in enumerate(per_split.items()):
        x, y = synthetic_images(n, len(class_names), size, seed + i)
        for j, (img, label) in enumerate(zip(x, y, strict=True)):
            folder = dest / split / class_names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"synthetic_{j:05d}.jpg", quality=90)
    marker.write_text("Synthetic stand-in images made by helpers for quick mode. Not real data.\n")
    return dest


def warn_synthetic(dataset: str) -> None:
    warnings.warn(
        f"No real {dataset} data was found: using a SYNTHETIC stand-in (quick mode only). "
        "Numbers from this run say nothing about the real dataset.",
        stacklevel=3,
    )
