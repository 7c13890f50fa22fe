"""Template matching as convolution, and a Gaussian pyramid for multi-scale search.

Both are written with TensorFlow's convolution ops to make the theory point: a
convolution layer's response at a position is the dot product of its filter with the
image patch there, i.e. a (unnormalised) template match.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _conv(image: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Valid cross-correlation of one H x W image with one kh x kw kernel."""
    return tf.nn.conv2d(image[None, :, :, None], kernel[:, :, None, None], 1, "VALID")[0, :, :, 0]


def correlation_map(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Plain correlation (what a conv layer computes) of a grayscale image with a template."""
    img = tf.constant(image, tf.float32)
    return _conv(img, tf.constant(template, tf.float32)).numpy()


def ncc_map(image: np.ndarray, template: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Normalised cross-correlation in -1..1 at every valid template position.

    ``ncc(p) = sum((I_p - mean I_p) * (T - mean T)) / (||I_p - mean I_p|| * ||T - mean T||)``.
    The numerator is one convolution with the zero-mean template (the patch mean then
    cancels); the patch norms come from two box-filter convolutions of ``I`` and ``I**2``.
    """
    # float64: the patch variance s2 - s1²/n cancels badly in float32 (255² · 1 600 pixels
    # leaves about 3 significant digits), which pushed perfect matches to 1.0001
    img = tf.constant(image, tf.float64)
    t = np.asarray(template, np.float64)
    t0 = t - t.mean()
    n = t.size
    ones = tf.ones(t.shape, tf.float64)
    num = _conv(img, tf.constant(t0))
    s1, s2 = _conv(img, ones), _conv(img * img, ones)
    patch_var = tf.maximum(s2 - s1 * s1 / n, 0.0)
    ncc = (num / (tf.sqrt(patch_var) * float(np.linalg.norm(t0)) + eps)).numpy()
    return np.clip(ncc, -1.0, 1.0)  # Cauchy-Schwarz bound; clips only rounding residue


def best_match(score: np.ndarray) -> tuple[tuple[int, int], float]:
    """``((row, col), score)`` of the highest score: the template's top-left corner."""
    r, c = np.unravel_index(int(np.argmax(score)), score.shape)
    return (int(r), int(c)), float(score[r, c])


def gaussian_kernel(sigma: float = 1.0, radius: int = 2) -> np.ndarray:
    """Normalised 2-D Gaussian kernel of size ``2 * radius + 1``."""
    ax = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-(ax**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def gaussian_pyramid(image: np.ndarray, levels: int, sigma: float = 1.0) -> list[np.ndarray]:
    """``levels`` images, each blurred (to avoid aliasing) and halved from the one before."""
    kernel = tf.constant(gaussian_kernel(sigma), tf.float32)[:, :, None, None]
    out = [np.asarray(image, np.float32)]
    for _ in range(levels - 1):
        x = tf.constant(out[-1])[None, :, :, None]
        x = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="SYMMETRIC")
        x = tf.nn.conv2d(x, kernel, strides=2, padding="VALID")
        out.append(x[0, :, :, 0].numpy())
    return out
