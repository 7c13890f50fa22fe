"""Building blocks for functional Keras models: conv-BN-ReLU, inception and residual blocks.

Each builder takes a symbolic tensor and returns one, naming its layers after ``name`` so
visualisations can address them.
"""

from __future__ import annotations

from keras import layers


def conv_bn_relu(
    x, filters: int, kernel: int = 3, strides: int = 1, name: str = "conv", batchnorm: bool = True
):
    """Convolution ('same' padding), optional batch normalisation, ReLU."""
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=not batchnorm,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    if batchnorm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def inception_block(
    x,
    f1: int,
    f3_reduce: int,
    f3: int,
    f5_reduce: int,
    f5: int,
    pool_proj: int,
    name: str = "inception",
    batchnorm: bool = True,
):
    """GoogLeNet-style inception module (Szegedy et al. 2015), four parallel branches.

    1×1 convolution; 1×1 reduction then 3×3; 1×1 reduction then 5×5; 3×3 max pooling
    (stride 1) then 1×1 projection. Spatial size is kept; the output has
    ``f1 + f3 + f5 + pool_proj`` channels.
    """
    b1 = conv_bn_relu(x, f1, 1, name=f"{name}_1x1", batchnorm=batchnorm)
    b3 = conv_bn_relu(x, f3_reduce, 1, name=f"{name}_3x3_reduce", batchnorm=batchnorm)
    b3 = conv_bn_relu(b3, f3, 3, name=f"{name}_3x3", batchnorm=batchnorm)
    b5 = conv_bn_relu(x, f5_reduce, 1, name=f"{name}_5x5_reduce", batchnorm=batchnorm)
    b5 = conv_bn_relu(b5, f5, 5, name=f"{name}_5x5", batchnorm=batchnorm)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_branch_pool")(x)
    bp = conv_bn_relu(bp, pool_proj, 1, name=f"{name}_pool_proj", batchnorm=batchnorm)
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


def residual_block(
    x,
    filters: int,
    strides: int = 1,
    name: str = "residual",
    zero_init: bool = True,
):
    """Basic ResNet block (He et al. 2016): two 3×3 conv-BN layers plus a shortcut, then ReLU.

    The shortcut is the identity when shape is unchanged, otherwise a 1×1 convolution with
    the block's stride followed by batch normalisation (a projection). With ``zero_init``
    the last BN's scale starts at zero, so the block starts as its shortcut (Goyal et al.
    2017), which eases training of deeper stacks.
    """
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters,
            1,
            strides=strides,
            use_bias=False,
            kernel_initializer="he_normal",
            name=f"{name}_proj_conv",
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = conv_bn_relu(x, filters, 3, strides=strides, name=f"{name}_a")
    y = layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_b_conv",
    )(y)
    y = layers.BatchNormalization(
        gamma_initializer="zeros" if zero_init else "ones", name=f"{name}_b_bn"
    )(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def classifier_head(
    x, n_classes: int, dropout: float = 0.0, flatten: bool = True, name: str = "head"
):
    """Flatten (or global average pooling) + optional dropout + the output layer.

    Two classes get one sigmoid unit, more classes a softmax.
    """
    x = (
        layers.Flatten(name=f"{name}_flatten")(x)
        if flatten
        else layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    )
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    if n_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return layers.Dense(n_classes, activation="softmax", name="predictions")(x)
