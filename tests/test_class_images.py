"""Class image generation: raises the target probability, handles bad input, measures agreement.

The engine's parts (parametrisations, transformations, penalties) are tested in
tests/test_maximize.py; here, that the configuration turns on the intended ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.class_images import (
    ClassImageConfig,
    agreement,
    agreement_table,
    class_images,
    colour_sqrt_covariance,
)
from helpers.maximize import L2, FourierImage, Jitter, PixelImage, Rotate, Scale, TotalVariation


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
    with pytest.raises(ValueError, match=r"\[5\] out of range.*0\.\.2"):
        class_images(_colour_classifier(), [5], config=ClassImageConfig(steps=1))


def test_the_configuration_chooses_the_engine_parts(monkeypatch):
    from helpers import class_images as ci

    seen = {}

    def fake_engine(self, score, **kwargs):
        seen.update(kwargs, score=score)
        raise StopIteration

    monkeypatch.setattr(ci.ActivationMaximization, "__call__", fake_engine)
    model = _colour_classifier()
    with pytest.raises(StopIteration):
        class_images(model, [2, 0], config=ClassImageConfig(steps=3, learning_rate=0.2))
    assert [type(t) for t in seen["transforms"]] == [Jitter, Scale, Rotate]
    assert [type(p) for p in seen["penalties"]] == [TotalVariation, L2]
    assert isinstance(seen["param"], FourierImage) and seen["steps"] == 3
    assert seen["learning_rate"] == 0.2
    assert seen["score"].classes == [2, 0] and seen["score"].log
    naive = ClassImageConfig(fourier=False, jitter=0, scale=0, rotate=0, tv_weight=0,
                             l2_weight=0)
    with pytest.raises(StopIteration):
        class_images(model, [1], config=naive)
    assert seen["transforms"] == [] and seen["penalties"] == []
    assert isinstance(seen["param"], PixelImage)


def test_agreement_table_gives_rates_with_wilson_intervals():
    agree = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], float)
    table = agreement_table(agree, [0] * 4 + [1] * 6, ["a", "b", "c"])
    assert table.index.tolist() == ["a", "b", "all classes"]  # "c" has no images
    assert table.loc["a", "rate"] == 1.0 and table.loc["b", "agreed"] == 0
    # Wilson 95 % for 4/4: lower bound n / (n + z^2) = 4 / (4 + 1.96^2)
    np.testing.assert_allclose(table.loc["a", "Wilson low"], 4 / (4 + 1.959964**2), rtol=1e-5)
    assert table.loc["a", "Wilson high"] == pytest.approx(1.0)
    assert table.loc["b", "Wilson low"] == pytest.approx(0.0)
    assert table.loc["all classes", "images"] == 10
    everyone = table.loc["all classes"]
    assert 0.1 < everyone["Wilson low"] < 0.4 < everyone["Wilson high"]
