"""Activation maximisation: one engine for filter patterns and class images.

``ActivationMaximization(model)(score, ...)`` optimises a batch of input images, one per
target of ``score`` (:mod:`helpers.objectives`): a filter of a layer (:class:`FilterScore`)
or a class (:class:`CategoricalScore`, :class:`BinaryScore`). Three kinds of small objects
shape the result, following the feature-visualisation literature (Mordvintsev, Olah et al.
2015-2017):

* an **image parametrisation** maps unconstrained variables to images in 0..255:
  :class:`PixelImage` (one variable per pixel) or :class:`FourierImage` (the inverse FFT of a
  spectrum scaled by ``1/frequency``, as natural images have, so the optimiser works on
  whitened variables). Both can mix the colour channels with the square root of the training
  pixels' colour covariance (decorrelated colours) and end in a sigmoid;
* **transformations** applied to the image before every score, so that the pattern must
  survive small changes instead of exploiting single pixels: :class:`Jitter` (random shift),
  :class:`Scale` (random zoom), :class:`Rotate` (random rotation);
* **penalties** added to the loss: :class:`TotalVariation` (smoothness) and :class:`L2` (a
  pull towards grey).

Every step scores a transformed copy and moves the variables with Adam along the gradient of
``score - penalties``. The result records each image's score before and after, measured on
the untransformed image, so a caller can check that the ascent raised it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .model_layers import feature_model
from .objectives import Score

# ------------------------------------------------------------------ parametrisations


class ImageParam:
    """Maps a variable to images ``(N, H, W, C)`` in 0..255 (subclasses say how)."""

    def __init__(self, colour: np.ndarray | None = None):
        self.colour = colour

    def build(self, n: int, h: int, w: int, c: int, seed: int) -> tf.Variable:
        """The variable for ``n`` images of ``h`` × ``w`` × ``c``, small random values."""
        self.h, self.w, self.c = h, w, c
        mix = np.eye(c) if self.colour is None else np.asarray(self.colour, dtype="float64")
        if mix.shape != (c, c):
            raise ValueError(f"colour matrix should be {c}×{c} for {c} channels, got {mix.shape}")
        self._colour = tf.constant(mix / np.abs(mix).sum(axis=0).max(), tf.float32)
        rng = np.random.default_rng(seed)
        return tf.Variable(rng.normal(0, 0.01, self.shape(n)).astype("float32"))

    def shape(self, n: int) -> tuple[int, ...]:
        raise NotImplementedError

    def decorrelated(self, var: tf.Variable) -> tf.Tensor:
        """The image in decorrelated colour space, before mixing (``(N, H, W, C)``)."""
        raise NotImplementedError

    def __call__(self, var: tf.Variable) -> tf.Tensor:
        x = self.decorrelated(var)
        x = tf.einsum("nhwc,dc->nhwd", x, self._colour)  # decorrelated → RGB
        return 255.0 * tf.sigmoid(x)


class PixelImage(ImageParam):
    """One variable per pixel and channel."""

    def shape(self, n: int) -> tuple[int, ...]:
        return (n, self.h, self.w, self.c)

    def decorrelated(self, var: tf.Variable) -> tf.Tensor:
        return tf.convert_to_tensor(var)


def _freqs(h: int, w: int) -> np.ndarray:
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx**2 + fy**2)


class FourierImage(ImageParam):
    """The image is the inverse real FFT of a spectrum scaled by ``1/f^decay_power``."""

    def __init__(self, decay_power: float = 1.0, colour: np.ndarray | None = None):
        super().__init__(colour)
        self.decay_power = decay_power

    def shape(self, n: int) -> tuple[int, ...]:
        h, w = self.h, self.w
        scale = 1.0 / np.maximum(_freqs(h, w), 1.0 / max(h, w)) ** self.decay_power
        self.spectrum_scale = tf.constant(scale * np.sqrt(h * w), tf.float32)
        return (n, self.c, h, w // 2 + 1, 2)

    def decorrelated(self, var: tf.Variable) -> tf.Tensor:
        spec = tf.complex(var[..., 0], var[..., 1]) * tf.cast(
            self.spectrum_scale, tf.complex64
        )
        x = tf.signal.irfft2d(spec, fft_length=[self.h, self.w])  # (n, c, h, w)
        return tf.transpose(x, (0, 2, 3, 1)) / 4.0


# -------------------------------------------------------------------- transformations


class Jitter:
    """Shift each image by its own random offset of up to ``pixels`` in each direction
    (reflected borders), so that images optimised together do not share their moves."""

    def __init__(self, pixels: int):
        self.pixels = int(pixels)

    def __call__(self, x: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        pad = self.pixels
        h, w = x.shape[1], x.shape[2]
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        offset = rng.uniform(tf.stack([tf.shape(x)[0], 2]), 0, 2 * pad + 1, dtype=tf.int32)
        rows = offset[:, :1] + tf.range(h)[None]  # (n, h): the rows each image keeps
        cols = offset[:, 1:] + tf.range(w)[None]
        x = tf.gather(x, rows, axis=1, batch_dims=1)
        return tf.gather(x, cols, axis=2, batch_dims=1)


def _warp(x: tf.Tensor, angle: tf.Tensor, zoom: tf.Tensor) -> tf.Tensor:
    """Rotate image ``i`` by ``angle[i]`` (radians) and zoom it by ``zoom[i]`` about the
    centre, bilinear."""
    h, w = x.shape[1], x.shape[2]
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    cy, cx = (h - 1) / 2, (w - 1) / 2
    zero = tf.zeros_like(cos)
    # one projective transform per image, mapping output to input coordinates
    t = tf.stack(
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, zero, zero],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=t,
        output_shape=tf.constant([h, w]),
        interpolation="BILINEAR",
        fill_mode="REFLECT",
        fill_value=0.0,
    )


class Scale:
    """Zoom each image by its own random factor in ``1 ± fraction``."""

    def __init__(self, fraction: float):
        self.fraction = float(fraction)

    def __call__(self, x: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        zoom = 1.0 + rng.uniform(tf.shape(x)[:1], -self.fraction, self.fraction)
        return _warp(x, tf.zeros_like(zoom), zoom)


class Rotate:
    """Rotate each image by its own random angle of up to ``turn`` of a full turn either way."""

    def __init__(self, turn: float):
        self.turn = float(turn)

    def __call__(self, x: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        angle = rng.uniform(tf.shape(x)[:1], -self.turn, self.turn) * 2 * np.pi
        return _warp(x, angle, tf.ones_like(angle))


# ------------------------------------------------------------------------- penalties


class TotalVariation:
    """``weight`` × mean absolute difference of neighbouring pixels (0..1 scale) × height:
    a smoothness penalty whose weight means the same at any image size."""

    def __init__(self, weight: float):
        self.weight = float(weight)

    def __call__(self, x01: tf.Tensor) -> tf.Tensor:
        tv = tf.reduce_mean(tf.abs(x01[:, 1:] - x01[:, :-1]), axis=(1, 2, 3)) + tf.reduce_mean(
            tf.abs(x01[:, :, 1:] - x01[:, :, :-1]), axis=(1, 2, 3)
        )
        return self.weight * tv * x01.shape[1]


class L2:
    """``weight`` × mean squared distance from mid-grey (0..1 scale)."""

    def __init__(self, weight: float):
        self.weight = float(weight)

    def __call__(self, x01: tf.Tensor) -> tf.Tensor:
        return self.weight * tf.reduce_mean(tf.square(x01 - 0.5), axis=(1, 2, 3))


# ----------------------------------------------------------------------------- engine


@dataclass
class Maximized:
    """Images that maximise a score, and the score before and after (untransformed)."""

    images: np.ndarray  # uint8 (N, H, W, C)
    start: np.ndarray  # (N,)
    end: np.ndarray  # (N,)

    @property
    def curve(self) -> np.ndarray:
        """``(2, N)``: the score at the start and at the end."""
        return np.stack([self.start, self.end])


class ActivationMaximization:
    """Gradient ascent in input space on a score of ``model``.

    Args:
        model: a Keras model taking float images in 0..255.
        image_size: ``(height, width)`` for a model whose input size is not fixed.
    """

    def __init__(self, model: keras.Model, image_size: tuple[int, int] | None = None):
        self.model = model
        h, w = image_size or tuple(model.inputs[0].shape[1:3])
        c = model.inputs[0].shape[-1]
        if not all(isinstance(n, int) and n > 0 for n in (h, w, c)):
            raise ValueError(
                f"the model's input size is {tuple(model.inputs[0].shape[1:])}, not fixed: pass "
                "image_size=(height, width) (and build the model with a fixed channel count)"
            )
        self.size = (h, w, c)

    def __call__(
        self,
        score: Score,
        *,
        param: ImageParam | None = None,
        transforms: Sequence = (),
        penalties: Sequence = (),
        steps: int = 256,
        learning_rate: float = 0.05,
        seed: int = 0,
    ) -> Maximized:
        """Optimise one image per target of ``score`` (see the module docstring).

        Args:
            score: what to maximise; it must name its targets (``score.size`` images).
            param: the image parametrisation (default :class:`PixelImage`).
            transforms: callables ``(images, tf.random.Generator) -> images``.
            penalties: callables ``(images in 0..1) -> (N,)`` added to the loss.
        """
        net = feature_model(self.model, score.layer) if score.layer else self.model
        n = score.size
        score.check(net.outputs[0].shape, n or 1)
        if not n:
            raise ValueError("the score must name its targets (one image is made per target)")
        param = param or PixelImage()
        var = param.build(n, *self.size, seed=seed)
        rng = tf.random.Generator.from_seed(seed)
        opt = keras.optimizers.Adam(learning_rate)
        opt.build([var])

        def value(x: tf.Tensor) -> tf.Tensor:
            return score(net(x, training=False))

        @tf.function
        def step() -> None:
            with tf.GradientTape() as tape:
                x = param(var)
                seen = x
                for transform in transforms:
                    seen = transform(seen, rng)
                cost = sum((p(x / 255.0) for p in penalties), tf.zeros([n]))
                loss = tf.reduce_sum(cost - value(seen))
            opt.apply_gradients([(tape.gradient(loss, var), var)])

        start = value(param(var)).numpy()
        for _ in range(steps):
            step()
        images = param(var)
        end = value(images).numpy()
        return Maximized(np.clip(np.rint(images.numpy()), 0, 255).astype("uint8"), start, end)
