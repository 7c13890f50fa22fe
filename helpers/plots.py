"""Figures the notebooks share: image grids, class histograms and value distributions."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def image_grid(
    images: np.ndarray,
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
