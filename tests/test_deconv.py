"""Deconvnet projections of feature maps against hand-computed results and autodiff, on plain
and nested models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.backbones import BackboneSpec, LoadedBackbone, transfer_classifier
from helpers.deconv import (
    border_share,
    crop_pair,
    project,
    strongest,
    strongest_crops,
    support_box,
    top_images,
)
from helpers.model_layers import LayerNotFoundError
from helpers.models import plain_convnet
from helpers.plots import signed_image


def _conv_relu_pool() -> keras.Model:
    inp = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(1, 2, use_bias=False, activation="relu", name="conv")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    model = keras.Model(inp, x)
    model.get_layer("conv").set_weights(
        [np.array([[1, 0], [0, -1]], "float32").reshape(2, 2, 1, 1)]
    )
    return model


X = np.array([[1, 2, 0, 1], [0, 3, 1, 0], [2, 0, 4, 1], [1, 1, 0, 2]], "float32")


def test_deconvnet_matches_hand_computation_through_switches_and_transposed_filter():
    # conv (valid): y = x[i,j] - x[i+1,j+1] -> [[-2,1,0],[0,-1,0],[1,0,2]]; ReLU keeps 1, 1, 2;
    # 2x2 pooling of the top-left window picks the 1 at (0,1) (the switch); projecting it back
    # places the kernel [[1,0],[0,-1]] at (0,1).
    want = np.zeros((4, 4), "float32")
    want[0, 1], want[1, 2] = 1.0, -1.0
    for rule in ("deconvnet", "guided", "gradient"):
        got = project(_conv_relu_pool(), X[None, ..., None], "pool", channel=0, rule=rule)
        np.testing.assert_allclose(got[0, ..., 0], want, err_msg=rule)


def _two_convs() -> keras.Model:
    inp = keras.Input((2, 2, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, activation="relu", name="c1")(inp)
    x = keras.layers.Conv2D(1, 2, use_bias=False, activation="relu", name="c2")(x)
    model = keras.Model(inp, x)
    model.get_layer("c1").set_weights([np.ones((1, 1, 1, 1), "float32")])
    model.get_layer("c2").set_weights([np.array([[1, -1], [1, 1]], "float32").reshape(2, 2, 1, 1)])
    return model


def test_the_three_relu_rules_differ_as_defined():
    # forward: relu(x) = [[1,1],[0,1]]; c2 = 1 - 1 + 0 + 1 = 1. Backward through c2: [[1,-1],[1,1]].
    # deconvnet rectifies it, saliency masks it by the forward ReLU, guided does both.
    x = np.array([[1, 1], [-1, 1]], "float32")[None, ..., None]
    want = {
        "deconvnet": [[1, 0], [1, 1]],
        "guided": [[1, 0], [0, 1]],
        "gradient": [[1, -1], [0, 1]],
    }
    for rule, expected in want.items():
        got = project(_two_convs(), x, "c2", channel=0, rule=rule)[0, ..., 0]
        np.testing.assert_allclose(got, np.array(expected, "float32"), err_msg=rule)


def test_gradient_rule_equals_autodiff_gradient_with_batchnorm():
    keras.utils.set_random_seed(3)
    model = plain_convnet((16, 16, 3), 4, filters=(4, 8), name="bn_net")
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            rng = np.random.default_rng(c)
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, c),
                    rng.normal(0, 0.1, c),
                    rng.normal(0, 0.1, c),
                    rng.uniform(0.5, 2, c),
                ]
            )
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    got = project(model, x, "block2_conv1_relu", channel=5, rule="gradient")
    sub = keras.Model(model.inputs[0], model.get_layer("block2_conv1_relu").output)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        fmap = sub(xt, training=False)[..., 5]
        flat = tf.reshape(fmap, [2, -1])
        peak = tf.reduce_max(flat, axis=1)
        score = tf.reduce_sum(tf.square(peak)) / 2  # the projection starts from the value itself
    want = tape.gradient(score, xt).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    assert np.abs(want).max() > 0


def test_deconvnet_through_pooling_and_strongest_images():
    keras.utils.set_random_seed(0)
    model = plain_convnet((32, 32, 3), 3, filters=(4, 8, 8), name="net")
    x = np.random.default_rng(1).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    proj = project(model, x, "block3_pool", rule="deconvnet")
    assert proj.shape == x.shape and np.isfinite(proj).all()
    order, peaks = strongest(model, x, "block2_conv1_relu", channel=2, k=3)
    assert len(order) == 3 and np.all(np.diff(peaks) <= 0)
    # the three largest peaks, computed independently from the layer's output
    sub = keras.Model(model.inputs[0], model.get_layer("block2_conv1_relu").output)
    every = sub(x, training=False).numpy()[..., 2].max(axis=(1, 2))
    assert len(set(every.round(6))) == 5  # distinct peaks: the ranking is well defined
    assert order.tolist() == np.argsort(-every)[:3].tolist()
    np.testing.assert_allclose(peaks, np.sort(every)[::-1][:3], rtol=1e-5)
    top, left, bottom, right = support_box(project(model, x[:1], "block1_conv1_relu")[0])
    assert bottom - top <= 4 and right - left <= 4  # one 3x3 conv: a tiny receptive field
    img = signed_image(proj[0])
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3)


def test_bad_layer_rule_and_channel_are_reported():
    model = plain_convnet((16, 16, 3), 3, filters=(4,), name="net")
    x = np.zeros((1, 16, 16, 3), "float32")
    with pytest.raises(LayerNotFoundError):
        project(model, x, "block7_conv1_relu")
    with pytest.raises(ValueError, match="rule"):
        project(model, x, "block1_conv1_relu", rule="magic")
    with pytest.raises(ValueError, match="4 channels"):
        project(model, x, "block1_conv1_relu", channel=9)
    with pytest.raises(ValueError, match="keep"):
        project(model, x, "block1_conv1_relu", keep="some")
    with pytest.raises(ValueError, match=r"spatial feature maps.*'predictions'"):
        project(model, x, "predictions")


def _transfer() -> tuple[keras.Model, keras.Model]:
    """A classifier made by transfer_classifier from a toy backbone, and that backbone."""
    inp = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="inner_conv")(inp)
    y = keras.layers.MaxPooling2D(2, name="inner_pool")(y)
    y = keras.layers.Conv2D(6, 3, padding="same", name="inner_last")(y)
    y = keras.layers.ReLU(name="inner_relu")(y)
    spec = BackboneSpec("toy", "toy", "", (), "", "tf", "inner_relu", "inner_conv")
    backbone = LoadedBackbone(spec, keras.Model(inp, y, name="backbone"), "random")
    return transfer_classifier(backbone, (16, 16, 3), 3, dropout=0.2), backbone.model


def test_projection_through_a_transfer_classifier_or_a_nested_model_matches_the_backbone():
    keras.utils.set_random_seed(5)
    model, base = _transfer()
    x = np.random.default_rng(2).uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    for rule in ("deconvnet", "guided", "gradient"):
        whole = project(model, x, "inner_relu", rule=rule)
        plain = project(base, x, "inner_relu", rule=rule)
        assert np.abs(plain).max() > 0
        np.testing.assert_allclose(whole, plain, atol=1e-6 * np.abs(plain).max(), err_msg=rule)
    outer_in = keras.Input((16, 16, 3))
    nested = keras.Model(outer_in, base(outer_in), name="outer")  # reached through a tap
    for rule in ("deconvnet", "guided"):
        np.testing.assert_allclose(project(nested, x, "backbone/inner_relu", rule=rule),
                                   project(base, x, "inner_relu", rule=rule), rtol=1e-5,
                                   atol=1e-6)
    flat = base
    order, peaks = strongest(model, x, "inner_relu", channel=1, k=2)
    order_flat, peaks_flat = strongest(flat, x, "inner_relu", channel=1, k=2)
    assert order.tolist() == order_flat.tolist()
    np.testing.assert_allclose(peaks, peaks_flat, rtol=1e-5)


def test_margin_moves_the_projected_maximum_off_the_border():
    # A 1x1 identity "layer" on a 6x6 image: the maximum sits in a corner, the runner-up
    # inside; with a margin of 1 only the inner one is projected.
    inp = keras.Input((6, 6, 1))
    out = keras.layers.Conv2D(1, 1, use_bias=False, activation="relu", name="c")(inp)
    model = keras.Model(inp, out)
    model.get_layer("c").set_weights([np.ones((1, 1, 1, 1), "float32")])
    x = np.zeros((1, 6, 6, 1), "float32")
    x[0, 0, 0, 0], x[0, 3, 2, 0] = 9.0, 5.0
    plain = project(model, x, "c", channel=0)[0, ..., 0]
    inner = project(model, x, "c", channel=0, margin=1)[0, ..., 0]
    assert plain[0, 0] == 9.0 and np.count_nonzero(plain) == 1
    assert inner[3, 2] == 5.0 and np.count_nonzero(inner) == 1


def test_top_images_skip_the_border_and_do_not_repeat_images():
    maps = np.zeros((4, 8, 8, 2), "float32")
    maps[0, 0, 0, :] = 10.0  # image 0: strongest, but only on the border
    maps[1, 4, 4, 0], maps[2, 3, 3, 0], maps[3, 2, 5, 0] = 3.0, 2.0, 1.0
    maps[1, 4, 4, 1], maps[3, 4, 4, 1] = 5.0, 4.0  # channel 1 would pick image 1 again
    got = top_images(maps, [0, 1], k=2, margin=1)
    assert got[0].tolist() == [1, 2]
    assert got[1].tolist() == [3, 0]  # image 1 is taken; 0 only by its (zero) interior
    assert top_images(maps, [1], k=1, margin=1, distinct=False)[1].tolist() == [1]
    assert border_share(maps, 1) == 1.0 and border_share(maps, 0) == 0.0
    with pytest.raises(ValueError, match="margin"):
        top_images(maps, [0], margin=4)


def test_crop_pair_crops_projection_and_image_to_the_same_stretched_patch():
    proj = np.zeros((16, 16, 3), "float32")
    proj[5:8, 6:9] = 0.01  # a faint 3x3 support, widened to 5x5
    proj[6, 7] = -0.02
    image = np.arange(16 * 16 * 3, dtype="float32").reshape(16, 16, 3) % 255
    p_crop, x_crop, box = crop_pair(proj, image, size=10, min_side=5)
    assert box == (4, 5, 9, 10)
    assert p_crop.shape == x_crop.shape == (10, 10, 3) and p_crop.dtype == np.uint8
    assert p_crop.min() == 1 and p_crop.max() >= 190  # stretched, not faint
    np.testing.assert_array_equal(x_crop[::2, ::2], image[4:9, 5:10].astype("uint8"))
    assert signed_image(np.zeros((2, 2, 3)), percentile=99.0)[0, 0, 0] == 128


def test_crop_pair_makes_a_tall_support_square_so_enlarging_keeps_the_aspect_ratio():
    proj = np.zeros((16, 16, 3), "float32")
    proj[2:12, 7:9] = 1.0  # 10 rows by 2 columns
    image = np.arange(16 * 16 * 3, dtype="float32").reshape(16, 16, 3) % 255
    _, x_crop, (t, lft, b, r) = crop_pair(proj, image, size=20, min_side=5)
    assert (t, b) == (2, 12) and b - t == r - lft == 10 and lft <= 7 and r >= 9
    np.testing.assert_array_equal(x_crop[::2, ::2], image[t:b, lft:r].astype("uint8"))
    edge = np.zeros((16, 16, 3), "float32")
    edge[0:12, 0:2] = 1.0  # against the left border: the square stays inside the image
    assert crop_pair(edge, image, size=12)[2] == (0, 0, 12, 12)


def test_strongest_crops_gives_distinct_images_and_pairs_of_tiles():
    keras.utils.set_random_seed(0)
    model = plain_convnet((16, 16, 3), 3, filters=(4, 8), name="net")
    x = np.random.default_rng(0).uniform(0, 255, (10, 16, 16, 3)).astype("float32")
    shown = strongest_crops(model, x, "block1_conv1_relu", channels=2, k=3)
    assert len(shown.tiles) == 2 * len(shown.picks) == 12
    assert len({i for _, i, _ in shown.picks}) == 6
    assert shown.margin == 2


def test_strongest_crops_with_labels_spreads_the_channels_over_classes():
    maps = np.zeros((4, 8, 8, 3), "float32")
    maps[0, 4, 4, 0], maps[0, 4, 4, 1], maps[3, 4, 4, 2] = 9.0, 8.0, 1.0
    labels = np.array([0, 1, 1, 2])
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 1, name="c")])
    x = np.ones((4, 8, 8, 3), "float32")
    plain = strongest_crops(model, x, "c", maps=maps, channels=2, k=1)
    spread = strongest_crops(model, x, "c", maps=maps, channels=2, k=1, labels=labels)
    assert [ch for ch, _, _ in plain.picks] == [0, 1]  # both peak on image 0 (class 0)
    assert [ch for ch, _, _ in spread.picks] == [0, 2]  # channel 2 peaks on class 2
    filled = strongest_crops(model, x, "c", maps=maps, channels=3, k=1, labels=labels)
    assert [ch for ch, _, _ in filled.picks] == [0, 2, 1]
