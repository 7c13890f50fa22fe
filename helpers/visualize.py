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

from .maximize import ActivationMaximization, Jitter
from .objectives import FilterScore


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
