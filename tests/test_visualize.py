"""Layer lookup, feature models, filter patterns and Grad-CAM on small known models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.backbones import BackboneSpec, LoadedBackbone, transfer_classifier
from helpers.layers import LayerNotFoundError, feature_model, find_layer, layer_outputs
from helpers.models import plain_convnet
from helpers.visualize import filter_patterns, grad_cam, overlay, plot_activations, sparsity


def _bright_detector() -> keras.Model:
    """A hand-set net: conv firing on bright pixels, global average pooling, sigmoid."""
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="detect")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inp, out)
    k = np.zeros((3, 3, 3, 4), "float32")
    k[1, 1, :, :] = 1.0  # sum of the three channels at the centre pixel
    model.get_layer("detect").set_weights([k, np.full(4, -1.5, "float32")])  # fires above ~0.5
    model.get_layer("predictions").set_weights([np.ones((4, 1), "float32"), np.zeros(1, "float32")])
    return model


def _image_with_square(row: int, col: int, size: int = 8) -> np.ndarray:
    img = np.full((32, 32, 3), 20.0, "float32")
    img[row : row + size, col : col + size] = 250.0
    return img


def test_grad_cam_heat_sits_on_the_object():
    model = _bright_detector()
    images = np.stack([_image_with_square(2, 3), _image_with_square(20, 18)])
    cams, preds = grad_cam(model, images, "detect", class_index=1)
    assert cams.shape == (2, 32, 32) and preds.shape == (2, 1)
    assert cams.max() == pytest.approx(1.0)
    for cam, (r, c) in zip(cams, [(2, 3), (20, 18)], strict=True):
        inside = cam[r : r + 8, c : c + 8].mean()
        outside = (cam.sum() - cam[r : r + 8, c : c + 8].sum()) / (cam.size - 64)
        assert inside > 0.9 and outside < 0.2
        peak = np.unravel_index(cam.argmax(), cam.shape)
        assert r <= peak[0] < r + 8 and c <= peak[1] < c + 8


def test_grad_cam_for_the_other_class_is_empty_here():
    """Evidence against class 1 ('no object') has no positive gradient: ReLU leaves nothing."""
    cams, _ = grad_cam(_bright_detector(), _image_with_square(5, 5)[None], "detect", class_index=0)
    assert cams.max() == 0.0


def test_filter_pattern_raises_the_chosen_filter():
    keras.utils.set_random_seed(1)
    model = plain_convnet((32, 32, 3), 10, filters=(8, 16), name="tiny")
    images, curve = filter_patterns(model, "block2_conv1_conv", [0, 3, 7], steps=15)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert curve.shape == (16, 3)
    assert np.all(curve[-1] > curve[0] + 1e-3)


def test_filter_pattern_rejects_bad_filter_index():
    model = plain_convnet((32, 32, 3), 10, filters=(8,), name="tiny")
    with pytest.raises(ValueError, match="has 8 filters"):
        filter_patterns(model, "block1_conv1_conv", [8])


def test_unknown_layer_lists_valid_names():
    model = plain_convnet((32, 32, 3), 10, filters=(8,), name="tiny")
    with pytest.raises(LayerNotFoundError) as err:
        feature_model(model, "block9_conv1")
    assert "block1_conv1_conv" in str(err.value) and "block9_conv1" in str(err.value)
    with pytest.raises(LayerNotFoundError):
        grad_cam(model, np.zeros((1, 32, 32, 3)), "nope")


def _nested_model() -> keras.Model:
    inner_in = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="inner_conv")(inner_in)
    y = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="inner_last")(y)
    inner = keras.Model(inner_in, y, name="backbone")
    spec = BackboneSpec("toy", "toy", "", (), "", "tf", "inner_last", "inner_conv")
    return transfer_classifier(LoadedBackbone(spec, inner, "random"), (16, 16, 3), 3, dropout=0.2)


def test_nested_layers_by_plain_name_and_path():
    model = _nested_model()
    chain, layer = find_layer(model, "inner_conv")
    assert [m.name for m in chain] == [model.name, "backbone"] and layer.name == "inner_conv"
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    outs = layer_outputs(model, x, ["backbone/inner_conv", "inner_last", "predictions"])
    assert outs["backbone/inner_conv"].shape == (2, 16, 16, 4)
    assert outs["inner_last"].shape == (2, 16, 16, 6)
    np.testing.assert_allclose(outs["predictions"], model.predict(x, verbose=0), atol=1e-5)
    cams, preds = grad_cam(model, x, "inner_last")
    assert cams.shape == (2, 16, 16) and preds.shape == (2, 3)


def test_activation_plot_and_sparsity():
    model = plain_convnet((32, 32, 3), 2, filters=(8, 16), name="tiny")
    acts = layer_outputs(
        model, np.full((1, 32, 32, 3), 100.0), ["block1_conv1_relu", "block2_conv1_relu"]
    )
    fig = plot_activations(acts, channels=8, ncols=8)
    assert len(fig.axes) == 16
    s = sparsity(acts)
    assert set(s) == set(acts) and all(0.0 <= v <= 1.0 for v in s.values())


def test_overlay_shapes_and_range():
    out = overlay(np.zeros((32, 32, 3)), np.ones((4, 4)))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8 and out.max() > 0
