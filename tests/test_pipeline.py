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
    a = take_images(to_tf_dataset(_split(), batch_size=5, shuffle=True, seed=3), 10)[1]
    b = take_images(to_tf_dataset(_split(), batch_size=5, shuffle=True, seed=3), 10)[1]
    assert a.tolist() == b.tolist()
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
