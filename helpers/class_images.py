"""Images a classifier assigns to a chosen class: regularised activation maximisation.

Naive gradient ascent on the pixels of an input produces high-frequency noise that the model
scores highly but no person recognises. Following the feature-visualisation literature
(Mordvintsev, Olah et al. 2015-2017), three measures make the images readable:

* **a decorrelated parametrisation**: the image is the inverse FFT of a spectrum whose
  coefficients are scaled by ``1/frequency`` (natural images have that spectrum), and its
  three colour channels are mixed with the square root of the training pixels' colour
  covariance, so the optimiser works on whitened, decorrelated variables;
* **transformation robustness**: every step scores a randomly jittered, scaled and slightly
  rotated copy, so the pattern must survive small shifts instead of exploiting single pixels;
* **penalties**: total variation (smoothness) and an L2 pull of the image towards grey.

The objective is the model's log-probability of the class (raising it also lowers the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


def colour_sqrt_covariance(images: np.ndarray) -> np.ndarray:
    """Symmetric square root of the 3×3 covariance of pixel colours (0..1 scale)."""
    px = np.asarray(images, dtype="float64").reshape(-1, 3) / 255.0
    cov = np.cov(px, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.sqrt(np.maximum(vals, 1e-8))) @ vecs.T


@dataclass
class ClassImageConfig:
    """Settings of :func:`class_images` (the defaults suit 32-128 px classifiers)."""

    steps: int = 256
    learning_rate: float = 0.05
    jitter: int = 4  # pixels of random shift per step
    scale: float = 0.08  # random zoom of up to this fraction
    rotate: float = 0.04  # random rotation, fraction of a full turn
    tv_weight: float = 2e-3
    l2_weight: float = 1e-3
    decay_power: float = 1.0  # spectrum scale 1/f^decay_power
    fourier: bool = True  # False: optimise pixels directly (for comparison)


def _freqs(h: int, w: int) -> np.ndarray:
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx**2 + fy**2)


class _Param:
    """Maps unconstrained variables to images in 0..255."""

    def __init__(
        self, n: int, h: int, w: int, colour: np.ndarray, cfg: ClassImageConfig, seed: int
    ):
        rng = np.random.default_rng(seed)
        self.h, self.w, self.cfg = h, w, cfg
        self.colour = tf.constant(colour / np.abs(colour).sum(axis=0).max(), tf.float32)
        if cfg.fourier:
            shape = (n, 3, h, w // 2 + 1, 2)
            scale = 1.0 / np.maximum(_freqs(h, w), 1.0 / max(h, w)) ** cfg.decay_power
            self.spectrum_scale = tf.constant(scale * np.sqrt(h * w), tf.float32)
        else:
            shape = (n, h, w, 3)
        self.var = tf.Variable(rng.normal(0, 0.01, shape).astype("float32"))

    def images(self) -> tf.Tensor:
        if self.cfg.fourier:
            spec = tf.complex(self.var[..., 0], self.var[..., 1]) * tf.cast(
                self.spectrum_scale, tf.complex64
            )
            x = tf.signal.irfft2d(spec, fft_length=[self.h, self.w])  # (n, 3, h, w)
            x = tf.transpose(x, (0, 2, 3, 1)) / 4.0
        else:
            x = self.var
        x = tf.einsum("nhwc,dc->nhwd", x, self.colour)  # decorrelated → RGB
        return 255.0 * tf.sigmoid(x)


def _transform(x: tf.Tensor, cfg: ClassImageConfig, rng: tf.random.Generator) -> tf.Tensor:
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    if cfg.jitter:
        pad = cfg.jitter
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        dy, dx = (int(v) for v in rng.uniform([2], 0, 2 * pad + 1, dtype=tf.int32).numpy())
        x = x[:, dy : dy + h, dx : dx + w, :]
    if cfg.scale or cfg.rotate:
        s = 1.0 + float(rng.uniform([], -cfg.scale, cfg.scale))
        a = float(rng.uniform([], -cfg.rotate, cfg.rotate)) * 2 * np.pi
        cos, sin = np.cos(a) / s, np.sin(a) / s
        cy, cx = (h - 1) / 2, (w - 1) / 2
        # projective transform mapping output to input coordinates (rotation + zoom about centre)
        t = [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0]
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=tf.constant([t] * n, tf.float32),
            output_shape=tf.constant([h, w]),
            interpolation="BILINEAR",
            fill_mode="REFLECT",
            fill_value=0.0,
        )
    return x


def class_images(
    model: keras.Model,
    classes: list[int],
    colour: np.ndarray | None = None,
    config: ClassImageConfig | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one image per entry of ``classes`` that ``model`` assigns to that class.

    Args:
        model: a softmax classifier taking float images in 0..255.
        classes: class indices (repeat an index for several images of one class).
        colour: 3×3 colour mixing matrix (e.g. :func:`colour_sqrt_covariance` of the training
            images); identity when None.
        config: optimisation settings.

    Returns:
        ``(images, curve)``: uint8 images ``(N, H, W, 3)`` and the target class probability of
        each image (untransformed) at the start and end, shape ``(2, N)``.
    """
    cfg = config or ClassImageConfig()
    h, w = (int(d) for d in model.inputs[0].shape[1:3])
    n_classes = int(model.outputs[0].shape[-1])
    bad = [c for c in classes if not 0 <= c < n_classes]
    if bad:
        raise ValueError(f"model has {n_classes} classes; invalid class indices {bad}")
    param = _Param(len(classes), h, w, np.eye(3) if colour is None else colour, cfg, seed)
    target = tf.constant(classes)
    opt = keras.optimizers.Adam(cfg.learning_rate)
    rng = tf.random.Generator.from_seed(seed)

    def prob() -> np.ndarray:
        p = model(param.images(), training=False)
        return tf.gather(p, target, axis=1, batch_dims=1).numpy()

    start = prob()
    for _ in range(cfg.steps):
        with tf.GradientTape() as tape:
            x = param.images()
            p = model(_transform(x, cfg, rng), training=False)
            logp = tf.math.log(tf.gather(p, target, axis=1, batch_dims=1) + 1e-9)
            xs = x / 255.0
            tv = tf.reduce_mean(tf.abs(xs[:, 1:] - xs[:, :-1])) + tf.reduce_mean(
                tf.abs(xs[:, :, 1:] - xs[:, :, :-1])
            )
            l2 = tf.reduce_mean(tf.square(xs - 0.5))
            loss = -tf.reduce_mean(logp) + cfg.tv_weight * tv * h + cfg.l2_weight * l2
        grads = tape.gradient(loss, [param.var])
        opt.apply_gradients(zip(grads, [param.var], strict=True))
    end = prob()
    images = np.clip(np.rint(param.images().numpy()), 0, 255).astype("uint8")
    return images, np.stack([start, end])


def agreement(judge: keras.Model, images: np.ndarray, classes: list[int]) -> np.ndarray:
    """Per image: 1.0 where ``judge`` (trained independently) predicts the intended class."""
    p = keras.ops.convert_to_numpy(judge(np.asarray(images, dtype="float32"), training=False))
    return (p.argmax(axis=1) == np.asarray(classes)).astype(float)
