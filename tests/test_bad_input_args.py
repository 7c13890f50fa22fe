"""Bad arguments to the visualisation helpers: a ValueError that says what is allowed."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.attribution import grad_cam
from helpers.deconv import project, strongest
from helpers.visualize import filter_patterns


def _softmax_net(classes: int = 3) -> keras.Model:
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(classes, activation="softmax", name="out")(x)
    return keras.Model(inp, out)


def _sigmoid_net() -> keras.Model:
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="out")(x))


def _dense_net() -> keras.Model:
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Flatten(name="flat")(inp)
    x = keras.layers.Dense(8, name="hidden")(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")


@pytest.mark.parametrize(
    "class_index, words",
    [
        (3, ["[3] out of range", "0..2"]),
        (-1, ["[-1] out of range", "0..2"]),
        ([0, 1, 2], ["3 entries for 2 images"]),
        (1.5, ["int"]),
        ("cat", ["int"]),
    ],
)
def test_grad_cam_class_index(class_index, words):
    with pytest.raises(ValueError) as info:
        grad_cam(_softmax_net(), IMAGES, "conv", class_index=class_index)
    for word in words:
        assert word in str(info.value), str(info.value)


@pytest.mark.parametrize("class_index", [2, -1, [0, 5]])
def test_grad_cam_sigmoid_allows_only_0_and_1(class_index):
    with pytest.raises(ValueError, match=r"0 or 1 \(a single sigmoid output\)"):
        grad_cam(_sigmoid_net(), IMAGES, "conv", class_index=class_index)


def test_grad_cam_valid_indices_still_work():
    cams = grad_cam(_softmax_net(), IMAGES, "conv", class_index=[0, 2])
    assert cams.heatmap.shape[0] == 2 and cams.predictions.shape == (2, 3)
    cams = grad_cam(_sigmoid_net(), IMAGES, "conv", class_index=0)
    assert np.isfinite(cams.heatmap).all()


def test_grad_cam_without_convolution_layers():
    with pytest.raises(ValueError, match=r"spatial feature maps.*'hidden' outputs \(None, 8\)"):
        grad_cam(_dense_net(), IMAGES, "hidden")


def test_grad_cam_single_image_without_batch_axis():
    with pytest.raises(ValueError, match=r"batch \(N, H, W, C\)"):
        grad_cam(_softmax_net(), IMAGES[0], "conv")


@pytest.mark.parametrize("channel, word", [(4, "0..3"), (-1, ">= 0"), (1.0, "int")])
def test_strongest_channel(channel, word):
    with pytest.raises(ValueError, match=word):
        strongest(_softmax_net(), IMAGES, "pool", channel)


def test_strongest_and_project_valid_channel_still_work():
    order, peaks = strongest(_softmax_net(), IMAGES, "pool", 3, k=2)
    assert sorted(order.tolist()) == [0, 1] and peaks.shape == (2,)
    with pytest.raises(ValueError, match="4 channels"):
        project(_softmax_net(), IMAGES, "pool", channel=-1)


def test_filter_patterns_on_a_dense_layer():
    with pytest.raises(ValueError, match=r"filter patterns needs a layer with spatial"):
        filter_patterns(_dense_net(), "hidden", [0])


def test_filter_patterns_with_unknown_input_size():
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    with pytest.raises(ValueError, match=r"not fixed: pass image_size"):
        filter_patterns(model, "conv", [0], steps=1)
    images, curve = filter_patterns(model, "conv", [1], image_size=(8, 8), steps=1)
    assert images.shape == (1, 8, 8, 3) and curve.shape == (2, 1)


@pytest.mark.parametrize("filters", [[4], [-1], [], [0.5]])
def test_filter_patterns_filter_indices(filters):
    with pytest.raises(ValueError, match=r"0\.\.3"):
        filter_patterns(_softmax_net(), "conv", filters, steps=1)
