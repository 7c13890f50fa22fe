"""Which pixels or regions made a model's score: gradient, guided backprop, deconvnet, Grad-CAM.

Every method takes a Keras 3 model (plain or with a nested backbone; layer names as in
:mod:`helpers.model_layers`), a batch of
float images ``(N, H, W, C)`` as the model takes them and a class per image (None: the
predicted class; see :func:`helpers.objectives.class_score`), and returns one :class:`Attribution`:

* ``heatmap`` — float32 ``(N, H, W)`` at the *input* resolution, in 0..1: each image's map is
  divided by its own maximum (a map that is zero everywhere stays zero). For the backward
  methods it is the largest absolute value over the colour channels, as in Simonyan et al.
  (2014); Grad-CAM's coarse map is resized bilinearly;
* ``signal`` — the signed input-space signal ``(N, H, W, C)`` of the backward methods (None for
  Grad-CAM), to draw with :func:`helpers.plots.signed_image` or measure;
* ``predictions`` — the model's outputs for the batch.

:func:`helpers.plots.attribution_grid` draws any list of them. The three backward methods
differ only in how a ReLU passes the gradient back (Springenberg et al. 2015; Zeiler & Fergus
2014): **gradient** (saliency) keeps the signal where the ReLU's input was positive;
**deconvnet** rectifies the backward signal and ignores the forward pass; **guided**
backpropagation does both. :func:`relu_rule` swaps every ReLU of the model (nested models
included) for one with that custom gradient, and TensorFlow's autodiff does the rest: max
pooling routes the signal through its switches, convolutions through their transposed
filters, batch normalisation through its scale. Other nonlinearities keep their gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .model_layers import feature_model, iter_layers
from .objectives import check_maps, class_score

RULES = ("gradient", "guided", "deconvnet")


@dataclass
class Attribution:
    """What one attribution method found for a batch (see the module docstring)."""

    method: str
    heatmap: np.ndarray  # float32 (N, H, W), 0..1 per image, input resolution
    signal: np.ndarray | None  # signed (N, H, W, C) input-space signal; None for Grad-CAM
    predictions: np.ndarray


# --------------------------------------------------------------------- ReLU gradients


def _relu_rule(signal: tf.Tensor, forward_input: tf.Tensor, rule: str) -> tf.Tensor:
    """The backward pass of a ReLU under ``rule`` (``forward_input`` > 0: the unit was on)."""
    if rule == "deconvnet":
        return tf.nn.relu(signal)
    if rule == "guided":
        return tf.nn.relu(signal) * tf.cast(forward_input > 0, signal.dtype)
    return signal * tf.cast(forward_input > 0, signal.dtype)


def _custom_relu(rule: str, max_value: float | None = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """ReLU (optionally capped at ``max_value``, as ReLU6) whose gradient follows ``rule``."""

    @tf.custom_gradient
    def relu(x: tf.Tensor):
        y = tf.nn.relu(x) if max_value is None else tf.clip_by_value(x, 0.0, max_value)

        def grad(signal: tf.Tensor) -> tf.Tensor:
            on = x if max_value is None else tf.where(x < max_value, x, tf.zeros_like(x))
            return _relu_rule(signal, on, rule)

        return y, grad

    return relu


def _is_relu(fn) -> bool:
    return fn in (keras.activations.relu, tf.nn.relu) or getattr(fn, "__name__", "") == "relu"


@contextmanager
def relu_rule(model: keras.Model, rule: str) -> Iterator[None]:
    """Inside the block, every ReLU of ``model`` (nested models too) passes gradients back by
    ``rule``: fused ``activation="relu"``, ``Activation("relu")`` and ``ReLU`` layers (plain
    or capped). The forward pass is unchanged; the old behaviour is restored on exit."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    swapped: list[tuple[keras.Layer, str, object]] = []
    try:
        for _, layer in iter_layers(model):
            if isinstance(layer, keras.layers.ReLU):
                plain = float(layer.negative_slope) == 0 and float(layer.threshold) == 0
                if plain:
                    cap = None if layer.max_value is None else float(layer.max_value)
                    fn = _custom_relu(rule, cap)
                    layer.call = lambda inputs, *_, _fn=fn, **__: _fn(inputs)
                    swapped.append((layer, "call", None))
            elif _is_relu(getattr(layer, "activation", None)):
                swapped.append((layer, "activation", layer.activation))
                layer.activation = _custom_relu(rule)
        yield
    finally:
        for layer, attr, original in swapped:
            if attr == "call":
                del layer.call  # the class's own call method shows through again
            else:
                layer.activation = original


# ------------------------------------------------------------------ input gradients


def as_batch(images: np.ndarray) -> tf.Tensor:
    """``images`` as a float32 tensor; a ValueError unless it is a batch ``(N, H, W, C)``."""
    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    if x.shape.rank != 4:
        raise ValueError(f"images should be a batch (N, H, W, C), got shape {tuple(x.shape)}")
    return x


def input_signal(
    net: keras.Model,
    images: tf.Tensor,
    rule: str,
    objective: Callable[[tf.Tensor], tf.Tensor],
    model: keras.Model | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Backward signal of ``objective(net(images))`` (summed) to the pixels under ``rule``.

    ``model``: the model whose ReLUs to swap, when ``net`` is a feature model built from it.
    Returns ``(signal (N, H, W, C), net's outputs)``.
    """
    with relu_rule(model or net, rule), tf.GradientTape() as tape:
        tape.watch(images)
        out = net(images, training=False)
        total = tf.reduce_sum(objective(out))
    return tape.gradient(total, images), out


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Divide each map by its maximum (all-zero maps stay zero)."""
    top = maps.reshape(len(maps), -1).max(axis=1)
    return (maps / np.where(top > 0, top, 1.0)[:, None, None]).astype("float32")


def _backward_method(rule: str) -> Callable[..., Attribution]:
    def method(
        model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None
    ) -> Attribution:
        x = as_batch(images)
        score = class_score(model.outputs[0].shape[-1], class_index)
        score.check(model.outputs[0].shape, int(x.shape[0]))
        signal, preds = input_signal(model, x, rule, score)
        signal = signal.numpy()
        return Attribution(
            rule, _normalise(np.abs(signal).max(axis=-1)), signal, keras.ops.convert_to_numpy(preds)
        )

    return method


gradient = _backward_method("gradient")
gradient.__doc__ = "Saliency: the gradient of the class score with respect to the pixels."
guided_backprop = _backward_method("guided")
guided_backprop.__doc__ = "Guided backpropagation of the class score (rectified and masked)."
deconvnet = _backward_method("deconvnet")
deconvnet.__doc__ = "Deconvnet projection of the class score (backward signal rectified)."


# ------------------------------------------------------------------------- Grad-CAM


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    class_index: int | Sequence[int] | None = None,
) -> Attribution:
    """Grad-CAM heatmaps (Selvaraju et al. 2017) for a batch of images.

    The gradient of the class score with respect to the chosen convolution layer's maps is
    averaged over space (one weight per channel, "pooled gradients"); the weighted sum of
    the maps, passed through ReLU, is the map, resized to the input and divided by its max.

    Args:
        layer_name: a convolution (or activation) layer with spatial output.
        class_index: class to explain per image (int or one per image); None explains the
            predicted class. For a single sigmoid output, class 1 uses the output and class
            0 uses its negation.
    """
    fm = feature_model(model, layer_name, include_output=True)
    check_maps(fm.outputs[0].shape, layer_name, "Grad-CAM")
    x = as_batch(images)
    score = class_score(fm.outputs[1].shape[-1], class_index)
    score.check(fm.outputs[1].shape, int(x.shape[0]))
    with tf.GradientTape() as tape:
        maps, preds = fm(x, training=False)
        value = score(preds)
    grads = tape.gradient(value, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    if cam.shape[1:] != tuple(x.shape[1:3]):
        cam = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear").numpy()[..., 0]
    return Attribution("grad_cam", _normalise(cam), None, keras.ops.convert_to_numpy(preds))


METHODS: dict[str, Callable[..., Attribution]] = {
    "gradient": gradient,
    "guided": guided_backprop,
    "deconvnet": deconvnet,
    "grad_cam": grad_cam,
}


# ------------------------------------------------------------------ comparing methods


def _class_probability(outputs: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The output for each image's class: a softmax column, or ``p`` / ``1 − p`` of one
    sigmoid unit for class 1 / 0."""
    out = np.asarray(outputs, dtype="float64")
    if out.shape[-1] == 1:
        return np.where(classes == 1, out[:, 0], 1.0 - out[:, 0])
    return out[np.arange(len(out)), classes]


def deletion_test(
    model: keras.Model, images: np.ndarray, heatmaps: np.ndarray, share: float = 0.1,
    grid: int = 8, seed: int = 0, batch_size: int = 64,
) -> pd.DataFrame:
    """Does a heatmap point at the regions the prediction rests on? One step of Samek et al.'s
    (2017) region perturbation: each image is cut into a ``grid`` × ``grid`` grid of regions,
    the ``share`` of regions with the highest mean heat is painted in the image's mean colour,
    and, as the baseline, the same number of regions chosen at random (same shapes, so the two
    deletions disturb the image alike and differ only in *where*); the model's output for its
    originally predicted class is read before and after each deletion (a softmax column, or
    ``p`` / ``1 − p`` of one sigmoid unit).

    Returns one row per image: ``class`` (predicted on the intact image), ``p``, ``p without
    top`` and ``p without random``. A faithful map makes the first deletion cost more than the
    second, image by image.
    """
    x = np.asarray(images, dtype="float32")
    heat = np.asarray(heatmaps, dtype="float32")
    if x.ndim != 4 or heat.shape != x.shape[:3]:
        raise ValueError(f"heatmaps {heat.shape} should be (N, H, W) of images {x.shape}")
    if not 0.0 < share < 1.0:
        raise ValueError(f"share should lie strictly between 0 and 1, got {share}")
    if not 2 <= grid <= min(x.shape[1:3]):
        raise ValueError(f"grid should be 2 to {min(x.shape[1:3])} regions a side, got {grid}")
    n, cells = len(x), grid * grid
    h, w = x.shape[1:3]
    region = (np.arange(h) * grid // h)[:, None] * grid + (np.arange(w) * grid // w)[None, :]
    counts = np.bincount(region.ravel(), minlength=cells)
    mean_heat = np.stack([np.bincount(region.ravel(), h.ravel(), cells) / counts for h in heat])
    k = max(1, int(round(share * cells)))
    rng = np.random.default_rng(seed)
    top = np.argsort(-mean_heat, axis=1, kind="stable")[:, :k]
    rand = np.stack([rng.choice(cells, k, replace=False) for _ in range(n)])
    mean = x.mean(axis=(1, 2), keepdims=True)

    def without(idx: np.ndarray) -> np.ndarray:
        mask = np.stack([np.isin(region, i) for i in idx])  # (N, H, W)
        return np.where(mask[..., None], mean, x)

    predict = lambda batch: model.predict(batch, batch_size=batch_size, verbose=0)  # noqa: E731
    base = predict(x)
    cls = (base[:, 0] > 0.5).astype(int) if base.shape[-1] == 1 else base.argmax(axis=1)
    return pd.DataFrame({
        "class": cls, "p": _class_probability(base, cls),
        "p without top": _class_probability(predict(without(top)), cls),
        "p without random": _class_probability(predict(without(rand)), cls),
    })


def deletion_summary(deleted: pd.DataFrame, alpha: float = 0.01) -> pd.Series:
    """What one :func:`deletion_test` says, in the numbers a report quotes.

    The loss of each deletion is ``p`` minus the probability left; the two losses of an image
    are paired, so the test is Wilcoxon's signed-rank test on their differences (NaN with one
    image, or when every pair is equal). ``verdict`` names the direction only when the test is
    significant at ``alpha``; the direction is that of the two medians.
    """
    top = deleted["p"] - deleted["p without top"]
    rand = deleted["p"] - deleted["p without random"]
    p_value = float("nan")
    if len(deleted) > 1 and bool((top != rand).any()):
        from scipy.stats import wilcoxon

        p_value = float(wilcoxon(top, rand).pvalue)
    if not p_value < alpha:
        verdict = "no clear difference"
    elif top.median() > rand.median():
        verdict = "the hottest regions cost more"
    else:
        verdict = "random regions cost more"
    return pd.Series({
        "median loss, hottest regions": float(top.median()),
        "median loss, random regions": float(rand.median()),
        "mean loss, hottest regions": float(top.mean()),
        "mean loss, random regions": float(rand.mean()),
        "images where hottest costs more": float((top > rand).mean()),
        "images": len(deleted), "Wilcoxon p": p_value, "verdict": verdict,
    }, dtype=object)


def roughness(signal: np.ndarray) -> np.ndarray:
    """Per image: mean absolute difference between neighbouring pixels (both directions)
    divided by the mean absolute value; scale-free, lower is smoother."""
    s = np.asarray(signal, dtype="float64")
    diff = np.abs(np.diff(s, axis=1)).mean(axis=(1, 2, 3)) + np.abs(np.diff(s, axis=2)).mean(
        axis=(1, 2, 3)
    )
    return diff / 2 / (np.abs(s).mean(axis=(1, 2, 3)) + 1e-12)


def roughness_table(signals: dict[str, np.ndarray], confidence: float = 0.95) -> pd.DataFrame:
    """Roughness of each method's signals on the same images, smoothest first.

    Columns: the mean over images with its t confidence interval, and the paired difference
    from the method in the row above (same images) with its t interval: an interval that
    excludes 0 separates the two methods.
    """
    from scipy import stats

    r = {name: roughness(sig) for name, sig in signals.items()}
    order = sorted(r, key=lambda name: r[name].mean())
    rows = []
    for j, name in enumerate(order):
        ci = stats.ttest_1samp(r[name], 0.0).confidence_interval(confidence)
        row = {"method": name, "images": len(r[name]), "mean": r[name].mean(),
               "low": ci.low, "high": ci.high}
        if j:
            d = stats.ttest_rel(r[name], r[order[j - 1]]).confidence_interval(confidence)
            row |= {"minus row above": (r[name] - r[order[j - 1]]).mean(),
                    "diff low": d.low, "diff high": d.high}
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")
