"""tf.data pipelines from arrays and files, augmentation layers."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.datasets import ArraySplit
from helpers.pipeline import make_augmentation, take_images, to_tf_dataset


def _split(n=10):
    x = np.arange(n * 8 * 8 * 3, dtype=np.uint8).reshape(n, 8, 8, 3)
    return ArraySplit(x, np.arange(n) % 3)


def test_array_pipeline_batches_and_keeps_values():
    ds = to_tf_dataset(_split(), batch_size=4)
    x, y = take_images(ds, 10)
    np.testing.assert_array_equal(x, _split().x.astype(np.float32))
    assert y.tolist() == (np.arange(10) % 3).tolist()


def test_shuffle_is_seeded_and_resize_and_one_hot():
    a = take_images(to_tf_dataset(_split(), batch_size=5, shuffle=True, seed=3), 10)
    b = take_images(to_tf_dataset(_split(), batch_size=5, shuffle=True, seed=3), 10)
    assert a[1].tolist() == b[1].tolist()
    # it does shuffle: the images come out in another order, each once, labels still attached
    indexed = ArraySplit(np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 8, 8, 3),
                         np.uint8), np.arange(10) % 3)  # image i is filled with the value i
    x, y = take_images(to_tf_dataset(indexed, batch_size=5, shuffle=True, seed=3), 10)
    order = x[:, 0, 0, 0].astype(int).tolist()
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert y.tolist() == [i % 3 for i in order]
    other = take_images(to_tf_dataset(indexed, batch_size=5, shuffle=True, seed=4), 10)[0]
    assert other[:, 0, 0, 0].astype(int).tolist() != order  # the seed matters
    ds = to_tf_dataset(indexed, batch_size=10, shuffle=True, seed=3)
    epochs = [next(iter(ds))[0].numpy()[:, 0, 0, 0].tolist() for _ in range(2)]
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    x, y = next(iter(to_tf_dataset(_split(), batch_size=5, image_size=(16, 16), one_hot=3)))
    assert x.shape == (5, 16, 16, 3) and y.shape == (5, 3)


def test_files_need_an_image_size(tmp_path):
    from helpers.datasets import FileSplit

    with pytest.raises(ValueError, match="image_size"):
        to_tf_dataset(FileSplit(["a.jpg"], np.array([0])))


def test_augmentation_without_flip_for_signs():
    aug = make_augmentation(flip=None, rotation=0.05, zoom=0, translation=0, contrast=0)
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomRotation"]
    out = to_tf_dataset(_split(), batch_size=5, augment=aug)
    x, _ = next(iter(out))
    assert x.shape == (5, 8, 8, 3)
