"""What a visualisation technique explains or maximises: score objects.

A *score* maps what a model (or one of its layers) outputs for a batch to one number per
image. Every technique in the suite takes one, in the spirit of tf-keras-vis
(``Technique(model)(score, images)``):

* :class:`FilterScore` — the mean activation of one filter of a layer, one filter per
  image (filter patterns, :mod:`helpers.maximize`);
* :class:`CategoricalScore` — a softmax output's probability (or log-probability) of a
  class per image (class images; Grad-CAM, saliency, guided backprop, deconvnet in
  :mod:`helpers.attribution`);
* :class:`BinaryScore` — a single sigmoid output read as two classes: class 1 is the output,
  class 0 its negation.

:func:`class_score` picks the categorical or binary score for a model's output. A score's
``layer`` says what it reads: a layer name or path (see :mod:`helpers.model_layers`), or None for
the model's own output. ``check(shape, n_images)`` raises a :class:`ValueError` that names the
allowed values when the targets do not fit the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


class Score:
    """Base class: ``score(outputs) -> tf.Tensor (N,)``, higher is more of the target."""

    layer: str | None = None

    def __call__(self, outputs: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def check(self, shape: Sequence[int | None], n_images: int) -> None:
        """Raise ValueError when the targets do not fit an output of ``shape``."""

    @property
    def size(self) -> int | None:
        """How many images the targets fix (None: any batch)."""
        return None


def check_maps(shape: Sequence[int | None], layer_name: str, what: str) -> None:
    """``what`` needs a layer with spatial maps ``(N, H, W, C)``."""
    if len(shape) != 4:
        raise ValueError(
            f"{what} needs a layer with spatial feature maps (N, H, W, C); layer {layer_name!r} "
            f"outputs {tuple(shape)}. Pass a convolution (or its activation/pooling) layer, "
            "e.g. one of helpers.model_layers.layer_names(model, keras.layers.Conv2D); a model "
            "without convolution layers has none"
        )


class FilterScore(Score):
    """Mean activation of filter ``filters[i]`` of ``layer`` for image ``i``."""

    def __init__(self, layer: str, filters: Sequence[int]):
        self.layer = layer
        self.filters = list(filters)

    @property
    def size(self) -> int:
        return len(self.filters)

    def check(self, shape: Sequence[int | None], n_images: int) -> None:
        check_maps(shape, self.layer, "filter patterns")
        n = shape[-1]
        bad = [f for f in self.filters if not isinstance(f, int | np.integer) or not 0 <= f < n]
        if bad or not self.filters:
            raise ValueError(
                f"layer {self.layer!r} has {n} filters: pass indices in 0..{n - 1}; "
                f"invalid: {bad or 'none given'}"
            )

    def __call__(self, outputs: tf.Tensor) -> tf.Tensor:
        index = tf.constant(list(self.filters))
        act = tf.transpose(outputs, (0, 3, 1, 2))  # (F, C, h, w)
        chosen = tf.gather(act, index, axis=1, batch_dims=1)
        return tf.reduce_mean(chosen, axis=(1, 2))


def _check_classes(classes, n_images: int, n_outputs: int | None) -> None:
    """Class indices: ints in range, one for all images or one per image."""
    if classes is None:
        return
    idx = np.atleast_1d(np.asarray(classes))
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


class CategoricalScore(Score):
    """Probability of class ``classes[i]`` for image ``i`` in a softmax output.

    Args:
        classes: one int for every image, one int per image, or None for each image's
            predicted class.
        log: score the log-probability (raising it also lowers the other classes).
    """

    def __init__(self, classes: int | Sequence[int] | None = None, log: bool = False):
        self.classes = classes
        self.log = log

    @property
    def size(self) -> int | None:
        return None if self.classes is None else int(np.asarray(self.classes).size)

    def check(self, shape: Sequence[int | None], n_images: int) -> None:
        _check_classes(self.classes, n_images, shape[-1])

    def __call__(self, outputs: tf.Tensor) -> tf.Tensor:
        idx = (
            tf.argmax(outputs, axis=-1)
            if self.classes is None
            else tf.constant(np.broadcast_to(self.classes, outputs.shape[:1]))
        )
        p = tf.gather(outputs, tf.cast(idx, tf.int32), axis=1, batch_dims=1)
        return tf.math.log(p + 1e-9) if self.log else p


class BinaryScore(Score):
    """A single sigmoid output as two classes: the output for class 1, its negation for 0.

    Args:
        targets: 0 or 1 for every image, one per image, or None for the predicted class.
    """

    def __init__(self, targets: int | Sequence[int] | None = None):
        self.targets = targets

    @property
    def size(self) -> int | None:
        return None if self.targets is None else int(np.asarray(self.targets).size)

    def check(self, shape: Sequence[int | None], n_images: int) -> None:
        _check_classes(self.targets, n_images, 1)

    def __call__(self, outputs: tf.Tensor) -> tf.Tensor:
        p = outputs[:, 0]
        cls = (
            (p > 0.5)
            if self.targets is None
            else tf.constant(np.broadcast_to(self.targets, p.shape) == 1)
        )
        score = tf.where(cls, p, -p)
        return score


def class_score(
    n_outputs: int | None, classes: int | Sequence[int] | None = None, log: bool = False
) -> Score:
    """The score of ``classes`` for a model with ``n_outputs`` output units: binary for one
    sigmoid unit, categorical otherwise."""
    return BinaryScore(classes) if n_outputs == 1 else CategoricalScore(classes, log=log)
