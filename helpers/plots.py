"""Every figure the notebooks share, in one place: image grids, class histograms and value
distributions; learning curves and confusion matrices; feature-map grids; attribution maps
(heatmap overlays, signed input-space signals, one grid for every method)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from .evaluation import Evaluation


def image_grid(
    images: np.ndarray | Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    suptitle: str | None = None,
    cmap: str | None = None,
    fontsize: float = 7,
    wrap: bool = False,
) -> plt.Figure:
    """Show images (uint8 or float 0..255 / 0..1) in a grid with optional titles.

    Titles may span several lines (``"\\n"``); every row keeps room for the longest, and each
    line is shortened (with "…") to what fits the panel's width at ``fontsize``, so no title runs
    into its neighbour or the image above. With ``wrap`` a long line is broken onto further
    lines instead (at most three per line), so long class names stay readable in full.
    """
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    width = max(8, int(size * 72 / (0.6 * fontsize)))  # characters that fit one panel
    if titles is not None and wrap:
        titles = ["\n".join("\n".join(textwrap.wrap(line, width, max_lines=3,
                                                    placeholder="…") or [""])
                           for line in str(t).split("\n")) for t in titles]
    lines = max((str(t).count("\n") + 1 for t in titles), default=1) if titles is not None else 0
    fig, axes = plt.subplots(
        nrows, ncols, squeeze=False, layout="constrained",
        figsize=(size * ncols, (size + 0.02 * fontsize * lines) * nrows + 0.5),
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
            text = "\n".join(_shorten(line, width) for line in str(titles[i]).split("\n"))
            ax.set_title(text, fontsize=fontsize, pad=3)
    if suptitle:
        fig.suptitle(suptitle)
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
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.3 * len(class_names))), 6.0 if wide else 3.6))
    sns.barplot(data=df, x="class", y="images", hue="split", ax=ax)
    ax.set_title(title)
    ax.set_xlabel("class")
    # slanted labels anchored at their right end, so long names never run into each other
    ax.tick_params(axis="x", labelsize=8 if wide else 9)
    plt.setp(ax.get_xticklabels(), rotation=90 if wide else 45, ha="center" if wide else "right",
             rotation_mode="anchor" if not wide else "default")
    # the legend beside the plot, where it hides no bar
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title="split")
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


def overlay(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, mark_peak: bool = False
) -> np.ndarray:
    """Blend a 0..1 heatmap (any resolution) over an image; returns uint8 RGB.

    With ``mark_peak`` a white ring outlined in black circles the heatmap's maximum (the
    first, if several pixels tie), so a peak on a dark part of the image, where dark red
    hardly shows, is still seen; an all-zero map gets no ring.
    """
    import cv2
    import tensorflow as tf

    img = np.asarray(image, dtype="float32")
    if img.max() <= 1.5:
        img = img * 255
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    heat = tf.image.resize(heatmap[..., None], img.shape[:2], method="bilinear").numpy()[..., 0]
    colour = plt.get_cmap("jet")(np.clip(heat, 0, 1))[..., :3] * 255
    out = np.clip((1 - alpha) * img + alpha * colour, 0, 255).astype("uint8")
    if mark_peak and np.any(heat > 0):
        row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
        radius = max(3, round(0.06 * min(heat.shape)))
        out = np.ascontiguousarray(out)
        cv2.circle(out, (int(col), int(row)), radius, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.circle(out, (int(col), int(row)), radius, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def signed_image(signal: np.ndarray, percentile: float = 100.0) -> np.ndarray:
    """A signed input-space signal as a viewable uint8 image: zero is grey, and the
    ``percentile``-th percentile of the absolute values (default: the largest) maps to full
    black or white; below 100 the faint rest is contrast-stretched (values beyond it clip)."""
    p = np.asarray(signal, dtype="float32")
    scale = np.percentile(np.abs(p), percentile) or np.abs(p).max() or 1.0
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
    fig = image_grid(tiles, names, ncols=len(attributions) + 1, size=size)
    if any(a.signal is None for a in attributions):  # a heatmap is drawn: give its scale
        heat_colorbar(fig)
    return fig


def heat_colorbar(fig: plt.Figure, label: str = "Grad-CAM (0 … 1)") -> None:
    """The colour scale of :func:`overlay`'s heatmaps, beside every panel of ``fig``."""
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap="jet"), ax=fig.axes, shrink=0.5, pad=0.01,
                       aspect=30)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)

def plot_confusion(
    ev: Evaluation, normalize: bool = True, ax: plt.Axes | None = None, annotate: bool | None = None
) -> plt.Figure:
    """Heatmap of the confusion matrix with class names (rows: true, columns: predicted),
    with a colour bar. Normalised, each row sums to one (the diagonal is the class's recall);
    with more than 12 classes the colours follow a square-root scale, so that rare confusions
    stay visible beside the diagonal, and the tick labels are the class index and a name cut
    to 34 characters (whole for GTSRB names that tell left from right, e.g. "Dangerous curve
    to the right"), at a size readable beside rows of about a quarter inch."""
    from matplotlib.colors import PowerNorm

    n = len(ev.class_names)
    if ax is None:
        side = min(16, max(4, 0.33 * n + 2))
        _, ax = plt.subplots(figsize=(side + 1, side))
    annotate = n <= 12 if annotate is None else annotate
    names = ev.class_names if n <= 12 else [f"{i} {_shorten(c, 34)}"
                                            for i, c in enumerate(ev.class_names)]
    sns.heatmap(
        ev.confusion(normalize),
        annot=annotate,
        fmt=".2f" if normalize else "d",
        cmap="Blues",
        xticklabels=names,
        yticklabels=names,
        square=True,
        cbar=True,
        cbar_kws={"shrink": 0.7, "label": "share of the true class" if normalize else "images"},
        norm=PowerNorm(0.5, vmin=0, vmax=1 if normalize else None) if n > 12 else None,
        vmin=None if n > 12 else 0,
        vmax=None if n > 12 else (1 if normalize else None),
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    rows = ", rows sum to 1 (diagonal: recall)" if normalize else ""
    scale = ", square-root colour scale" if n > 12 else ""
    ax.set_title(f"{ev.name}: accuracy {ev.accuracy:.2%}{rows}{scale}", fontsize=10)
    ax.tick_params(length=0, labelsize=8 if n > 12 else 9)
    ax.figure.tight_layout()
    return ax.figure


def plot_histories(
    histories: dict[str, dict], metric: str = "accuracy", start: dict[str, int] | None = None
) -> plt.Figure:
    """Training and validation curves of several runs side by side (loss and ``metric``).

    ``start`` gives, for a run that continues another (fine-tuning after a frozen head), the
    epoch number its first epoch is drawn at, so it follows its parent instead of restarting
    at epoch 1; other runs start at 1.
    """
    start = start or {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for (name, h), colour in zip(
        histories.items(), sns.color_palette(n_colors=len(histories)), strict=True
    ):
        first = start.get(name, 1)
        for ax, key in zip(axes, ("loss", metric), strict=True):
            if key in h:
                ax.plot(range(first, first + len(h[key])), h[key], "--", marker=".",
                        color=colour, alpha=0.7)
            if f"val_{key}" in h:
                ax.plot(range(first, first + len(h[f"val_{key}"])), h[f"val_{key}"], marker=".",
                        color=colour, label=name)
    longest = max((start.get(n, 1) - 1 + len(v) for n, h in histories.items() for v in h.values()),
                  default=1)
    for ax, key in zip(axes, ("loss", metric), strict=True):
        ax.set_xlabel("epoch")
        if longest <= 1:  # one epoch: a single tick, where the locator would invent fractions
            ax.set_xticks([1])
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel(key.replace("_", " "))
        ax.set_title(f"{key} (dashed: training, solid: validation)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_activations(activations: dict[str, np.ndarray], channels: int = 16, ncols: int = 8,
                     size: float = 1.25) -> plt.Figure:
    """The first ``channels`` feature maps of each layer for one image, one block per layer.

    All panels of a layer share one colour scale (its colour bar beside the block), so a weak
    channel looks weak next to a strong one; each panel is labelled with its channel index and
    each block with the layer's name and shape.

    Args:
        activations: ``{layer name: array (1, H, W, C) or (H, W, C)}``, e.g. from
            :func:`helpers.model_layers.layer_outputs`.
    """
    maps = {name: (a[0] if a.ndim == 4 else a)[..., :channels] for name, a in activations.items()}
    rows = [int(np.ceil(m.shape[-1] / ncols)) for m in maps.values()]
    fig = plt.figure(figsize=(ncols * size + 1.0, sum(rows) * size + 0.45 * len(rows)),
                     layout="constrained")
    blocks = fig.subfigures(len(maps), 1, height_ratios=[r + 0.4 for r in rows], squeeze=False)
    for block, (name, m), nr in zip(blocks[:, 0], maps.items(), rows, strict=True):
        shape = activations[name].shape
        block.suptitle(f"{name}: {shape[-3]}×{shape[-2]}×{shape[-1]}", fontsize=9, x=0.01,
                       ha="left")
        axes = block.subplots(nr, ncols, squeeze=False)
        low, high = float(min(m.min(), 0.0)), float(max(m.max(), 1e-6))
        for c, ax in enumerate(axes.flat):
            ax.axis("off")
            if c < m.shape[-1]:
                image = ax.imshow(m[..., c], cmap="viridis", vmin=low, vmax=high)
                ax.set_title(f"ch {c}", fontsize=7, pad=2)
        block.colorbar(image, ax=axes, shrink=0.9, label="activation")
    return fig

