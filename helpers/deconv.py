"""Deconvnet projections of single feature maps (Zeiler & Fergus 2014).

A chosen activation of a layer is sent back to pixel space through the layers below it with
the trained network's own weights: max pooling is undone through its switches (where each
window's maximum came from), convolutions through their transposed filters, and every ReLU
by the chosen rule of :mod:`helpers.attribution` (``"deconvnet"`` rectifies the backward
signal; ``"guided"`` also masks it by the forward pass; ``"gradient"`` is plain
backpropagation). Those are exactly the operations of TensorFlow's gradient with the ReLUs'
gradient swapped, so :func:`project` is the gradient of the chosen activation, seeded with
its own value, under :func:`helpers.attribution.relu_rule`. It works on any model
:func:`helpers.model_layers.feature_model` can cut, nested backbones included.

:func:`strongest` finds the images on which a feature map fires most; :func:`support_box`
the image patch a projection covers.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .attribution import RULES, as_batch, input_signal
from .model_layers import feature_model, layer_outputs
from .objectives import check_maps


def _seed(out: tf.Tensor, channel: int | None, keep: str) -> tf.Tensor:
    """The part of ``out`` to project: every channel, one map, or its single maximum."""
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
        top = tf.one_hot(tf.argmax(flat, axis=1), flat.shape[1])
        signal = tf.reshape(flat * top, tf.shape(out))
    return signal


def project(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    channel: int | None = None,
    rule: str = "deconvnet",
    keep: str = "max",
) -> np.ndarray:
    """Project one feature map of ``layer_name`` back to pixel space, per image.

    Args:
        images: float ``(N, H, W, C)`` as the model takes them.
        channel: feature map to project; None picks, per image, the channel with the
            strongest activation.
        rule: ``"deconvnet"``, ``"guided"`` or ``"gradient"`` (see the module docstring).
        keep: ``"max"`` keeps only the single strongest activation of the map (Zeiler &
            Fergus's choice), ``"map"`` the whole map, ``"all"`` every channel of the layer.

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
    signal, _ = input_signal(
        fm, as_batch(images), rule, lambda out: out * tf.stop_gradient(_seed(out, channel, keep)),
        model=model,
    )
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


def support_box(projection: np.ndarray, fraction: float = 0.05) -> tuple[int, int, int, int]:
    """Bounding box ``(top, left, bottom, right)`` of pixels with |value| above
    ``fraction`` of the maximum: the image patch that produced the activation."""
    mag = np.abs(projection).sum(axis=-1)
    rows, cols = np.nonzero(mag > fraction * (mag.max() or 1.0))
    if rows.size == 0:
        return 0, 0, mag.shape[0], mag.shape[1]
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1
