"""Images a classifier assigns to a chosen class: regularised activation maximisation.

Naive gradient ascent on the pixels of an input produces high-frequency noise that the model
scores highly but no person recognises. :func:`class_images` runs the activation-maximisation
engine of :mod:`helpers.maximize` on a :class:`~helpers.objectives.CategoricalScore` (the
log-probability of the class: raising it also lowers the others) with the three measures of
the feature-visualisation literature (Mordvintsev, Olah et al. 2015-2017) that make the images
readable:

* **a decorrelated parametrisation** (:class:`~helpers.maximize.FourierImage`): a spectrum
  scaled by ``1/frequency`` whose colours are mixed with the square root of the training
  pixels' colour covariance (:func:`colour_sqrt_covariance`);
* **transformation robustness**: every step scores a randomly jittered, scaled and slightly
  rotated copy;
* **penalties**: total variation (smoothness) and an L2 pull of the image towards grey.

:class:`ClassImageConfig` turns each measure on or off, so the same call also makes the naive
images for comparison. :func:`agreement` asks a second, independent model whether it sees the
intended class, and :func:`agreement_table` gives that rate per class with a Wilson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from .evaluation import wilson_interval
from .maximize import (
    L2,
    ActivationMaximization,
    FourierImage,
    Jitter,
    PixelImage,
    Rotate,
    Scale,
    TotalVariation,
)
from .objectives import CategoricalScore


def colour_sqrt_covariance(images: np.ndarray) -> np.ndarray:
    """Symmetric square root of the 3×3 covariance of pixel colours (0..1 scale)."""
    px = np.asarray(images, dtype="float64").reshape(-1, 3) / 255.0
    cov = np.cov(px, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.sqrt(np.maximum(vals, 1e-8))) @ vecs.T


@dataclass
class ClassImageConfig:
    """Settings of :func:`class_images` (the defaults suit 32-128 px classifiers)."""

    steps: int = 256
    learning_rate: float = 0.05
    jitter: int = 4  # pixels of random shift per step
    scale: float = 0.08  # random zoom of up to this fraction
    rotate: float = 0.04  # random rotation, fraction of a full turn
    tv_weight: float = 2e-3
    l2_weight: float = 1e-3
    decay_power: float = 1.0  # spectrum scale 1/f^decay_power
    fourier: bool = True  # False: optimise pixels directly (for comparison)

    def transforms(self) -> list:
        """The random transformations this configuration turns on."""
        chosen = [(self.jitter, Jitter), (self.scale, Scale), (self.rotate, Rotate)]
        return [make(amount) for amount, make in chosen if amount]

    def penalties(self) -> list:
        """The penalties with a non-zero weight."""
        chosen = [(self.tv_weight, TotalVariation), (self.l2_weight, L2)]
        return [make(weight) for weight, make in chosen if weight]


def class_images(
    model: keras.Model,
    classes: list[int],
    colour: np.ndarray | None = None,
    config: ClassImageConfig | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one image per entry of ``classes`` that ``model`` assigns to that class.

    Args:
        model: a softmax classifier taking float images in 0..255.
        classes: class indices (repeat an index for several images of one class).
        colour: 3×3 colour mixing matrix (e.g. :func:`colour_sqrt_covariance` of the training
            images); identity when None.
        config: optimisation settings.

    Returns:
        ``(images, curve)``: uint8 images ``(N, H, W, 3)`` and the target class probability of
        each image (untransformed) at the start and end, shape ``(2, N)``.
    """
    cfg = config or ClassImageConfig()
    param = FourierImage(cfg.decay_power, colour) if cfg.fourier else PixelImage(colour)
    result = ActivationMaximization(model)(
        CategoricalScore(list(classes), log=True),
        param=param,
        transforms=cfg.transforms(),
        penalties=cfg.penalties(),
        steps=cfg.steps,
        learning_rate=cfg.learning_rate,
        seed=seed,
    )
    return result.images, np.exp(result.curve)  # the score is the log-probability


def agreement(judge: keras.Model, images: np.ndarray, classes: list[int]) -> np.ndarray:
    """Per image: 1.0 where ``judge`` (trained independently) predicts the intended class."""
    p = keras.ops.convert_to_numpy(judge(np.asarray(images, dtype="float32"), training=False))
    return (p.argmax(axis=1) == np.asarray(classes)).astype(float)


def agreement_table(
    agree: np.ndarray, classes: list[int], names: list[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Per class (and over all): images judged, how many the judge assigned to the intended
    class, that rate and its Wilson score interval (sound for small counts and rates of 0 or 1).
    """
    agree, classes = np.asarray(agree).astype(bool), np.asarray(classes)
    groups = [(n, agree[classes == c]) for c, n in enumerate(names)] + [("all classes", agree)]
    rows = {}
    for name, hits in groups:
        if hits.size == 0:
            continue
        low, high = wilson_interval(int(hits.sum()), hits.size, confidence)
        rows[name] = {"images": hits.size, "agreed": int(hits.sum()), "rate": hits.mean(),
                      "Wilson low": low, "Wilson high": high}
    return pd.DataFrame.from_dict(rows, orient="index")
