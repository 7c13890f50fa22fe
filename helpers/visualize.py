"""What a trained convnet has learned: its activations and the patterns its filters want.

Every function takes a Keras 3 model and layer names (plain or ``backbone/layer`` paths,
see :mod:`helpers.model_layers`); an unknown name raises
:class:`~helpers.model_layers.LayerNotFoundError` listing the valid ones. Models take float
images in 0..255 and rescale inside, as the suite's models do. Filter patterns are activation
maximisation (:mod:`helpers.maximize`) with a :class:`~helpers.objectives.FilterScore`;
attribution maps (Grad-CAM, saliency, guided backprop, deconvnet) are in
:mod:`helpers.attribution`; every figure is drawn by :mod:`helpers.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd

from .maximize import ActivationMaximization, Jitter
from .objectives import FilterScore
from .stats import luma


def sparsity(activations: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of channels that are zero everywhere for the image, per layer."""
    out = {}
    for name, act in activations.items():
        act = act[0] if act.ndim == 4 else act
        out[name] = float(np.mean(np.all(act.reshape(-1, act.shape[-1]) <= 0, axis=0)))
    return out


def _block_mean(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Average ``(N, H, W)`` arrays down to ``(N, h, w)`` (H and W multiples of h and w)."""
    n, big_h, big_w = x.shape
    if big_h % h or big_w % w:
        raise ValueError(f"a {big_h}x{big_w} image does not divide into a {h}x{w} map")
    return x.reshape(n, h, big_h // h, w, big_w // w).mean(axis=(2, 4))


def _pearson(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Pearson correlation along ``axis`` (NaN where either side is constant)."""
    a = a - a.mean(axis=axis, keepdims=True)
    b = b - b.mean(axis=axis, keepdims=True)
    den = np.sqrt((a * a).sum(axis=axis) * (b * b).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=axis) / den, np.nan)


def trend_word(start: float, end: float, tol: float = 0.02) -> str:
    """How a measure moves from ``start`` to ``end``, in words: "falls", "rises", or "stays
    about the same" when they differ by less than ``tol``."""
    if abs(end - start) < tol:
        return "stays about the same"
    return "falls" if end < start else "rises"


def _finite_median(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(np.median(values[ok])) if ok.any() else float("nan")


def activation_stats(activations: dict[str, np.ndarray], images: np.ndarray) -> pd.DataFrame:
    """How much each layer's maps still look like the picture, over a batch of images.

    Args:
        activations: ``{layer: (N, h, w, C)}`` post-ReLU maps of the ``images``.
        images: the ``(N, H, W, 3)`` inputs (any value range); ``H`` and ``W`` must be
            multiples of every map's ``h`` and ``w``.

    Returns:
        One row per layer: map size, channels, the mean share of channels that are zero
        everywhere for an image (silent), the share of channels zero on *every* image (dead),
        the mean share of positive positions (active), and the median over images and
        non-constant channels of ``|r|``, the absolute Pearson correlation between a channel's
        map and the image's brightness averaged to the map's grid (1: the map is the picture's
        brightness or its negative; 0: unrelated), beside the same median against *another*
        image's brightness (the next one in the batch): the level ``|r|`` reaches by chance on
        a grid of that size, which grows as the grid shrinks, so only the excess over it
        compares layers; and ``border / interior``, the mean activation on the map's outer
        ring of positions over the mean inside it (above 1: units respond more at the edge
        of the image, where zero padding meets the picture; NaN below 3×3 or when the
        interior is silent).
    """
    bright = luma(np.asarray(images, dtype="float32"))
    rows = {}
    for name, act in activations.items():
        n, h, w, c = act.shape
        flat = act.reshape(n, h * w, c)
        r, r_other = _map_correlations(act, bright)
        rows[name] = {
            "map size": f"{h}×{w}",
            "channels": c,
            "silent channels": float(np.mean(np.all(flat <= 0, axis=1))),
            "dead channels": float(np.mean(np.all(flat <= 0, axis=(0, 1)))),
            "active positions": float(np.mean(flat > 0)),
            "median |r| with brightness": _finite_median(r),
            "median |r|, another image": _finite_median(r_other) if n > 1 else float("nan"),
            "border / interior": _border_ratio(act),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def edge_strength(images: np.ndarray) -> np.ndarray:
    """Each image's edge strength ``(N, H, W)``: the gradient magnitude of its brightness
    (central differences), high along outlines and pictogram strokes, zero on flat areas."""
    gy, gx = np.gradient(luma(np.asarray(images, dtype="float32")), axis=(1, 2))
    return np.hypot(gx, gy)


def edge_following(activations: dict[str, np.ndarray], images: np.ndarray) -> pd.DataFrame:
    """How closely each layer's maps follow the picture's edges rather than its brightness.

    The same measure as :func:`activation_stats`'s ``|r|`` columns, against
    :func:`edge_strength` averaged to each map's grid: per layer, the median over images and
    non-constant channels of ``|r|`` between a channel's map and the image's edge strength,
    beside the same median against *another* image's edges (the chance level on that grid),
    and the share of channel maps that correlate more with the edges than with the brightness.
    """
    edges, bright = edge_strength(images), luma(np.asarray(images, dtype="float32"))
    rows = {}
    for name, act in activations.items():
        n = act.shape[0]
        (r_e, r_other), (r_b, _) = (_map_correlations(act, t) for t in (edges, bright))
        ok = np.isfinite(r_e) & np.isfinite(r_b)
        rows[name] = {
            "median |r| with edges": _finite_median(r_e),
            "median |r| with edges, another image": _finite_median(r_other) if n > 1
            else float("nan"),
            "maps closer to edges than to brightness": float(np.mean(r_e[ok] > r_b[ok]))
            if ok.any() else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _map_correlations(act: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``|r|`` between each channel of ``(N, h, w, C)`` maps and ``(N, H, W)`` targets averaged
    to the maps' grid, per image and channel ``(N, C)``; and the same against the *next*
    image's target (the chance level on that grid). NaN where either side is constant."""
    n, h, w, c = act.shape
    flat = act.reshape(n, h * w, c)
    t = _block_mean(target, h, w).reshape(n, h * w, 1)
    return tuple(np.abs(_pearson(flat, np.broadcast_to(x, flat.shape), axis=1))
                 for x in (t, np.roll(t, 1, axis=0)))


def _border_ratio(act: np.ndarray) -> float:
    """Mean of ``(N, h, w, C)`` maps on their outer ring of positions over the mean inside."""
    h, w = act.shape[1:3]
    if h < 3 or w < 3:
        return float("nan")
    ring = np.ones((h, w), bool)
    ring[1:-1, 1:-1] = False
    inner = float(act[:, ~ring].mean())
    return float(act[:, ring].mean() / inner) if inner > 0 else float("nan")


def heat_stats(heatmaps: np.ndarray, centre: float = 0.5) -> pd.DataFrame:
    """Where a batch of non-negative heatmaps ``(N, H, W)`` puts its mass, one row per map.

    ``centre share``: the share of the map's total heat inside the central box whose sides
    are ``centre`` times the image's (a uniform map gives ``centre**2``, 0.25 by default).
    ``half-heat area``: the smallest share of the pixels that holds half of the heat (a
    uniform map gives 0.5; small values mean concentrated heat). All-zero maps give NaN.
    """
    maps = np.clip(np.asarray(heatmaps, dtype="float64"), 0, None)
    n, h, w = maps.shape
    top, left = round(h * (1 - centre) / 2), round(w * (1 - centre) / 2)
    total = maps.reshape(n, -1).sum(axis=1)
    inner = maps[:, top:h - top, left:w - left].reshape(n, -1).sum(axis=1)
    ranked = -np.sort(-maps.reshape(n, -1), axis=1)
    cum = np.cumsum(ranked, axis=1) / np.where(total > 0, total, 1.0)[:, None]
    half = (np.argmax(cum >= 0.5, axis=1) + 1) / (h * w)
    ok = total > 0
    return pd.DataFrame({
        "centre share": np.where(ok, inner / np.where(ok, total, 1.0), np.nan),
        "half-heat area": np.where(ok, half, np.nan),
    })


def _peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int] | None]]:
    """The maps as ``(N, H, W)`` floats and each one's maximum (row, column), None if empty."""
    maps = np.asarray(heatmaps, dtype="float64")
    if maps.ndim != 3:
        raise ValueError(f"heatmaps should be (N, H, W), got shape {maps.shape}")
    return maps, [tuple(int(v) for v in np.unravel_index(int(np.argmax(m)), m.shape))
                  if np.any(m > 0) else None for m in maps]


def peak_places(heatmaps: np.ndarray) -> list[str]:
    """Where each map ``(N, H, W)`` is hottest, in words: the cell of a 3 × 3 split of the
    image that holds its maximum ("top left", "top", …, "centre", …, "bottom right"), or
    "nowhere (empty map)" for a map that is zero everywhere. It says where, not on what."""
    maps, peaks = _peaks(heatmaps)
    _, h, w = maps.shape
    places = []
    for peak in peaks:
        if peak is None:
            places.append("nowhere (empty map)")
            continue
        r, c = peak
        words = (("top", "", "bottom")[r * 3 // h], ("left", "", "right")[c * 3 // w])
        places.append(" ".join(x for x in words if x) or "centre")
    return places


def peaks_on_edge(heatmaps: np.ndarray, margin: float = 0.05) -> int:
    """How many maps ``(N, H, W)`` have their maximum within ``margin`` of a side's length
    from the image's edge (empty maps do not count)."""
    maps, peaks = _peaks(heatmaps)
    _, h, w = maps.shape
    return sum(min(r / h, c / w, (h - 1 - r) / h, (w - 1 - c) / w) < margin
               for r, c in (p for p in peaks if p is not None))


def pattern_stats(images: np.ndarray, cutoff: float = 0.25) -> pd.DataFrame:
    """Colour and spatial-frequency statistics of images ``(N, H, W, 3)`` in 0..255, one row each.

    ``spatial std``: standard deviation of brightness over the pixels, in grey levels (0: one
    flat colour). ``chroma``: mean over pixels of (largest − smallest channel) / 255 (0: grey,
    1: fully saturated). ``high-frequency share``: the share of the brightness's spectral
    power (its mean removed) at frequencies above ``cutoff`` cycles per pixel in either
    direction, i.e. periods shorter than ``1 / cutoff`` pixels; white noise gives about
    ``1 - (2 * cutoff)**2`` (0.75), natural photos far less. NaN for a flat image.
    """
    x = np.asarray(images, dtype="float64")
    y = luma(x).astype("float64")
    y = y - y.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(y)) ** 2
    fy = np.abs(np.fft.fftfreq(y.shape[1]))[:, None]
    fx = np.abs(np.fft.fftfreq(y.shape[2]))[None, :]
    high = np.maximum(fy, fx) > cutoff
    total = power.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 1e-9, power[:, high].sum(axis=1) / total, np.nan)
    return pd.DataFrame({
        "spatial std": y.reshape(len(y), -1).std(axis=1),
        "chroma": (x.max(axis=-1) - x.min(axis=-1)).mean(axis=(1, 2)) / 255.0,
        "high-frequency share": share,
    })


# ------------------------------------------------------------------------ filter patterns


def filter_patterns(
    model: keras.Model,
    layer_name: str,
    filters: Sequence[int],
    image_size: tuple[int, int] | None = None,
    steps: int = 40,
    learning_rate: float = 0.1,
    jitter: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Input images that maximise the mean activation of chosen filters (gradient ascent).

    One image per filter, optimised together from mid-grey by
    :class:`~helpers.maximize.ActivationMaximization` on a
    :class:`~helpers.objectives.FilterScore`, each step on a copy shifted by up to ``jitter``
    pixels (so the pattern cannot rely on exact pixel positions). Pre-activation
    (convolution) outputs make the best targets: a ReLU output that is zero everywhere has no
    gradient.

    Returns:
        ``(images, curve)``: uint8 images ``(F, H, W, C)`` and the mean activation of each
        filter before and after, ``(2, F)``, so callers can check that the ascent raised it.
    """
    result = ActivationMaximization(model, image_size)(
        FilterScore(layer_name, filters),
        transforms=[Jitter(jitter)] if jitter else [],
        steps=steps,
        learning_rate=learning_rate,
        seed=seed,
    )
    return result.images, result.curve
