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


def test_a_split_stored_class_by_class_is_mixed_beyond_the_buffer(monkeypatch):
    """GTSRB's training pickle is stored class by class; with a buffer smaller than the split,
    batches would hold a few neighbouring classes in class order. Each batch must mix them."""
    import helpers.pipeline as pipeline

    monkeypatch.setattr(pipeline, "SHUFFLE_BUFFER", 40)
    labels = np.repeat(np.arange(10), 40)  # 400 images, sorted by class, buffer of 40
    split = ArraySplit(np.zeros((400, 4, 4, 1), np.uint8), labels)
    batches = [y.numpy() for _, y in to_tf_dataset(split, batch_size=40, shuffle=True, seed=1)]
    assert sorted(np.concatenate(batches).tolist()) == labels.tolist()  # each image once
    assert min(len(set(b.tolist())) for b in batches) >= 6  # about 9.8 of 10 when mixed
    first = [np.concatenate([y.numpy() for _, y in to_tf_dataset(
        split, batch_size=40, shuffle=True, seed=s)])[:40] for s in (1, 1, 2)]
    assert first[0].tolist() == first[1].tolist() != first[2].tolist()  # seeded


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
    np.testing.assert_array_equal(y.numpy(), np.eye(3)[np.arange(5) % 3])
    flat = ArraySplit(np.full((2, 8, 8, 3), 77, np.uint8), np.array([0, 1]))
    big = next(iter(to_tf_dataset(flat, batch_size=2, image_size=(16, 16))))[0].numpy()
    np.testing.assert_allclose(big, 77.0, atol=1e-4)  # resized, values kept


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


def test_map_fn_and_augmentation_are_applied_to_the_images():
    ramp = np.broadcast_to(np.arange(16, dtype=np.uint8)[None, None, :, None] * 10, (4, 16, 16, 3))
    split = ArraySplit(np.ascontiguousarray(ramp), np.array([0, 1, 2, 0]))
    x, y = take_images(to_tf_dataset(split, batch_size=4, map_fn=lambda im: 255.0 - im), 4)
    np.testing.assert_array_equal(x, 255.0 - ramp)
    mirror = make_augmentation(flip="horizontal", rotation=0, zoom=0, translation=0, contrast=0,
                               seed=1)
    seen = set()
    for _ in range(4):  # each image is mirrored or not, at random, in every epoch
        xa, ya = take_images(to_tf_dataset(split, batch_size=4, augment=mirror), 4)
        assert ya.tolist() == [0, 1, 2, 0]
        for img in xa:
            same, flipped = np.allclose(img, ramp[0]), np.allclose(img, ramp[0][:, ::-1])
            assert same or flipped
            seen.add(flipped)
    assert seen == {True, False}
