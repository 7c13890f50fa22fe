"""``tf.data`` input pipelines and Keras preprocessing-layer augmentation.

One function turns any split of a :class:`~helpers.datasets.Dataset` into a
batched, prefetched ``tf.data.Dataset`` of ``(float32 images in 0..255, int labels)``:
files are decoded with ``tf.io.decode_image`` (JPEG, PNG, BMP, GIF, WebP; grayscale is
expanded to RGB) and resized like ``image_dataset_from_directory`` does; arrays are
sliced from memory. Rescaling belongs in the model (a ``Rescaling`` layer or a
backbone's ``preprocess_input``), so a saved model carries its own preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from .datasets.base import ArraySplit, FileSplit
from .datasets.folders import decode_rgb

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER = 10_000  # images the shuffle buffer holds (a split this size or less: all)


def decode_resize(path: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
    """Read one image file into float32 ``image_size + (3,)`` with values in 0..255."""
    img = decode_rgb(tf.io.read_file(path))  # the decoder the loaders validated with
    img = tf.image.resize(img, image_size, method="bilinear")
    img.set_shape((*image_size, 3))
    return img


def make_augmentation(
    *,
    flip: str | None = "horizontal",
    rotation: float = 0.05,
    zoom: float = 0.1,
    translation: float = 0.1,
    contrast: float = 0.1,
    seed: int | None = None,
    name: str = "augmentation",
) -> keras.Sequential:
    """A Keras preprocessing-layer stack for training-time augmentation.

    Args:
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or None (traffic
            signs must not be mirrored: a left turn would become a right turn).
        rotation, zoom, translation, contrast: strengths as fractions; 0 leaves that layer out.
    """
    layers: list[keras.Layer] = []
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=seed))
    if translation:
        layers.append(
            keras.layers.RandomTranslation(translation, translation, fill_mode="reflect", seed=seed)
        )
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, seed=seed))
    return keras.Sequential(layers, name=name)


def to_tf_dataset(
    split: ArraySplit | FileSplit,
    *,
    batch_size: int = 32,
    image_size: tuple[int, int] | None = None,
    shuffle: bool = False,
    seed: int = 0,
    augment: Callable | None = None,
    map_fn: Callable | None = None,
    cache: bool = True,
    one_hot: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Build a batched, prefetched pipeline from a split.

    Order: (when shuffling a split larger than the shuffle buffer, one seeded permutation of
    it first), read/decode, optional ``map_fn`` (per image, e.g. grayscale or equalisation),
    cache, shuffle (seeded, reshuffled every epoch), batch, optional ``augment`` (per
    batch, training only), prefetch. Caching sits before shuffling and augmentation so
    decoding happens once while every epoch still sees new random crops and orders.

    Args:
        split: an :class:`ArraySplit` (arrays in memory) or :class:`FileSplit` (files).
        image_size: target ``(height, width)``; required for files, optional resize for arrays.
        one_hot: number of classes to one-hot encode labels, or None for integer labels.
    """
    if shuffle and len(split) > SHUFFLE_BUFFER:
        # the buffer mixes only SHUFFLE_BUFFER neighbours: a split stored class by class (the
        # GTSRB pickles) would give batches of a few classes each, in class order. One seeded
        # permutation first makes the stored order irrelevant; the buffer reshuffles per epoch
        split = split.take(np.random.default_rng(seed).permutation(len(split)))
    if isinstance(split, FileSplit):
        if image_size is None:
            raise ValueError("image_size is required for a dataset of files")
        ds = tf.data.Dataset.from_tensor_slices((split.paths, split.y))
        ds = ds.map(lambda p, y: (decode_resize(p, image_size), y), num_parallel_calls=AUTOTUNE)
    elif isinstance(split, ArraySplit):
        ds = tf.data.Dataset.from_tensor_slices((split.x, split.y))
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=AUTOTUNE)
        if image_size is not None and tuple(split.x.shape[1:3]) != tuple(image_size):
            ds = ds.map(
                lambda x, y: (tf.image.resize(x, image_size), y), num_parallel_calls=AUTOTUNE
            )
    else:
        raise TypeError(f"expected an ArraySplit or FileSplit, got {type(split).__name__}")
    if map_fn is not None:
        ds = ds.map(lambda x, y: (map_fn(x), y), num_parallel_calls=AUTOTUNE)
    if one_hot:
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, one_hot)), num_parallel_calls=AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(split), SHUFFLE_BUFFER), seed=seed,
                        reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        # one batch at a time: the layers' random state is then drawn in batch order, so a
        # seeded run repeats exactly (parallel calls would share it in the threads' order);
        # the prefetch below still overlaps augmentation with the training step
        ds = ds.map(lambda x, y: (augment(x, training=True), y))
    return ds.prefetch(AUTOTUNE)


def take_images(ds: tf.data.Dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images and labels of a batched dataset, as NumPy arrays."""
    xs, ys, got = [], [], 0
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
        got += len(xs[-1])
        if got >= n:
            break
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
