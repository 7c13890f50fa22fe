"""What a trained convnet has learned: activations, filter patterns and Grad-CAM heatmaps.

Every function takes a Keras 3 model and layer names (plain or ``backbone/layer`` paths,
see :mod:`helpers.layers`); an unknown name raises :class:`~helpers.layers.LayerNotFoundError`
listing the valid ones. Models take float images in 0..255 and rescale inside, as the
suite's models do.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from .layers import feature_model

# --------------------------------------------------------------------------- activations


def plot_activations(
    activations: dict[str, np.ndarray], channels: int = 16, ncols: int = 16, size: float = 0.9
) -> plt.Figure:
    """One row block per layer showing the first ``channels`` feature maps of one image.

    Args:
        activations: ``{layer name: array (1, H, W, C) or (H, W, C)}``, e.g. from
            :func:`helpers.layers.layer_outputs`.
    """
    rows_per_layer = [
        int(np.ceil(min(channels, a.shape[-1]) / ncols)) for a in activations.values()
    ]
    nrows = sum(rows_per_layer)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(ncols * size, nrows * size + 0.35 * len(rows_per_layer)),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    row = 0
    for (name, act), nr in zip(activations.items(), rows_per_layer, strict=True):
        act = act[0] if act.ndim == 4 else act
        for c in range(min(channels, act.shape[-1])):
            ax = axes[row + c // ncols, c % ncols]
            fmap = act[..., c]
            span = fmap.max() - fmap.min()
            ax.imshow((fmap - fmap.min()) / span if span > 0 else fmap * 0, cmap="viridis")
        axes[row, 0].set_title(
            f"{name}  {act.shape[0]}×{act.shape[1]}×{act.shape[-1]}", fontsize=8, loc="left"
        )
        row += nr
    fig.tight_layout()
    return fig


def sparsity(activations: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of channels that are zero everywhere for the image, per layer."""
    out = {}
    for name, act in activations.items():
        act = act[0] if act.ndim == 4 else act
        out[name] = float(np.mean(np.all(act.reshape(-1, act.shape[-1]) <= 0, axis=0)))
    return out


# ------------------------------------------------------------------------ filter patterns


def filter_patterns(
    model: keras.Model,
    layer_name: str,
    filters: Sequence[int],
    image_size: tuple[int, int] | None = None,
    steps: int = 40,
    step_size: float = 3.0,
    jitter: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Input images that maximise the mean activation of chosen filters (gradient ascent).

    All filters are optimised together as one batch (one image per filter), starting from
    mid-grey with a little noise. Each step shifts the images by a random offset of up to
    ``jitter`` pixels (so the pattern cannot rely on exact pixel positions, which keeps it
    smooth), then moves every image along its own gradient, scaled to unit RMS, by
    ``step_size`` grey levels; images stay within 0..255. Pre-activation (convolution)
    outputs make the best targets: a ReLU output that is zero everywhere has no gradient.

    Returns:
        ``(images, curve)``: uint8 images ``(F, H, W, 3)`` normalised for display, and the
        mean activation of each filter at every step ``(steps + 1, F)``, so callers can
        check that the ascent did raise it.
    """
    fm = feature_model(model, layer_name)
    h, w = image_size or tuple(model.inputs[0].shape[1:3])
    channels = model.inputs[0].shape[-1]
    n_filters = fm.outputs[0].shape[-1]
    _check_maps(fm.outputs[0].shape, layer_name, "filter patterns")
    if not all(isinstance(n, int) and n > 0 for n in (h, w, channels)):
        raise ValueError(
            f"the model's input size is {tuple(model.inputs[0].shape[1:])}, not fixed: pass "
            "image_size=(height, width) (and build the model with a fixed channel count)"
        )
    bad = [f for f in filters if not isinstance(f, int | np.integer) or not 0 <= f < n_filters]
    if bad or not len(filters):
        raise ValueError(
            f"layer {layer_name!r} has {n_filters} filters: pass indices in 0..{n_filters - 1}; "
            f"invalid: {bad or 'none given'}"
        )
    rng = np.random.default_rng(seed)
    img = tf.Variable(
        np.clip(128.0 + rng.normal(0, 10, (len(filters), h, w, channels)), 0, 255).astype("float32")
    )
    index = tf.constant(list(filters))
    shifts = rng.integers(-jitter, jitter + 1, size=(steps, 2)) if jitter else np.zeros((steps, 2))

    def score(x: tf.Tensor) -> tf.Tensor:
        act = tf.transpose(fm(x, training=False), (0, 3, 1, 2))  # (F, C, h, w)
        chosen = tf.gather(act, index, axis=1, batch_dims=1)
        return tf.reduce_mean(chosen, axis=(1, 2))

    @tf.function
    def step(x: tf.Variable, shift: tf.Tensor) -> tf.Tensor:
        value = tf.roll(tf.convert_to_tensor(x), shift, axis=(1, 2))
        with tf.GradientTape() as tape:
            tape.watch(value)
            s = score(value)
            total = tf.reduce_sum(s)
        g = tf.roll(tape.gradient(total, value), -shift, axis=(1, 2))
        g /= tf.sqrt(tf.reduce_mean(tf.square(g), axis=(1, 2, 3), keepdims=True)) + 1e-8
        x.assign(tf.clip_by_value(x + step_size * g, 0.0, 255.0))
        return s

    curve = [score(img).numpy()]
    for shift in shifts:
        step(img, tf.constant(shift, tf.int32))
        curve.append(score(img).numpy())
    return _display(img.numpy()), np.array(curve)


def _display(images: np.ndarray) -> np.ndarray:
    """Centre and stretch each image's contrast (mean ± 2.5 std) to uint8 for viewing."""
    out = []
    for im in images:
        im = (im - im.mean()) / (im.std() + 1e-5)
        out.append(np.clip(im * 0.2 + 0.5, 0, 1))
    return (np.array(out) * 255).astype("uint8")


# ------------------------------------------------------------------------------- Grad-CAM


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    class_index: int | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM heatmaps (Selvaraju et al. 2017) for a batch of images.

    The gradient of the class score with respect to the chosen convolution layer's maps is
    averaged over space (one weight per channel, "pooled gradients"); the weighted sum of
    the maps, passed through ReLU and divided by its maximum, is the heatmap.

    Args:
        images: float array ``(N, H, W, C)`` as the model takes it.
        layer_name: a convolution (or activation) layer with spatial output.
        class_index: class to explain per image (int or one per image); None explains the
            predicted class. For a single sigmoid output, class 1 uses the output and class
            0 uses its negation.

    Returns:
        ``(heatmaps, predictions)``: heatmaps ``(N, h, w)`` at the layer's resolution in
        0..1, and the model's outputs for the batch.
    """
    fm = feature_model(model, layer_name, include_output=True)
    _check_maps(fm.outputs[0].shape, layer_name, "Grad-CAM")
    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    if x.shape.rank != 4:
        raise ValueError(f"images should be a batch (N, H, W, C), got shape {tuple(x.shape)}")
    _check_class_index(class_index, int(x.shape[0]), fm.outputs[1].shape[-1])
    with tf.GradientTape() as tape:
        maps, preds = fm(x, training=False)
        if preds.shape[-1] == 1:
            p = preds[:, 0]
            cls = (
                (p > 0.5)
                if class_index is None
                else tf.constant(np.broadcast_to(class_index, p.shape) == 1)
            )
            score = tf.where(cls, p, -p)
        else:
            idx = (
                tf.argmax(preds, axis=-1)
                if class_index is None
                else tf.constant(np.broadcast_to(class_index, preds.shape[:1]))
            )
            score = tf.gather(preds, tf.cast(idx, tf.int32), axis=1, batch_dims=1)
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    top = cam.reshape(len(cam), -1).max(axis=1)
    cam = cam / np.where(top > 0, top, 1.0)[:, None, None]
    return cam, keras.ops.convert_to_numpy(preds)


def _check_maps(shape, layer_name: str, what: str) -> None:
    """``what`` needs a layer with spatial maps ``(N, H, W, C)``."""
    if len(shape) != 4:
        raise ValueError(
            f"{what} needs a layer with spatial feature maps (N, H, W, C); layer {layer_name!r} "
            f"outputs {tuple(shape)}. Pass a convolution (or its activation/pooling) layer, "
            "e.g. one of helpers.layers.layer_names(model, keras.layers.Conv2D); a model without "
            "convolution layers has none"
        )


def _check_class_index(class_index, n_images: int, n_outputs: int | None) -> None:
    """Class indices: ints in range, one for all images or one per image."""
    if class_index is None:
        return
    idx = np.atleast_1d(np.asarray(class_index))
    allowed = "0 or 1 (a single sigmoid output)" if n_outputs == 1 else f"0..{n_outputs - 1}"
    n_classes = 2 if n_outputs == 1 else n_outputs
    if idx.ndim != 1 or idx.dtype.kind not in "iu" or idx.size == 0:
        raise ValueError(f"class_index should be an int or one int per image in {allowed}")
    if idx.size not in (1, n_images):
        raise ValueError(
            f"class_index has {idx.size} entries for {n_images} images: give one int, or "
            "exactly one per image"
        )
    bad = sorted({int(i) for i in idx if not 0 <= i < (n_classes or 0)})
    if bad:
        raise ValueError(f"class_index {bad} out of range: the model's classes are {allowed}")


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a 0..1 heatmap (any resolution) over an image; returns uint8 RGB."""
    img = np.asarray(image, dtype="float32")
    if img.max() <= 1.5:
        img = img * 255
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    heat = tf.image.resize(heatmap[..., None], img.shape[:2], method="bilinear").numpy()[..., 0]
    colour = plt.get_cmap("jet")(np.clip(heat, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * img + alpha * colour, 0, 255).astype("uint8")
