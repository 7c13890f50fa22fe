"""Cats vs dogs: a linear probe on ImageNet features, and a convnet from scratch.

* **Pretrained** (:data:`CATS_PROBE`): MobileNet α=0.75 (the ImageNet weights that exist offline)
  at 224 px, pooled features averaged with the mirror image's, plus one feature that the
  ImageNet classifier already knows: the log ratio of its probability mass on the 118 dog
  breeds against the 5 domestic cats; a logistic regression on top. Where VGG16 weights can be
  downloaded, ``CATS_PROBE.replace(backbone="vgg16")`` runs the same probe on VGG16.
* **From scratch** (:data:`CATS_SCRATCH`): five conv-BN-ReLU blocks at 128 px, flattened into
  one sigmoid unit (the handout's part (c)), strong
  augmentation for 2 000 training images, label smoothing, AdamW with warm-up and cosine decay
  by the clock, mirror test-time augmentation.
"""

from __future__ import annotations

import keras
from keras import layers

from ..blocks import conv_bn_relu
from ..pipeline import make_augmentation
from .base import Recipe
from .probe import IMAGENET_CATS, IMAGENET_DOGS, ProbeRecipe

CATS_PROBE = ProbeRecipe(
    key="cats_dogs/pretrained",
    title="MobileNet α=0.75 ImageNet features (224 px, mirror) + dog/cat log ratio, "
    "logistic regression",
    backbone="mobilenet_0.75",
    image_size=(224, 224),
    mirror=True,
    log_ratio=(IMAGENET_DOGS, IMAGENET_CATS),
    ingredients={"log-ratio feature": {"log_ratio": None}, "mirror": {"mirror": False}},
)


def cats_net(recipe: Recipe, widths: tuple[int, ...] = (32, 64, 128, 192, 256)) -> keras.Model:
    """Five blocks of 3×3 conv-BN-ReLU and 2×2 max pooling (two convolutions in the last,
    8×8 block, where they are cheap), then, as part (c) of the handout asks, the 4×4 maps
    flattened into dropout 0.3 and one sigmoid unit: about 0.6 GFLOPs per 128-px image, so a
    15-minute budget buys about 30 epochs here."""
    inp = keras.Input((*recipe.image_size, 3), name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inp)
    for i, w in enumerate(widths, start=1):
        x = conv_bn_relu(x, w, name=f"block{i}_conv1")
        if i == len(widths):
            x = conv_bn_relu(x, w, name=f"block{i}_conv2")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return keras.Model(inp, out, name="cats_cnn")


def pet_jitter(recipe: Recipe, seed: int) -> keras.Layer:
    """Flips, ±18° rotations, 20 % zooms and shifts, 20 % contrast."""
    return make_augmentation(flip="horizontal", rotation=0.05, zoom=0.2, translation=0.2,
                             contrast=0.2, seed=seed)


CATS_SCRATCH = Recipe(
    key="cats_dogs/scratch",
    title="CNN 5 conv-BN blocks from scratch, 128 px, strong jitter, label smoothing, mirror TTA",
    num_classes=2,
    image_size=(128, 128),
    build=cats_net,
    augment=pet_jitter,
    label_smoothing=0.1,
    optimizer="adamw",
    peak_lr=2e-3,
    weight_decay=5e-4,
    batch_size=32,
    tta=("flip",),
    budget_s=15 * 60,
    epochs=22,
    ingredients={"augmentation": {"augment": None}, "mirror TTA": {"tta": ()}},
)
