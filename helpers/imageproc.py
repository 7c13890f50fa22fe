"""Image preprocessing for the traffic-sign study: grayscale and histogram equalisation.

The per-image functions take and return float32 tensors in 0..255 of shape ``(H, W, C)``,
so they plug into :func:`helpers.pipeline.to_tf_dataset` as ``map_fn`` (they run once,
before the cache). Global equalisation and CLAHE are OpenCV's (``equalizeHist``,
``createCLAHE``), run through ``tf.numpy_function`` by one path; both equalise the luma (Y of
YCrCb) and leave the colour alone, so a red sign stays red.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import tensorflow as tf


def to_grayscale(image: tf.Tensor) -> tf.Tensor:
    """RGB → one-channel luma (ITU-R BT.601 weights), float32 0..255, shape ``(H, W, 1)``."""
    return tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))


def _on_luma(image: np.ndarray, op: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply an OpenCV operation on one uint8 channel to the luma (Y of YCrCb) of an image."""
    img = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[-1] == 3:
        ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
        ycc[..., 0] = op(np.ascontiguousarray(ycc[..., 0]))
        out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    else:
        out = op(np.ascontiguousarray(img.reshape(img.shape[:2]))).reshape(img.shape)
    return out.astype(np.float32)


def _as_tf_op(fn: Callable[[np.ndarray], np.ndarray], image: tf.Tensor) -> tf.Tensor:
    """Run a per-image NumPy function as a TensorFlow op (``tf.data`` maps); keeps the shape."""
    image = tf.convert_to_tensor(image, tf.float32)
    out = tf.numpy_function(fn, [image], tf.float32)
    out.set_shape(image.shape)
    return out


def equalize_numpy(image: np.ndarray) -> np.ndarray:
    """Global histogram equalisation (OpenCV's ``equalizeHist``) of the luma of one image."""
    return _on_luma(image, cv2.equalizeHist)


def equalize(image: tf.Tensor) -> tf.Tensor:
    """Global histogram equalisation of the luma as a TensorFlow op; colour keeps its chroma."""
    return _as_tf_op(equalize_numpy, image)


def clahe_numpy(image: np.ndarray, clip_limit: float = 2.0, tiles: int = 4) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (OpenCV) of the luma of one image."""
    op = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    return _on_luma(image, op.apply)


def clahe(image: tf.Tensor, clip_limit: float = 2.0, tiles: int = 4) -> tf.Tensor:
    """CLAHE as a TensorFlow op (for ``tf.data`` maps); shape and dtype float32 are kept."""
    return _as_tf_op(lambda im: clahe_numpy(im, clip_limit, tiles), image)
