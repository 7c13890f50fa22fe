"""The configurable plain convnet the notebooks' comparisons share.

It takes float images in 0..255 and rescales inside, so saved models and visualisations need
no outside step; augmentation belongs to the ``tf.data`` pipeline (README, "Where
augmentation lives"). Blocks are in :mod:`helpers.blocks`, classifiers on ImageNet backbones in
:mod:`helpers.backbones`, each dataset's final model in :mod:`helpers.recipes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from .blocks import classifier_head, conv_bn_relu


def plain_convnet(
    input_shape: tuple[int, int, int],
    n_classes: int,
    filters: Sequence[int] = (32, 64, 128, 128),
    convs_per_block: int = 1,
    batchnorm: bool = True,
    dropout: float = 0.5,
    dense: int = 0,
    name: str = "convnet",
) -> keras.Model:
    """Blocks of 3×3 conv(-BN)-ReLU followed by 2×2 max pooling, then flatten and dense.

    Layer names: ``block{i}_conv{j}_conv`` / ``_bn`` / ``_relu`` and ``block{i}_pool``.

    Args:
        filters: channels of each block; the image is halved after every block.
        convs_per_block: convolutions per block before pooling.
        dense: units of an extra hidden dense layer (0: none).
    """
    inp = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inp)
    for i, f in enumerate(filters, start=1):
        for j in range(1, convs_per_block + 1):
            x = conv_bn_relu(x, f, 3, name=f"block{i}_conv{j}", batchnorm=batchnorm)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    if dense:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(dense, activation="relu", name="hidden")(x)
        x = layers.Reshape((1, 1, dense), name="hidden_map")(x)
    out = classifier_head(x, n_classes, dropout)
    return keras.Model(inp, out, name=name)
