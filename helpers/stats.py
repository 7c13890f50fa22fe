"""Dataset statistics: class balance, image sizes and aspect ratios, brightness and contrast."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from PIL import Image

from .datasets.base import ArraySplit, FileSplit

# ITU-R BT.601 luma weights, as used by most grayscale conversions (and tf.image.rgb_to_grayscale).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def imbalance_ratio(counts: Sequence[int]) -> float:
    """Largest class count divided by the smallest (1.0 means perfectly balanced).

    Raises:
        ValueError: a class has no sample, so the ratio is undefined.
    """
    counts = np.asarray(counts)
    if counts.size == 0 or counts.min() <= 0:
        raise ValueError(f"imbalance ratio needs every class present, got counts {counts.tolist()}")
    return float(counts.max() / counts.min())


def luma(images: np.ndarray) -> np.ndarray:
    """Per-pixel luma of RGB images ``(..., 3)`` in the images' own value range."""
    return np.asarray(images, dtype=np.float32) @ LUMA


def brightness_contrast(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean luma (brightness) and luma standard deviation (RMS contrast) of each image."""
    y = luma(images).reshape(len(images), -1)
    return y.mean(axis=1), y.std(axis=1)


def original_sizes(split: ArraySplit | FileSplit) -> np.ndarray:
    """``(N, 2)`` array of each image's original (width, height).

    Files are measured from their headers (no decoding); arrays use the ``sizes``
    a format keeps (GTSRB) or else the array shape.
    """
    if isinstance(split, FileSplit):
        sizes = []
        for p in split.paths:
            with Image.open(p) as im:
                sizes.append(im.size)
        return np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    if "sizes" in split.extra:
        return np.asarray(split.extra["sizes"], dtype=np.int64)
    n, h, w = split.x.shape[:3]
    return np.tile(np.array([[w, h]], dtype=np.int64), (n, 1))


def size_table(sizes: np.ndarray) -> pd.Series:
    """Summary of widths, heights and aspect ratios (width / height)."""
    w, h = sizes[:, 0].astype(float), sizes[:, 1].astype(float)
    aspect = w / h
    return pd.Series(
        {
            "images": len(sizes),
            "width median": f"{np.median(w):.0f}",
            "height median": f"{np.median(h):.0f}",
            "width min-max": f"{int(w.min())}-{int(w.max())}",
            "height min-max": f"{int(h.min())}-{int(h.max())}",
            "aspect median": round(float(np.median(aspect)), 2),
            "aspect 5-95%": f"{np.percentile(aspect, 5):.2f}-{np.percentile(aspect, 95):.2f}",
            "square (|aspect-1|<0.05)": f"{np.mean(np.abs(aspect - 1) < 0.05):.0%}",
        }
    )


def load_pixels(split: ArraySplit | FileSplit, index: Sequence[int], size: int = 64) -> np.ndarray:
    """uint8 RGB pixels of the chosen images; files are resized to ``size`` x ``size``."""
    if isinstance(split, ArraySplit):
        return split.x[np.asarray(index)]
    out = []
    for i in index:
        with Image.open(split.paths[i]) as im:
            out.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)))
    return np.stack(out)
