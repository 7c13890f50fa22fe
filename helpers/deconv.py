"""Deconvnet projections of single feature maps (Zeiler & Fergus 2014).

A chosen activation of a layer is sent back to pixel space through the layers below it with
the trained network's own weights: max pooling is undone through its switches (where each
window's maximum came from), convolutions through their transposed filters, and every ReLU
by the chosen rule of :mod:`helpers.attribution` (``"deconvnet"`` rectifies the backward
signal; ``"guided"`` also masks it by the forward pass; ``"gradient"`` is plain
backpropagation). Those are exactly the operations of TensorFlow's gradient with the ReLUs'
gradient swapped, so :func:`project` is the gradient of the chosen activation, seeded with
its own value, under :func:`helpers.attribution.relu_rule`. It works on any model
:func:`helpers.model_layers.feature_model` reaches: the model's own layers (for the transfer
models of :mod:`helpers.backbones`, every backbone layer) or, through a layer tap, a layer of a
nested model.

:func:`strongest` finds the images on which a feature map fires most, :func:`top_images` the
same for several channels at once, away from the border where zero padding makes activations
of its own, and without repeating an image; :func:`support_box` the image patch a projection
covers and :func:`crop_pair` that patch of the projection (contrast-stretched) and of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .attribution import RULES, as_batch, input_signal
from .model_layers import feature_model, layer_outputs
from .objectives import check_maps
from .plots import signed_image


def interior(shape: tuple[int, int], margin: int) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the map positions at least ``margin`` from every edge."""
    h, w = shape
    if not isinstance(margin, int | np.integer) or margin < 0 or 2 * margin >= min(h, w):
        raise ValueError(f"margin must be an int in 0..{(min(h, w) - 1) // 2}, got {margin!r}")
    mask = np.zeros((h, w), dtype=bool)
    mask[margin : h - margin, margin : w - margin] = True
    return mask


def _seed(out: tf.Tensor, channel: int | None, keep: str, margin: int = 0) -> tf.Tensor:
    """The part of ``out`` to project: every channel, one map, or its single maximum (found
    at least ``margin`` positions from the map's edges)."""
    if keep == "all":
        return out
    n, c = out.shape[0], out.shape[-1]
    chosen = (
        tf.fill([n], channel)
        if channel is not None
        else tf.argmax(tf.reduce_max(out, axis=(1, 2)), axis=-1, output_type=tf.int32)
    )
    signal = out * tf.one_hot(chosen, c)[:, None, None, :]
    if keep == "max":
        flat = tf.reshape(signal, [n, -1])
        inside = interior(tuple(out.shape[1:3]), margin)
        mask = tf.constant(np.repeat(inside[..., None], c, axis=-1).reshape(1, -1))
        search = tf.where(mask, flat, tf.fill(tf.shape(flat), -np.inf))
        top = tf.one_hot(tf.argmax(search, axis=1), flat.shape[1])
        signal = tf.reshape(flat * top, tf.shape(out))
    return signal


def project(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    channel: int | None = None,
    rule: str = "deconvnet",
    keep: str = "max",
    margin: int = 0,
) -> np.ndarray:
    """Project one feature map of ``layer_name`` back to pixel space, per image.

    Args:
        images: float ``(N, H, W, C)`` as the model takes them.
        channel: feature map to project; None picks, per image, the channel with the
            strongest activation.
        rule: ``"deconvnet"``, ``"guided"`` or ``"gradient"`` (see the module docstring).
        keep: ``"max"`` keeps only the single strongest activation of the map (Zeiler &
            Fergus's choice), ``"map"`` the whole map, ``"all"`` every channel of the layer.
        margin: with ``keep="max"``, look for the maximum only at least this many positions
            from the map's edges (where zero padding can create activations of its own).

    Returns:
        float32 ``(N, H, W, C)`` projections in input space (signed; see
        :func:`helpers.plots.signed_image`).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if keep not in ("max", "map", "all"):
        raise ValueError(f"keep must be 'max', 'map' or 'all', got {keep!r}")
    fm = feature_model(model, layer_name)
    shape = fm.outputs[0].shape
    check_maps(shape, layer_name, "a deconvnet projection")
    c = shape[-1]
    if channel is not None and (not isinstance(channel, int | np.integer) or not 0 <= channel < c):
        raise ValueError(f"layer {layer_name!r} has {c} channels; got channel {channel}")
    def seeded(out: tf.Tensor) -> tf.Tensor:
        return out * tf.stop_gradient(_seed(out, channel, keep, margin))

    signal, _ = input_signal(fm, as_batch(images), rule, seeded, model=model)
    return signal.numpy()


def strongest(model: keras.Model, images: np.ndarray, layer_name: str, channel: int, k: int = 4):
    """Indices of the ``k`` images whose ``channel`` map has the largest activation, and values."""
    if not isinstance(channel, int | np.integer) or channel < 0 or not isinstance(k, int) or k < 1:
        raise ValueError(f"channel must be an int >= 0 and k an int >= 1, got {channel!r}, {k!r}")
    out = layer_outputs(model, images, [layer_name])[layer_name]
    if out.ndim != 4 or channel >= out.shape[-1]:
        raise ValueError(
            f"layer {layer_name!r} outputs {tuple(out.shape)}: channel must be in "
            f"0..{out.shape[-1] - 1} of a layer with spatial maps, got {channel}"
        )
    peak = tf.reduce_max(out[..., channel], axis=(1, 2)).numpy()
    order = np.argsort(-peak)[:k]
    return order, peak[order]


def top_images(
    maps: np.ndarray, channels: list[int], k: int = 3, margin: int = 0, distinct: bool = True
) -> dict[int, np.ndarray]:
    """For each channel, the ``k`` images with the largest activation away from the border.

    Args:
        maps: one layer's activations ``(N, H, W, C)`` (e.g. from
            :func:`helpers.model_layers.layer_outputs`).
        channels: channels to rank images for, in order of priority.
        margin: map positions closer than this to an edge are ignored (zero-padding artefacts).
        distinct: an image chosen for an earlier channel is not chosen again, so one image
            cannot dominate every channel shown.

    Returns:
        ``{channel: image indices}``, strongest first.
    """
    if maps.ndim != 4 or not isinstance(k, int) or k < 1:
        raise ValueError(f"maps must be (N, H, W, C) and k an int >= 1, got {maps.shape}, {k!r}")
    inside = interior(maps.shape[1:3], margin)
    used: set[int] = set()
    chosen = {}
    for ch in channels:
        peak = maps[:, inside, ch].max(axis=1)
        order = [int(i) for i in np.argsort(-peak, kind="stable") if not (distinct and i in used)]
        chosen[int(ch)] = np.array(order[:k], dtype=int)
        used.update(order[:k])
    return chosen


def border_share(maps: np.ndarray, margin: int) -> float:
    """Share of channels whose single strongest activation (over all images) lies within
    ``margin`` positions of the map's edge."""
    n, h, w, c = maps.shape
    flat = maps.transpose(3, 0, 1, 2).reshape(c, -1).argmax(axis=1)
    _, rows, cols = np.unravel_index(flat, (n, h, w))
    return float(np.mean(~interior((h, w), margin)[rows, cols]))


def crop_pair(
    projection: np.ndarray, image: np.ndarray, size: int = 64, min_side: int = 5
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The projection and the image cropped to the same square patch (the projection's
    support, widened to a square of at least ``min_side`` pixels a side, so enlarging it keeps
    the aspect ratio), the projection contrast-stretched, both enlarged to ``size`` pixels
    with nearest-neighbour sampling (Zeiler & Fergus's presentation).

    Returns:
        ``(projection crop, image crop, box)`` with uint8 crops and the ``(top, left,
        bottom, right)`` box.
    """
    top, left, bottom, right = support_box(projection)
    h, w = projection.shape[:2]
    side = max(bottom - top, right - left, min_side)
    (t, b), (lft, r) = _widen(top, bottom, h, side), _widen(left, right, w, side)
    crops = []
    stretched = signed_image(projection[t:b, lft:r], percentile=99.0)
    for arr in (stretched, np.asarray(image)[t:b, lft:r]):
        crop = tf.image.resize(np.asarray(arr, dtype="float32"), (size, size), "nearest")
        crops.append(np.clip(crop.numpy(), 0, 255).astype("uint8"))
    return crops[0], crops[1], (t, lft, b, r)


def _widen(lo: int, hi: int, full: int, min_side: int) -> tuple[int, int]:
    """``[lo, hi)`` grown about its centre to at least ``min_side``, kept inside ``[0, full)``."""
    side = max(hi - lo, min(min_side, full))
    start = int(np.clip(round((lo + hi - side) / 2), 0, full - side))
    return start, start + side


def support_box(projection: np.ndarray, fraction: float = 0.05) -> tuple[int, int, int, int]:
    """Bounding box ``(top, left, bottom, right)`` of pixels with |value| above
    ``fraction`` of the maximum: the image patch that produced the activation."""
    mag = np.abs(projection).sum(axis=-1)
    rows, cols = np.nonzero(mag > fraction * (mag.max() or 1.0))
    if rows.size == 0:
        return 0, 0, mag.shape[0], mag.shape[1]
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


@dataclass
class LayerCrops:
    """What :func:`strongest_crops` shows for one layer."""

    layer: str
    margin: int  # map positions ignored at each edge
    tiles: list[np.ndarray] = field(default_factory=list)  # projection crop, image crop, ...
    picks: list[tuple[int, int, tuple[int, int, int, int]]] = field(default_factory=list)
    # (channel, image index, (top, left, bottom, right)) for each pair of tiles


def strongest_crops(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    maps: np.ndarray | None = None,
    channels: int = 4,
    k: int = 3,
    margin: int | None = None,
    rule: str = "deconvnet",
    labels: np.ndarray | None = None,
) -> LayerCrops:
    """Zeiler & Fergus's figure for one layer: its ``channels`` strongest feature maps, for
    each the ``k`` images that drive it most (no image twice), and for each the projection of
    that single activation beside the same patch of the image (:func:`crop_pair`).

    Args:
        maps: the layer's activations on ``images`` if already computed.
        margin: map positions ignored at each edge; None: an eighth of the map's side, so a
            unit that fires on the zero padding around the image is not chosen for it.
        labels: the images' classes; when given, channels are taken strongest first but
            skipping one whose strongest image is of a class already shown, so that one
            high-contrast class cannot fill the figure (the rest fill up if classes run out).
    """
    if maps is None:
        maps = layer_outputs(model, images, [layer_name])[layer_name]
    margin = maps.shape[1] // 8 if margin is None else margin
    inside = maps[:, interior(maps.shape[1:3], margin)]  # (N, positions, C)
    order = [int(c) for c in np.argsort(-inside.max(axis=(0, 1)), kind="stable")]
    if labels is None:
        chosen = order[:channels]
    else:
        best_image = inside.max(axis=1).argmax(axis=0)  # per channel
        seen: set[int] = set()
        chosen = []
        for c in order:
            if int(labels[best_image[c]]) not in seen:
                seen.add(int(labels[best_image[c]]))
                chosen.append(c)
            if len(chosen) == channels:
                break
        chosen += [c for c in order if c not in chosen][: channels - len(chosen)]
    out = LayerCrops(layer_name, margin)
    for ch, idx in top_images(maps, chosen, k, margin).items():
        proj = project(model, images[idx], layer_name, channel=ch, rule=rule, margin=margin)
        for i, p in zip(idx, proj, strict=True):
            p_crop, x_crop, box = crop_pair(p, images[i])
            out.tiles += [p_crop, x_crop]
            out.picks.append((ch, int(i), box))
    return out
