"""Figures the notebooks share: image grids, class histograms, value distributions, and
attribution maps (heatmap overlays, signed input-space signals, one grid for every method)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def image_grid(
    images: np.ndarray | Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    suptitle: str | None = None,
    cmap: str | None = None,
) -> plt.Figure:
    """Show images (uint8 or float 0..255 / 0..1) in a grid with optional titles."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            arr = np.clip(arr / (255.0 if arr.max() > 1.5 else 1.0), 0, 1)
        ax.imshow(
            arr.squeeze(), cmap=cmap or ("gray" if arr.ndim == 2 or arr.shape[-1] == 1 else None)
        )
        if titles is not None:
            ax.set_title(_shorten(str(titles[i])), fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _shorten(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def class_histogram(
    counts: dict[str, Sequence[int]], class_names: Sequence[str], title: str = ""
) -> plt.Figure:
    """Bar chart of images per class, one bar colour per split."""
    import pandas as pd

    rows = [
        {"class": name, "split": split, "images": int(c)}
        for split, cs in counts.items()
        for name, c in zip(class_names, cs, strict=True)
    ]
    df = pd.DataFrame(rows)
    wide = len(class_names) > 12
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(class_names) * (1 + wide)), 3.6))
    sns.barplot(data=df, x="class", y="images", hue="split", ax=ax)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=90 if wide else 30, labelsize=7 if wide else 9)
    fig.tight_layout()
    return fig


def distributions(
    values: dict[str, np.ndarray], xlabel: str, title: str = "", bins: int = 40
) -> plt.Figure:
    """Overlaid density histograms of one quantity for several groups (e.g. datasets)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for name, v in values.items():
        sns.histplot(
            np.asarray(v), bins=bins, stat="density", element="step", fill=False, label=name, ax=ax
        )
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------- attributions


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a 0..1 heatmap (any resolution) over an image; returns uint8 RGB."""
    import tensorflow as tf

    img = np.asarray(image, dtype="float32")
    if img.max() <= 1.5:
        img = img * 255
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    heat = tf.image.resize(heatmap[..., None], img.shape[:2], method="bilinear").numpy()[..., 0]
    colour = plt.get_cmap("jet")(np.clip(heat, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * img + alpha * colour, 0, 255).astype("uint8")


def signed_image(signal: np.ndarray) -> np.ndarray:
    """A signed input-space signal as a viewable uint8 image: zero is grey, scaled by the
    largest absolute value."""
    p = np.asarray(signal, dtype="float32")
    scale = np.abs(p).max() or 1.0
    return np.clip(128 + 127 * p / scale, 0, 255).astype("uint8")


def attribution_grid(
    images: np.ndarray,
    attributions: Sequence,
    titles: Sequence[str] | None = None,
    size: float = 1.9,
) -> plt.Figure:
    """One row per image: the image, then one panel per :class:`~helpers.attribution.Attribution`.

    A method with a signed input-space signal (gradient, guided backprop, deconvnet) is drawn
    as :func:`signed_image` of it; Grad-CAM, which has none, as its heatmap over the image.

    Args:
        images: the ``(N, H, W, C)`` images the attributions explain (0..255 or 0..1).
        attributions: objects with ``method``, ``heatmap`` ``(N, H, W)`` and ``signal``
            (``(N, H, W, C)`` or None), all for the same ``N`` images.
        titles: one per image (e.g. its label), shown over the image.
    """
    n = len(images)
    if any(len(a.heatmap) != n for a in attributions):
        raise ValueError(f"every attribution must cover the {n} images")
    tiles, names = [], []
    for i in range(n):
        tiles.append(np.asarray(images[i]))
        names.append(titles[i] if titles is not None else f"image {i}")
        for a in attributions:
            signed = a.signal is not None
            tiles.append(signed_image(a.signal[i]) if signed else overlay(images[i], a.heatmap[i]))
            names.append(a.method.replace("_", "-"))
    return image_grid(tiles, names, ncols=len(attributions) + 1, size=size)
