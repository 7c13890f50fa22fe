"""Deconvnet projections (Zeiler & Fergus 2014), guided backpropagation and saliency.

A chosen activation is sent back to pixel space through the layers below it, one layer at a
time, with the trained network's own weights:

* **max pooling** is undone with the *switches*: the position of each pooling window's
  maximum, recorded on the forward pass; every value goes back to where its max came from;
* **convolution** is undone with the *transposed* filters (``conv2d_transpose`` with the
  layer's kernel); biases are not used;
* **ReLU** is where the three methods differ. The deconvnet rectifies the backward signal
  (``relu(signal)``), ignoring which units were active on the forward pass; plain
  backpropagation (saliency) keeps the signal where the forward input was positive; guided
  backpropagation does both;
* batch normalisation (inference) multiplies by its per-channel scale
  ``gamma / sqrt(var + eps)``; ``Rescaling`` by its scale; dropout and the random
  augmentation layers are the identity at inference time.

The model must be a chain of such layers up to the target layer (``helpers.models``'s
convnets are). With ``rule="backprop"`` the result equals the input gradient TensorFlow
computes, which the tests use to check the machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .errors import CnnSuiteError
from .layers import find_layer

RULES = ("deconvnet", "guided", "backprop")

_IDENTITY = (
    keras.layers.InputLayer,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
)


def _is_augmentation(layer: keras.Layer) -> bool:
    """A random preprocessing layer, or a Sequential made only of them (inactive at inference)."""
    if isinstance(layer, keras.Sequential):
        return all(_is_augmentation(sub) for sub in layer.layers)
    return type(layer).__name__.startswith("Random")


@dataclass
class _Step:
    layer: keras.Layer
    inputs: tf.Tensor  # what the layer received on the forward pass
    pre_activation: tf.Tensor | None = None  # conv output before a fused ReLU
    switches: tf.Tensor | None = None  # max-pooling argmax


def _chain_to(model: keras.Model, layer_name: str) -> list[keras.Layer]:
    chain, target = find_layer(model, layer_name)
    if len(chain) > 1:
        raise CnnSuiteError("deconvnet projections need the layer at the model's top level")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return layers[: layers.index(target) + 1]


def _forward(layers: list[keras.Layer], images: tf.Tensor) -> tuple[list[_Step], tf.Tensor]:
    steps, x = [], images
    for layer in layers:
        step = _Step(layer, x)
        if isinstance(layer, keras.layers.MaxPooling2D):
            if layer.data_format != "channels_last":
                raise CnnSuiteError("only channels_last pooling is supported")
            out, argmax = tf.nn.max_pool_with_argmax(
                x,
                ksize=layer.pool_size,
                strides=layer.strides,
                padding=layer.padding.upper(),
                include_batch_in_index=True,
            )
            step.switches, x = argmax, out
        elif isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
            act = layer.activation
            layer.activation = keras.activations.linear
            try:
                pre = layer(x, training=False)
            finally:
                layer.activation = act
            step.pre_activation = pre
            x = act(pre)
        elif _is_augmentation(layer) or isinstance(layer, _IDENTITY):
            pass
        elif isinstance(
            layer,
            (
                keras.layers.ReLU,
                keras.layers.Activation,
                keras.layers.BatchNormalization,
                keras.layers.Rescaling,
            ),
        ):
            x = layer(x, training=False)
        else:
            raise CnnSuiteError(
                f"layer {layer.name!r} ({type(layer).__name__}) is not supported by the "
                "deconvnet; supported: Conv2D, MaxPooling2D, ReLU, BatchNormalization, "
                "Rescaling, Dropout and random augmentation layers"
            )
        steps.append(step)
    return steps, x


def _relu_rule(signal: tf.Tensor, forward_input: tf.Tensor, rule: str) -> tf.Tensor:
    if rule == "deconvnet":
        return tf.nn.relu(signal)
    if rule == "guided":
        return tf.nn.relu(signal) * tf.cast(forward_input > 0, signal.dtype)
    return signal * tf.cast(forward_input > 0, signal.dtype)


def _is_relu(fn) -> bool:
    return fn in (keras.activations.relu, tf.nn.relu) or getattr(fn, "__name__", "") == "relu"


def _backward(steps: list[_Step], signal: tf.Tensor, rule: str) -> tf.Tensor:
    for step in reversed(steps):
        layer = step.layer
        if isinstance(layer, keras.layers.MaxPooling2D):
            shape = tf.shape(step.inputs, out_type=tf.int64)
            flat = tf.scatter_nd(
                tf.reshape(step.switches, [-1, 1]),
                tf.reshape(signal, [-1]),
                [tf.reduce_prod(shape)],
            )
            signal = tf.reshape(flat, shape)
        elif isinstance(layer, keras.layers.Conv2D):
            act = layer.activation
            if _is_relu(act):
                signal = _relu_rule(signal, step.pre_activation, rule)
            elif act is not keras.activations.linear:
                raise CnnSuiteError(f"conv activation {act} of {layer.name!r} is not supported")
            signal = tf.nn.conv2d_transpose(
                signal,
                layer.kernel,
                output_shape=tf.shape(step.inputs),
                strides=layer.strides,
                padding=layer.padding.upper(),
                dilations=layer.dilation_rate,
            )
        elif isinstance(layer, keras.layers.ReLU) or (
            isinstance(layer, keras.layers.Activation) and _is_relu(layer.activation)
        ):
            signal = _relu_rule(signal, step.inputs, rule)
        elif isinstance(layer, keras.layers.Activation):
            raise CnnSuiteError(f"activation of {layer.name!r} is not supported")
        elif isinstance(layer, keras.layers.BatchNormalization):
            scale = layer.gamma if layer.scale else 1.0
            signal = signal * scale / tf.sqrt(layer.moving_variance + layer.epsilon)
        elif isinstance(layer, keras.layers.Rescaling):
            signal = signal * tf.cast(layer.scale, signal.dtype)
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
        rule: ``"deconvnet"``, ``"guided"`` or ``"backprop"`` (see the module docstring).
        keep: ``"max"`` keeps only the single strongest activation of the map (Zeiler &
            Fergus's choice), ``"map"`` the whole map, ``"all"`` every channel of the layer.

    Returns:
        float32 ``(N, H, W, C)`` projections in input space (signed; see :func:`to_image`).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    steps, out = _forward(_chain_to(model, layer_name), x)
    if out.shape.rank != 4:
        raise CnnSuiteError(f"layer {layer_name!r} has no spatial feature maps")
    n, c = out.shape[0], out.shape[-1]
    if channel is not None and (not isinstance(channel, int | np.integer) or not 0 <= channel < c):
        raise ValueError(f"layer {layer_name!r} has {c} channels; got channel {channel}")
    if keep == "all":
        signal = out
    else:
        chosen = (
            tf.fill([n], channel)
            if channel is not None
            else tf.argmax(tf.reduce_max(out, axis=(1, 2)), axis=-1, output_type=tf.int32)
        )
        mask = tf.one_hot(chosen, c)[:, None, None, :]
        signal = out * mask
        if keep == "max":
            flat = tf.reshape(signal, [n, -1])
            top = tf.one_hot(tf.argmax(flat, axis=1), flat.shape[1])
            signal = tf.reshape(flat * top, tf.shape(out))
        elif keep != "map":
            raise ValueError(f"keep must be 'max', 'map' or 'all', got {keep!r}")
    return _backward(steps, signal, rule).numpy()


def strongest(model: keras.Model, images: np.ndarray, layer_name: str, channel: int, k: int = 4):
    """Indices of the ``k`` images whose ``channel`` map has the largest activation, and values."""
    if not isinstance(channel, int | np.integer) or channel < 0 or not isinstance(k, int) or k < 1:
        raise ValueError(f"channel must be an int >= 0 and k an int >= 1, got {channel!r}, {k!r}")
    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    _, out = _forward(_chain_to(model, layer_name), x)
    if out.shape.rank != 4 or channel >= out.shape[-1]:
        raise ValueError(
            f"layer {layer_name!r} outputs {tuple(out.shape)}: channel must be in "
            f"0..{out.shape[-1] - 1} of a layer with spatial maps, got {channel}"
        )
    peak = tf.reduce_max(out[..., channel], axis=(1, 2)).numpy()
    order = np.argsort(-peak)[:k]
    return order, peak[order]


def to_image(projection: np.ndarray) -> np.ndarray:
    """A signed projection as a viewable uint8 image: zero is grey, scaled by the max |value|."""
    p = np.asarray(projection, dtype="float32")
    scale = np.abs(p).max() or 1.0
    return np.clip(128 + 127 * p / scale, 0, 255).astype("uint8")


def support_box(projection: np.ndarray, fraction: float = 0.05) -> tuple[int, int, int, int]:
    """Bounding box ``(top, left, bottom, right)`` of pixels with |value| above
    ``fraction`` of the maximum: the image patch that produced the activation."""
    mag = np.abs(projection).sum(axis=-1)
    rows, cols = np.nonzero(mag > fraction * (mag.max() or 1.0))
    if rows.size == 0:
        return 0, 0, mag.shape[0], mag.shape[1]
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1
