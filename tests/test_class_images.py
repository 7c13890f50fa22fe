"""Class image generation: raises the target probability, handles bad input, measures agreement."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import class_images as ci
from helpers.class_images import (
    ClassImageConfig,
    agreement,
    class_images,
    colour_sqrt_covariance,
)

MIX = np.array([[0.6, 0.3, 0.1], [0.1, 0.5, 0.2], [0.3, 0.0, 0.7]])  # not identity, not symmetric


def _colour_classifier() -> keras.Model:
    """Hand-set 3-class model: mean red, green or blue decides (softmax over channel means)."""
    inp = keras.Input((24, 24, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out)
    model.get_layer("predictions").set_weights(
        [np.eye(3, dtype="float32") * 8, np.zeros(3, "float32")]
    )
    return model


@pytest.mark.parametrize("fourier", [True, False])
def test_generated_images_reach_their_class(fourier):
    model = _colour_classifier()
    cfg = ClassImageConfig(steps=40, learning_rate=0.1, fourier=fourier)
    images, curve = class_images(model, [0, 1, 2], config=cfg, seed=1)
    assert images.shape == (3, 24, 24, 3) and images.dtype == np.uint8
    assert np.all(curve[1] > curve[0]) and np.all(curve[1] > 0.5)
    assert agreement(model, images, [0, 1, 2]).tolist() == [1.0, 1.0, 1.0]
    # the red image is red, the green one green, the blue one blue
    assert [int(im.reshape(-1, 3).mean(0).argmax()) for im in images] == [0, 1, 2]


def test_colour_matrix_is_square_root_of_covariance():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 255, (500, 1))
    pixels = np.concatenate(
        [base, base * 0.5 + rng.uniform(0, 50, (500, 1)), rng.uniform(0, 255, (500, 1))], 1
    )
    m = colour_sqrt_covariance(pixels.reshape(500, 1, 1, 3))
    np.testing.assert_allclose(m @ m, np.cov(pixels / 255.0, rowvar=False), atol=1e-10)


def test_bad_class_index_is_reported():
    with pytest.raises(ValueError, match="3 classes"):
        class_images(_colour_classifier(), [5], config=ClassImageConfig(steps=1))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_pixel_parametrisation_mixes_colours_with_the_given_matrix():
    cfg = ClassImageConfig(fourier=False)
    param = ci._Param(2, 5, 4, MIX, cfg, seed=0)
    v = np.random.default_rng(1).normal(size=(2, 5, 4, 3)).astype("float32")
    param.var.assign(v)
    mix = MIX / np.abs(MIX).sum(axis=0).max()
    want = 255 * _sigmoid(v @ mix.T)  # each RGB value mixes all three decorrelated channels
    np.testing.assert_allclose(param.images().numpy(), want, rtol=1e-4, atol=1e-3)


def test_fourier_parametrisation_scales_the_spectrum_by_one_over_frequency():
    h, w = 6, 8
    cfg = ClassImageConfig(fourier=True)
    param = ci._Param(1, h, w, MIX, cfg, seed=0)
    v = np.random.default_rng(2).normal(size=(1, 3, h, w // 2 + 1, 2)).astype("float32")
    param.var.assign(v)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    scale = np.sqrt(h * w) / np.maximum(np.sqrt(fx**2 + fy**2), 1 / max(h, w))
    spatial = np.fft.irfft2((v[..., 0] + 1j * v[..., 1]) * scale, s=(h, w))  # (1, 3, h, w)
    x = spatial.transpose(0, 2, 3, 1) / 4.0
    want = 255 * _sigmoid(x @ (MIX / np.abs(MIX).sum(axis=0).max()).T)
    np.testing.assert_allclose(param.images().numpy(), want, rtol=1e-3, atol=1e-2)


def test_random_transformations_move_and_warp_the_image():
    img = np.zeros((1, 16, 16, 3), "float32")
    img[0, 8, 8] = 1.0  # a marker pixel
    rng = tf.random.Generator.from_seed(0)
    shifted = ClassImageConfig(jitter=3, scale=0.0, rotate=0.0)
    places = set()
    for _ in range(20):
        out = ci._transform(tf.constant(img), shifted, rng).numpy()
        assert out.shape == img.shape and out.max() == 1.0  # a pure shift keeps the pixel
        r, c = np.unravel_index(out[0, ..., 0].argmax(), (16, 16))
        assert abs(r - 8) <= 3 and abs(c - 8) <= 3
        places.add((int(r), int(c)))
    assert len(places) >= 5  # random offsets, not one fixed shift
    warped = ci._transform(tf.constant(img), ClassImageConfig(jitter=0, scale=0.3, rotate=0.1),
                           rng).numpy()
    assert warped.max() < 1.0 and warped.sum() > 0  # resampled between pixels


def test_every_step_scores_a_transformed_copy(monkeypatch):
    calls = []
    original = ci._transform

    def spy(x, cfg, rng):
        out = original(x, cfg, rng)
        calls.append(float(tf.reduce_max(tf.abs(out - x))))
        return out

    monkeypatch.setattr(ci, "_transform", spy)
    class_images(_colour_classifier(), [0], config=ClassImageConfig(steps=5, fourier=False))
    assert len(calls) == 5 and max(calls) > 0
