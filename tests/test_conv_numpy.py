"""The NumPy convolution backprop matches TensorFlow's automatic differentiation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from helpers.conv_numpy import conv2d_backward, conv2d_forward, dilate, output_size, pad_amounts


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("hw", [(7, 7), (8, 6)])
def test_forward_and_gradients_match_tensorflow(stride, padding, hw):
    rng = np.random.default_rng(stride * 10 + len(padding))
    x = rng.normal(size=(2, *hw, 3))
    w = rng.normal(size=(3, 3, 3, 4))
    b = rng.normal(size=4)
    xt, wt, bt = (tf.Variable(v) for v in (x, w, b))
    with tf.GradientTape() as tape:
        yt = tf.nn.conv2d(xt, wt, strides=stride, padding=padding.upper()) + bt
        upstream = tf.constant(rng.normal(size=yt.shape))
        loss = tf.reduce_sum(yt * upstream)  # so that dL/dy = upstream
    gx, gw, gb = tape.gradient(loss, [xt, wt, bt])
    np.testing.assert_allclose(conv2d_forward(x, w, b, stride, padding), yt.numpy(), atol=1e-10)
    dx, dw, db = conv2d_backward(x, w, upstream.numpy(), stride, padding)
    np.testing.assert_allclose(dx, gx.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw, gw.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, gb.numpy(), atol=1e-10)


def test_output_size_rules():
    assert output_size(128, 3) == 126 and output_size(128, 3, 2) == 63
    assert output_size(128, 3, 2, "same") == 64 and output_size(4, 3, dilation=2) == 0
    assert pad_amounts(8, 3, 2, "same") == (0, 1)  # TensorFlow puts the odd zero after
    with pytest.raises(ValueError):
        output_size(4, 3, padding="full")


def test_dilate_inserts_zeros():
    d = dilate(np.arange(4.0).reshape(1, 2, 2, 1), 2)[0, :, :, 0]
    np.testing.assert_array_equal(d, [[0, 0, 1], [0, 0, 0], [2, 0, 3]])
