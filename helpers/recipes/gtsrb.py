"""GTSRB's final recipe: the sign's region of interest, grayscale + CLAHE, a small fast CNN.

What each ingredient is for:

* **ROI crop.** The pickles keep each sign's bounding box (``coords``) in the pixels of the
  original photograph (``sizes`` = width, height) while the 32×32 images show the whole photo,
  about 10 % border included. Cropping to the box (plus a small margin) and resizing back to
  32×32 gives the sign ~1.7× more pixels.
* **Grayscale + CLAHE.** Signs are told apart by shape and pictogram; a third of the photos are
  very dark, and contrast-limited adaptive equalisation of the luma (OpenCV) evens that out
  (Sermanet & LeCun 2011 and Ciresan et al. 2012 both normalise contrast this way).
* **Mild jitter.** Small rotations, zooms and shifts, no flips (a left-turn sign mirrored is a
  right-turn sign).
* **Label smoothing 0.1, AdamW, warm-up + cosine by the clock.**
* **A committee.** The same network on colour ROI inputs (CLAHE on the luma only) makes
  different mistakes; the mean of the two nets' probabilities is the suite's best (in the spirit
  of Ciresan et al.'s multi-column net, 99.46 %).
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..blocks import conv_bn_relu
from ..datasets.base import ArraySplit
from ..imageproc import clahe, to_grayscale
from ..pipeline import make_augmentation
from .base import Recipe, Split

SIZE = 32


def roi_box(size_wh: np.ndarray, coords: np.ndarray, shape_hw: tuple[int, int],
            margin: float = 0.1) -> tuple[int, int, int, int]:
    """The region of interest in the stored image's pixels, as ``(top, left, bottom, right)``.

    Args:
        size_wh: the original photograph's ``(width, height)``.
        coords: the ROI ``(x1, y1, x2, y2)`` in the original's pixels (x2, y2 inclusive).
        shape_hw: the stored image's ``(height, width)``.
        margin: extra border on every side, as a fraction of the box's width / height.
    """
    w0, h0 = (float(v) for v in size_wh)
    x1, y1, x2, y2 = (float(v) for v in coords)
    sx, sy = shape_hw[1] / w0, shape_hw[0] / h0
    bw, bh = (x2 - x1 + 1) * margin, (y2 - y1 + 1) * margin
    left = int(np.floor(max(0.0, (x1 - bw) * sx)))
    top = int(np.floor(max(0.0, (y1 - bh) * sy)))
    right = int(np.ceil(min(shape_hw[1], (x2 + 1 + bw) * sx)))
    bottom = int(np.ceil(min(shape_hw[0], (y2 + 1 + bh) * sy)))
    if right - left < 2 or bottom - top < 2:  # degenerate box: keep the whole image
        return 0, 0, shape_hw[0], shape_hw[1]
    return top, left, bottom, right


def crop_to_roi(split: Split, margin: float = 0.1) -> Split:
    """Crop every image to its region of interest and resize it back to the stored size.

    Splits without ``sizes`` and ``coords`` (e.g. a synthetic stand-in) are returned unchanged.
    """
    if not isinstance(split, ArraySplit) or not {"sizes", "coords"} <= set(split.extra):
        return split
    h, w = split.x.shape[1:3]
    out = np.empty_like(split.x)
    for i, (img, size, box) in enumerate(
        zip(split.x, split.extra["sizes"], split.extra["coords"], strict=True)
    ):
        top, left, bottom, right = roi_box(size, box, (h, w), margin)
        out[i] = cv2.resize(img[top:bottom, left:right], (w, h), interpolation=cv2.INTER_AREA)
    return ArraySplit(out, split.y, dict(split.extra))


def gray_clahe(image: tf.Tensor) -> tf.Tensor:
    """Luma (BT.601), then OpenCV CLAHE: one channel, float32 0..255."""
    return clahe(to_grayscale(image))


def signs_net(recipe: Recipe) -> keras.Model:
    """Five 3×3 conv-BN-ReLU layers (32, 32 | 64, 64 | 128) with three poolings, dropout,
    softmax: about 0.23 M parameters on one grayscale channel."""
    inp = keras.Input((*recipe.image_size, recipe.channels), name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inp)
    for i, (width, convs) in enumerate(((32, 2), (64, 2), (128, 1)), start=1):
        for j in range(1, convs + 1):
            x = conv_bn_relu(x, width, name=f"block{i}_conv{j}")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(recipe.num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=recipe.model_name)


def sign_jitter(recipe: Recipe, seed: int) -> keras.Layer:
    """Rotations up to ±11°, 10 % zoom, 8 % shifts; never a flip."""
    return make_augmentation(flip=None, rotation=0.03, zoom=0.1, translation=0.08,
                             contrast=0.0, seed=seed)


GTSRB = Recipe(
    key="gtsrb/cnn",
    title="5-conv CNN, ROI crop, grayscale + CLAHE, jitter, label smoothing",
    num_classes=43,
    image_size=(SIZE, SIZE),
    channels=1,
    build=signs_net,
    prepare=crop_to_roi,
    map_fn=gray_clahe,
    augment=sign_jitter,
    label_smoothing=0.1,
    optimizer="adamw",
    peak_lr=3e-3,
    weight_decay=5e-4,
    batch_size=128,
    budget_s=15 * 60,
    epochs=12,
    ingredients={
        "ROI crop": {"prepare": None},
        "grayscale + CLAHE": {"map_fn": None, "channels": 3},
        "jitter": {"augment": None},
        "label smoothing": {"label_smoothing": 0.0},
    },
    notes="ROI crop, CLAHE and a committee follow Sermanet & LeCun 2011 and Ciresan et al. 2012",
)

GTSRB_COLOUR = GTSRB.replace(
    key="gtsrb/cnn_colour",
    title="5-conv CNN, ROI crop, colour + CLAHE on the luma, jitter, label smoothing",
    map_fn=clahe,
    channels=3,
    epochs=13,
    ingredients={},
    notes="the committee's second member: same network and schedule on colour inputs",
)
