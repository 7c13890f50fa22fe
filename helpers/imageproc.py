"""Image preprocessing for the traffic-sign study: grayscale, histogram equalisation, balance.

The per-image functions take and return float32 tensors in 0..255 of shape ``(H, W, C)``,
so they plug into :func:`helpers.pipeline.to_tf_dataset` as ``map_fn`` (they run once,
before the cache). Global equalisation is written in TensorFlow; CLAHE uses OpenCV's
implementation through ``tf.numpy_function``. Both equalise the luma (Y of YCrCb) and
leave the colour alone, so a red sign stays red.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf


def to_grayscale(image: tf.Tensor) -> tf.Tensor:
    """RGB → one-channel luma (ITU-R BT.601 weights), float32 0..255, shape ``(H, W, 1)``."""
    return tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))


def _equalize_channel(channel: tf.Tensor) -> tf.Tensor:
    """Global histogram equalisation of one uint8-valued channel (float32 in/out)."""
    values = tf.cast(tf.clip_by_value(tf.round(channel), 0, 255), tf.int32)
    hist = tf.math.bincount(tf.reshape(values, [-1]), minlength=256, maxlength=256)
    cdf = tf.cast(tf.cumsum(hist), tf.float32)
    cdf_min = tf.reduce_min(tf.boolean_mask(cdf, cdf > 0))
    total = tf.cast(tf.size(values), tf.float32)
    denom = tf.maximum(total - cdf_min, 1.0)
    lut = tf.clip_by_value(tf.round((cdf - cdf_min) / denom * 255.0), 0, 255)
    flat = tf.cast(total - cdf_min, tf.float32) > 0
    out = tf.gather(lut, values)
    return tf.where(flat, out, tf.cast(values, tf.float32))  # a constant image is left as is


def _rgb_to_ycrcb(rgb: tf.Tensor) -> tf.Tensor:
    r, g, b = tf.unstack(rgb, axis=-1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return tf.stack([y, (r - y) * 0.713 + 128.0, (b - y) * 0.564 + 128.0], axis=-1)


def _ycrcb_to_rgb(ycrcb: tf.Tensor) -> tf.Tensor:
    y, cr, cb = tf.unstack(ycrcb, axis=-1)
    r = y + 1.403 * (cr - 128.0)
    b = y + 1.773 * (cb - 128.0)
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return tf.clip_by_value(tf.stack([r, g, b], axis=-1), 0.0, 255.0)


def equalize(image: tf.Tensor) -> tf.Tensor:
    """Global histogram equalisation of the luma; colour images keep their chroma."""
    image = tf.cast(image, tf.float32)
    if image.shape[-1] == 1:
        return _equalize_channel(image[..., 0])[..., None]
    ycc = _rgb_to_ycrcb(image)
    y = _equalize_channel(ycc[..., 0])
    return _ycrcb_to_rgb(tf.concat([y[..., None], ycc[..., 1:]], axis=-1))


def clahe_numpy(image: np.ndarray, clip_limit: float = 2.0, tiles: int = 4) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (OpenCV) of the luma of one image."""
    img = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    op = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    if img.ndim == 3 and img.shape[-1] == 3:
        ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
        ycc[..., 0] = op.apply(np.ascontiguousarray(ycc[..., 0]))
        out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    else:
        out = op.apply(np.ascontiguousarray(img.reshape(img.shape[:2])))
        out = out.reshape(image.shape)
    return out.astype(np.float32)


def clahe(image: tf.Tensor, clip_limit: float = 2.0, tiles: int = 4) -> tf.Tensor:
    """CLAHE as a TensorFlow op (for ``tf.data`` maps); shape and dtype float32 are kept."""
    out = tf.numpy_function(
        lambda im: clahe_numpy(im, clip_limit, tiles), [tf.cast(image, tf.float32)], tf.float32
    )
    out.set_shape(image.shape)
    return out


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
