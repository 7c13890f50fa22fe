"""The activation-maximisation engine: one protocol for filter and class objectives.

Filter patterns (:func:`helpers.visualize.filter_patterns`) and class images
(:func:`helpers.class_images.class_images`) are both calls of
:class:`helpers.maximize.ActivationMaximization` with a score object; the parametrisations,
transformations and penalties are small objects tested here one by one.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import class_images as ci
from helpers import maximize as mx
from helpers import visualize
from helpers.backbones import BackboneSpec, LoadedBackbone, transfer_classifier
from helpers.maximize import ActivationMaximization, FourierImage, Jitter, PixelImage, Rotate, Scale
from helpers.objectives import BinaryScore, CategoricalScore, FilterScore

MIX = np.array([[0.6, 0.3, 0.1], [0.1, 0.5, 0.2], [0.3, 0.0, 0.7]])  # not identity, not symmetric


def _transfer_classifier(n_classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((16, 16, 3))  # images in 0..255, preprocessed inside, as load_backbone
    y = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(inp)
    y = keras.layers.Conv2D(4, 3, padding="same", name="inner_conv")(y)
    y = keras.layers.ReLU(name="inner_relu")(y)
    spec = BackboneSpec("toy", "toy", "", (), "", "tf", "inner_relu", "inner_conv")
    backbone = LoadedBackbone(spec, keras.Model(inp, y, name="backbone"), "random")
    model = transfer_classifier(backbone, (16, 16, 3), n_classes, dropout=0.0)
    conv = backbone.model.get_layer("inner_conv")
    # biases keep the ReLUs away from their kink at the mid-grey start (as in trained nets)
    conv.set_weights([conv.get_weights()[0], np.array([0.5, 0.3, 0.4, 0.6], "float32")])
    head = model.get_layer("predictions")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 3, bias])  # a decisive head: class scores respond to the image
    return model


def test_a_filter_and_a_class_objective_through_the_same_engine():
    model = _transfer_classifier()
    engine = ActivationMaximization(model)
    shared = dict(transforms=[Jitter(1), Scale(0.05), Rotate(0.02)],
                  penalties=[mx.TotalVariation(1e-3), mx.L2(1e-3)], steps=15, learning_rate=0.1)
    filters = engine(FilterScore("inner_conv", [2, 0]), **shared)
    classes = engine(CategoricalScore([1, 2], log=True), param=FourierImage(), **shared)
    for result, n in ((filters, 2), (classes, 2)):
        assert result.images.shape == (n, 16, 16, 3) and result.images.dtype == np.uint8
        assert result.curve.shape == (2, n) and np.all(result.end > result.start)
    # the scores were measured independently of the engine
    inner = keras.Model(model.inputs[0], model.get_layer("inner_conv").output)
    fmaps = inner(filters.images.astype("float32"), training=False).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose([fmaps[0, 2], fmaps[1, 0]], filters.end, rtol=0.05, atol=0.05)
    probs = model(classes.images.astype("float32"), training=False).numpy()
    np.testing.assert_allclose(np.log(probs[[0, 1], [1, 2]]), classes.end, atol=0.05)


def test_a_binary_objective_pushes_a_sigmoid_output_both_ways():
    model = _transfer_classifier(n_classes=2)  # one sigmoid unit
    result = ActivationMaximization(model)(BinaryScore([1, 0]), steps=20, learning_rate=0.1)
    p = model(result.images.astype("float32"), training=False).numpy()[:, 0]
    assert p[0] > p[1]
    assert np.all(result.end > result.start)  # class 1: p up; class 0: -p up


def test_both_public_wrappers_run_the_engine(monkeypatch):
    scores = []
    original = ActivationMaximization.__call__

    def spy(self, score, **kwargs):
        scores.append(type(score).__name__)
        return original(self, score, **kwargs)

    monkeypatch.setattr(ActivationMaximization, "__call__", spy)
    model = _transfer_classifier()
    visualize.filter_patterns(model, "inner_conv", [0], steps=1)
    ci.class_images(model, [0], config=ci.ClassImageConfig(steps=1))
    assert scores == ["FilterScore", "CategoricalScore"]


def test_engine_rejects_a_score_without_targets():
    with pytest.raises(ValueError, match="name its targets"):
        ActivationMaximization(_transfer_classifier())(CategoricalScore(None), steps=1)


# ---------------------------------------------------------------------- parametrisations


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_pixel_parametrisation_mixes_colours_with_the_given_matrix():
    param = PixelImage(colour=MIX)
    var = param.build(2, 5, 4, 3, seed=0)
    v = np.random.default_rng(1).normal(size=(2, 5, 4, 3)).astype("float32")
    var.assign(v)
    mix = MIX / np.abs(MIX).sum(axis=0).max()
    want = 255 * _sigmoid(v @ mix.T)  # each RGB value mixes all three decorrelated channels
    np.testing.assert_allclose(param(var).numpy(), want, rtol=1e-4, atol=1e-3)


def test_fourier_parametrisation_scales_the_spectrum_by_one_over_frequency():
    h, w = 6, 8
    param = FourierImage(colour=MIX)
    var = param.build(1, h, w, 3, seed=0)
    v = np.random.default_rng(2).normal(size=(1, 3, h, w // 2 + 1, 2)).astype("float32")
    var.assign(v)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    scale = np.sqrt(h * w) / np.maximum(np.sqrt(fx**2 + fy**2), 1 / max(h, w))
    spatial = np.fft.irfft2((v[..., 0] + 1j * v[..., 1]) * scale, s=(h, w))  # (1, 3, h, w)
    x = spatial.transpose(0, 2, 3, 1) / 4.0
    want = 255 * _sigmoid(x @ (MIX / np.abs(MIX).sum(axis=0).max()).T)
    np.testing.assert_allclose(param(var).numpy(), want, rtol=1e-3, atol=1e-2)


def test_colour_matrix_must_fit_the_channels():
    with pytest.raises(ValueError, match="1×1 for 1 channels"):
        PixelImage(colour=MIX).build(1, 4, 4, 1, seed=0)


# ----------------------------------------------------------------------- transformations


def test_random_transformations_move_and_warp_the_image():
    img = np.zeros((1, 16, 16, 3), "float32")
    img[0, 8, 8] = 1.0  # a marker pixel
    rng = tf.random.Generator.from_seed(0)
    places = set()
    for _ in range(20):
        out = Jitter(3)(tf.constant(img), rng).numpy()
        assert out.shape == img.shape and out.max() == 1.0  # a pure shift keeps the pixel
        r, c = np.unravel_index(out[0, ..., 0].argmax(), (16, 16))
        assert abs(r - 8) <= 3 and abs(c - 8) <= 3
        places.add((int(r), int(c)))
    assert len(places) >= 5  # random offsets, not one fixed shift
    for warp in (Scale(0.3), Rotate(0.1)):
        warped = warp(tf.constant(img), rng).numpy()
        assert warped.shape == img.shape
        assert warped.max() < 1.0 and warped.sum() > 0, type(warp).__name__  # resampled


def test_images_optimised_together_each_get_their_own_moves():
    """Several images of one class are made in one batch: if they shared one shift, zoom and
    rotation per step, they would differ only by their tiny random starts."""
    img = np.zeros((8, 16, 16, 3), "float32")
    img[:, 8, 8] = 1.0  # the same marker in every image
    rng = tf.random.Generator.from_seed(1)
    out = Jitter(3)(tf.constant(img), rng).numpy()[..., 0].reshape(8, -1).argmax(axis=1)
    assert len(set(out.tolist())) >= 4  # the marker lands in different places
    for warp in (Scale(0.3), Rotate(0.1)):
        warped = warp(tf.constant(img), rng).numpy()
        assert not np.allclose(warped[0], warped[1:]), type(warp).__name__


def test_every_step_scores_a_transformed_copy():
    calls = tf.Variable(0)
    moved = tf.Variable(0.0)

    def recording(x, rng):
        out = Jitter(2)(x, rng)
        calls.assign_add(1)
        moved.assign(tf.maximum(moved, tf.reduce_max(tf.abs(out - x))))
        return out

    ActivationMaximization(_transfer_classifier())(CategoricalScore([0]), transforms=[recording],
                                                 steps=5)
    assert int(calls.numpy()) == 5 and float(moved.numpy()) > 0


# ------------------------------------------------------------------------------ penalties


def test_penalties_measure_roughness_and_distance_from_grey():
    flat = tf.fill([1, 4, 4, 3], 0.5)
    stripes = np.zeros((1, 4, 4, 3), "float32")
    stripes[:, :, 1::2] = 1.0
    stripes = tf.constant(stripes)
    assert float(mx.TotalVariation(1.0)(flat)[0]) == 0.0 and float(mx.L2(1.0)(flat)[0]) == 0.0
    # columns alternate 0/1: every horizontal neighbour differs by 1, vertical ones not at all
    assert float(mx.TotalVariation(2.0)(stripes)[0]) == pytest.approx(2.0 * 1.0 * 4)
    assert float(mx.L2(3.0)(stripes)[0]) == pytest.approx(3.0 * 0.25)


def test_penalties_pull_the_image_towards_smooth_grey():
    model = _transfer_classifier()
    common = dict(param=PixelImage(), steps=20, learning_rate=0.1, seed=4)
    free = ActivationMaximization(model)(CategoricalScore([0, 1], log=True), **common)
    held = ActivationMaximization(model)(CategoricalScore([0, 1], log=True),
                                         penalties=[mx.TotalVariation(50.0), mx.L2(50.0)], **common)

    def rough(images):
        x = images.astype("float32") / 255
        return np.abs(np.diff(x, axis=2)).mean() + np.abs(x - 0.5).mean()

    assert rough(held.images) < 0.5 * rough(free.images)


def test_engine_module_has_no_second_optimiser():
    """One engine: the wrappers hold no gradient loop of their own."""
    import inspect

    for module in (ci, visualize):
        assert "GradientTape" not in inspect.getsource(module), module.__name__
    assert "GradientTape" in inspect.getsource(mx)
