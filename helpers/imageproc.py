"""Image preprocessing for the traffic-sign study: grayscale, histogram equalisation, balance.

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


# ------------------------------------------------------------------------------- balance


def oversample_indices(y: np.ndarray, seed: int = 0, target: int | None = None) -> np.ndarray:
    """Indices that repeat minority-class examples until every class has ``target`` (default:
    the largest class's count). Each class's own examples are all kept; extras are drawn at
    random with replacement. Pair with augmentation so repeated copies look different."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = int(counts.max()) if target is None else target
    out = []
    for c in np.flatnonzero(counts):
        idx = np.flatnonzero(y == c)
        extra = rng.choice(idx, size=max(0, target - len(idx)), replace=True)
        out.append(np.concatenate([idx, extra]))
    return rng.permutation(np.concatenate(out))


def undersample_indices(y: np.ndarray, seed: int = 0, target: int | None = None) -> np.ndarray:
    """Indices keeping at most ``target`` random examples per class (default: smallest class)."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = int(counts[counts > 0].min()) if target is None else target
    out = [rng.permutation(np.flatnonzero(y == c))[:target] for c in np.flatnonzero(counts)]
    return rng.permutation(np.concatenate(out))


def class_weights(y: np.ndarray) -> dict[int, float]:
    """``n_samples / (n_classes * count)`` per class, as scikit-learn's 'balanced' mode."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}
