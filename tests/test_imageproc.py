"""Grayscale, global and adaptive histogram equalisation, and class-balance resampling."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from helpers.imageproc import clahe, clahe_numpy, equalize, to_grayscale


def _dark_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(10, 60, (32, 32, 3)).astype("float32")  # a dim, low-contrast image


def test_grayscale_uses_luma_weights():
    img = np.zeros((2, 2, 3), "float32")
    img[..., 0] = 100.0
    out = to_grayscale(img).numpy()
    assert out.shape == (2, 2, 1)
    np.testing.assert_allclose(out, 29.9, atol=0.1)
    # one weight per channel: pure red, green and blue pixels, then a mixed one
    pixels = np.array([[[100.0, 0, 0], [0, 100.0, 0], [0, 0, 100.0], [100.0, 50.0, 200.0]]])
    got = to_grayscale(pixels.astype("float32")).numpy()[0, :, 0]
    np.testing.assert_allclose(got, [29.9, 58.7, 11.4, 29.9 + 29.35 + 22.8], atol=0.1)


def test_global_equalisation_stretches_a_dark_image():
    gray = to_grayscale(_dark_image())
    out = equalize(gray).numpy()
    assert out.shape == (32, 32, 1)
    assert out.min() == 0.0 and out.max() == 255.0
    # equalised values are roughly uniform: the median lands near the middle of the range
    assert 90 < np.median(out) < 165
    # monotone: the ordering of pixel values is kept
    g = gray.numpy().ravel()
    o = out.ravel()
    order = np.argsort(g, kind="stable")
    assert np.all(np.diff(o[order]) >= 0)


def test_global_equalisation_keeps_colour_and_constant_images():
    img = _dark_image()
    img[..., 0] += 40  # reddish
    out = equalize(img).numpy()
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 255
    assert out[..., 0].mean() > out[..., 2].mean()  # still red
    assert out.mean() > img.mean() + 30  # brighter
    flat = np.full((8, 8, 1), 77.0, "float32")
    np.testing.assert_allclose(equalize(flat).numpy(), flat)


def test_equalise_works_on_the_luma_and_keeps_the_chroma():
    import cv2

    img = np.clip(_dark_image(3) + np.array([40.0, 0.0, 10.0]), 0, 255).astype("float32")
    out = np.clip(np.rint(equalize(img).numpy()), 0, 255).astype(np.uint8)
    ycc_in = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2YCrCb).astype(int)
    ycc_out = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(int)
    # the luma is the equalised luma, the chroma moves only by the conversions' rounding and by
    # clipping to the RGB cube where an equalised bright pixel leaves it
    luma_error = np.abs(ycc_out[..., 0] - cv2.equalizeHist(ycc_in[..., 0].astype(np.uint8)))
    assert np.median(luma_error) <= 1 and luma_error.mean() < 2
    assert np.abs(ycc_out[..., 1:] - ycc_in[..., 1:]).mean() < 3


def test_clahe_raises_local_contrast_and_works_in_tf_data():
    img = _dark_image(1)
    out = clahe_numpy(img, clip_limit=3.0)
    assert out.shape == img.shape and out.dtype == np.float32
    assert out[..., 0].std() > img[..., 0].std() * 1.5
    ds = tf.data.Dataset.from_tensor_slices(np.stack([img, img])).map(clahe)
    first = next(iter(ds)).numpy()
    np.testing.assert_allclose(first, out)
    gray = clahe(to_grayscale(img)).numpy()
    assert gray.shape == (32, 32, 1)
