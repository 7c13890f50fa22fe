"""AHE's final recipes: a CNN from scratch and a fine-tuned ImageNet MobileNet, and their mean.

* **From scratch** (64×64): four blocks of two 3×3 conv-BN-ReLU layers (24 → 192 channels),
  flips (church architecture is close to mirror-symmetric), small rotations, zooms, shifts and
  contrast changes, label smoothing 0.1, AdamW with warm-up and a cosine decay by the clock,
  and the mirror image as test-time augmentation.
* **Fine-tuned MobileNet α=0.75** (the ImageNet weights that exist offline): the 64×64 images
  upsampled to 96×96, the whole network trained at a low learning rate with its batch norm in
  inference mode (statistics frozen, the usual Keras fine-tuning practice), label smoothing,
  flips, mirror test-time augmentation.
"""

from __future__ import annotations

import keras
from keras import layers

from ..backbones import load_backbone, unfreeze_top
from ..blocks import conv_bn_relu
from ..pipeline import make_augmentation
from .base import Recipe


def scratch_net(recipe: Recipe, widths: tuple[int, ...] = (24, 48, 96, 192)) -> keras.Model:
    """Blocks of two 3×3 conv-BN-ReLU and a 2×2 max pool; flatten, dropout 0.3, softmax."""
    inp = keras.Input((*recipe.image_size, 3), name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inp)
    for i, w in enumerate(widths, start=1):
        x = conv_bn_relu(x, w, name=f"block{i}_conv1")
        x = conv_bn_relu(x, w, name=f"block{i}_conv2")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(recipe.num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="ahe_cnn")


def architecture_jitter(recipe: Recipe, seed: int) -> keras.Layer:
    """Mirror flips, ±11° rotations, 10 % zooms, 8 % shifts, 10 % contrast."""
    return make_augmentation(flip="horizontal", rotation=0.03, zoom=0.1, translation=0.08,
                             contrast=0.1, seed=seed)


def fine_tuned_mobilenet(recipe: Recipe, *, train_batch_norm: bool = False) -> keras.Model:
    """MobileNet α=0.75 with ImageNet weights, every layer trainable but batch norm frozen in
    inference mode (unless ``train_batch_norm``), global average pooling, dropout 0.2 and a
    softmax layer."""
    loaded = load_backbone("mobilenet_0.75", (*recipe.image_size, 3),  # quick: never downloads
                           allow_download=False if recipe.allow_random_weights else None,
                           allow_random=recipe.allow_random_weights)
    unfreeze_top(loaded.model, None)  # batch norm stays frozen: it keeps ImageNet statistics
    if train_batch_norm:  # the ablation: batch norm trains and updates its statistics too
        for layer in loaded.model.layers:
            layer.trainable = True
    x = layers.GlobalAveragePooling2D(name="pooled")(loaded.model.outputs[0])
    x = layers.Dropout(0.2, name="dropout")(x)
    out = layers.Dense(recipe.num_classes, activation="softmax", name="predictions")(x)
    model = keras.Model(loaded.model.inputs[0], out, name="ahe_mobilenet")
    model.weights_source = loaded.weights  # "imagenet (cached file …)" or "random …"
    return model


def mobilenet_training_batch_norm(recipe: Recipe) -> keras.Model:
    """:func:`fine_tuned_mobilenet` with batch norm trained as well (the ablation's builder)."""
    return fine_tuned_mobilenet(recipe, train_batch_norm=True)


AHE_SCRATCH = Recipe(
    key="ahe/scratch",
    title="CNN 4×2 conv-BN from scratch, jitter, label smoothing, mirror TTA",
    num_classes=10,
    image_size=(64, 64),
    build=scratch_net,
    augment=architecture_jitter,
    label_smoothing=0.1,
    optimizer="adamw",
    peak_lr=2e-3,
    weight_decay=5e-4,
    batch_size=64,
    tta=("flip",),
    budget_s=20 * 60,
    epochs=17,
    ingredients={
        "augmentation": {"augment": None},
        "label smoothing": {"label_smoothing": 0.0},
        "mirror TTA": {"tta": ()},
    },
)

AHE_MOBILENET = Recipe(
    key="ahe/mobilenet",
    title="MobileNet α=0.75 (ImageNet) fine-tuned at 96 px, label smoothing, mirror TTA",
    num_classes=10,
    image_size=(96, 96),
    build=fine_tuned_mobilenet,
    augment=architecture_jitter,
    label_smoothing=0.1,
    optimizer="adamw",
    peak_lr=5e-4,
    weight_decay=1e-4,
    batch_size=64,
    tta=("flip",),
    budget_s=11 * 60,
    epochs=10,
    ingredients={
        "96 px upsampling": {"image_size": (64, 64)},
        "frozen batch norm": {"build": mobilenet_training_batch_norm},
        "mirror TTA": {"tta": ()},
    },
    notes="the only ImageNet weights available offline here",
)
