"""A 2-D convolution layer's forward and backward pass written out in NumPy.

This is the part of the theory assignment that asks *how* gradients flow through a
convolution, so it is implemented by hand and checked against ``tf.GradientTape``
in the tests and in ``01_theory``. Layout follows TensorFlow: inputs ``(N, H, W, C)``,
kernels ``(kh, kw, C, F)``, outputs ``(N, Ho, Wo, F)``; like every deep-learning
"convolution" the forward pass is a cross-correlation.

For ``y = conv(x, w, stride s) + b`` and an upstream gradient ``dy = dL/dy``:

* ``dL/db[f]`` sums ``dy[..., f]`` over batch and positions;
* ``dL/dw`` correlates the (padded) input with ``dy``: each kernel tap sees the input
  pixels it multiplied, weighted by the gradient of the output they produced;
* ``dL/dx`` is a *full* convolution of ``dy`` with the kernel rotated by 180 degrees
  (channels swapped). With stride ``s`` the gradient first gets ``s - 1`` zeros
  inserted between its entries, because the skipped positions produced no output;
  the padding added on the forward pass is cropped off at the end.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def output_size(
    size: int, kernel: int, stride: int = 1, padding: str = "valid", dilation: int = 1
) -> int:
    """Output length along one axis, with TensorFlow's ``valid``/``same`` rules."""
    k = dilation * (kernel - 1) + 1
    if padding == "valid":
        return max(0, (size - k) // stride + 1)
    if padding == "same":
        return math.ceil(size / stride)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def pad_amounts(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added before and after one axis (TensorFlow puts the odd one after)."""
    if padding == "valid":
        return 0, 0
    total = max((output_size(size, kernel, stride, "same") - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kh: int, kw: int, stride: int, padding: str):
    (t, b_), (l_, r) = (
        pad_amounts(x.shape[1], kh, stride, padding),
        pad_amounts(x.shape[2], kw, stride, padding),
    )
    return np.pad(x, ((0, 0), (t, b_), (l_, r), (0, 0))), (t, l_)


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """All ``kh x kw`` patches the kernel visits: shape ``(N, Ho, Wo, C, kh, kw)``."""
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))
    return win[:, ::stride, ::stride][:, :ho, :wo]


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    stride: int = 1,
    padding: str = "valid",
) -> np.ndarray:
    """``y[n, p, q, f] = sum_{i, j, c} xpad[n, p*s + i, q*s + j, c] * w[i, j, c, f] + b[f]``."""
    kh, kw = w.shape[:2]
    ho = output_size(x.shape[1], kh, stride, padding)
    wo = output_size(x.shape[2], kw, stride, padding)
    xp, _ = _pad(x, kh, kw, stride, padding)
    y = np.einsum("npqcij,ijcf->npqf", _windows(xp, kh, kw, stride, ho, wo), w)
    return y if b is None else y + b


def dilate(dy: np.ndarray, stride: int) -> np.ndarray:
    """Insert ``stride - 1`` zeros between neighbouring entries along H and W."""
    if stride == 1:
        return dy
    n, ho, wo, f = dy.shape
    out = np.zeros((n, (ho - 1) * stride + 1, (wo - 1) * stride + 1, f), dtype=dy.dtype)
    out[:, ::stride, ::stride] = dy
    return out


def conv2d_backward(
    x: np.ndarray, w: np.ndarray, dy: np.ndarray, stride: int = 1, padding: str = "valid"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dL/dx, dL/dw, dL/db)`` of a convolution given ``dy = dL/dy``."""
    kh, kw, _, _ = w.shape
    n, h, wd, _ = x.shape
    ho, wo = dy.shape[1:3]
    xp, (top, left) = _pad(x, kh, kw, stride, padding)

    db = dy.sum(axis=(0, 1, 2))
    dw = np.einsum("npqcij,npqf->ijcf", _windows(xp, kh, kw, stride, ho, wo), dy)

    # dL/dx: zero insertion for the stride, 'full' zero padding, 180-degree rotated kernel.
    d = dilate(dy, stride)
    d = np.pad(d, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    w_rot = w[::-1, ::-1].transpose(0, 1, 3, 2)  # (kh, kw, F, C)
    hp = (ho - 1) * stride + kh
    wp = (wo - 1) * stride + kw
    dxp_core = np.einsum("npqfij,ijfc->npqc", _windows(d, kh, kw, 1, hp, wp), w_rot)
    # Rows/columns of the padded input that no window reached get zero gradient.
    dxp = np.zeros_like(xp, dtype=np.result_type(dy, w))
    dxp[:, :hp, :wp] = dxp_core
    dx = dxp[:, top : top + h, left : left + wd]
    return dx, dw, db
