"""Inception and residual blocks, the plain convnet builder, FLOP counting and timed fitting."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.blocks import inception_block, residual_block
from helpers.models import plain_convnet
from helpers.training import compile_classifier, count_flops, fit, images_per_second


def _run(x_in, out, x):
    return keras.Model(x_in, out)(x, training=False).numpy()


def test_inception_block_concatenates_branches_and_keeps_size():
    inp = keras.Input((16, 16, 24))
    out = inception_block(inp, 8, 6, 12, 2, 4, 5, name="inc")
    assert tuple(out.shape) == (None, 16, 16, 8 + 12 + 4 + 5)
    model = keras.Model(inp, out)
    names = {layer.name for layer in model.layers}
    assert {
        "inc_1x1_conv",
        "inc_3x3_conv",
        "inc_5x5_conv",
        "inc_branch_pool",
        "inc_pool_proj_conv",
    } <= names
    assert model.get_layer("inc_5x5_conv").kernel.shape == (5, 5, 2, 4)


def test_residual_block_with_zero_branch_is_identity():
    inp = keras.Input((8, 8, 16))
    out = residual_block(inp, 16, name="res")  # zero_init: last BN scale starts at 0
    x = np.maximum(np.random.default_rng(0).normal(size=(2, 8, 8, 16)), 0).astype("float32")
    np.testing.assert_allclose(_run(inp, out, x), x, atol=1e-6)
    assert "res_proj_conv" not in {layer.name for layer in keras.Model(inp, out).layers}


def test_residual_block_with_zero_branch_is_the_projection():
    inp = keras.Input((8, 8, 16))
    out = residual_block(inp, 32, strides=2, name="res", zero_init=False)
    model = keras.Model(inp, out)
    conv = model.get_layer("res_b_conv")
    conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    assert tuple(out.shape) == (None, 4, 4, 32)
    proj = keras.Model(inp, model.get_layer("res_proj_bn").output)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 16)).astype("float32")
    want = np.maximum(proj(x, training=False).numpy(), 0)
    np.testing.assert_allclose(model(x, training=False).numpy(), want, atol=1e-6)


def test_residual_block_learns_nonzero_branch():
    inp = keras.Input((8, 8, 16))
    out = residual_block(inp, 16, name="res", zero_init=False)
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 16)).astype("float32")
    assert not np.allclose(_run(inp, out, x), np.maximum(x, 0))


def test_plain_convnet_shapes_and_heads():
    binary = plain_convnet((64, 64, 3), 2, filters=(8, 16, 32), name="b")
    assert binary.output_shape == (None, 1)
    assert binary.get_layer("block3_pool").output.shape[1:] == (8, 8, 32)
    multi = plain_convnet(
        (32, 32, 3), 10, filters=(8,), convs_per_block=2, dense=16, batchnorm=False
    )
    assert multi.output_shape == (None, 10)
    assert "block1_conv2_conv" in {layer.name for layer in multi.layers}


def test_count_flops_matches_hand_count():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="valid", depth_multiplier=2)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(5)(x)
    model = keras.Model(inp, out)
    conv = 2 * 8 * 8 * 9 * 3 * 4
    depthwise = 2 * 6 * 6 * 9 * 4 * 2
    dense = 2 * (6 * 6 * 8) * 5
    assert count_flops(model) == conv + depthwise + dense


def test_count_flops_of_nested_separable_grouped_and_4d_dense():
    inner_in = keras.Input((8, 8, 4))
    inner_out = keras.layers.Conv2D(8, 1, name="inner")(inner_in)
    inner = keras.Model(inner_in, inner_out, name="inner_model")
    inp = keras.Input((8, 8, 4))
    x = inner(inp)  # nested model: its layers count too
    x = keras.layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", groups=2)(x[..., :4])
    out = keras.layers.Dense(3)(x)  # on 4-D input: once per position
    model = keras.Model(inp, out)
    nested = 2 * 64 * 4 * 8
    separable = 2 * 64 * 9 * 8 * 2 + 2 * 64 * (8 * 2) * 6  # depthwise + pointwise
    grouped = 2 * 64 * 9 * (4 // 2) * 4  # each output sees only its group's inputs
    dense = 2 * 64 * 4 * 3
    assert count_flops(model) == nested + separable + grouped + dense


def _sign_task(flip_validation: bool):
    """Train on sign(x0) labels; validation labels are the opposite (gets worse) or the same."""
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    val = tf.data.Dataset.from_tensor_slices((x, 1 - y if flip_validation else y)).batch(64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    return compile_classifier(model, 2, 0.5, optimizer="sgd"), train, val


class _Snapshots(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


@pytest.mark.parametrize("monitor", ["val_accuracy", "val_loss"])
def test_fit_stops_when_validation_stops_improving_and_restores_the_best(tmp_path, monitor):
    model, train, val = _sign_task(flip_validation=True)
    snaps = _Snapshots()
    res = fit(model, train, val, epochs=12, patience=2, monitor=monitor, verbose=0,
              callbacks=[snaps], backup_dir=tmp_path / "bk")
    hist = res.history[monitor]
    best = int(np.argmax(hist) if "acc" in monitor else np.argmin(hist))
    assert best == 0 and res.epochs == 3 == len(hist)  # best at epoch 1, then 2 epochs patience
    assert res.seconds >= sum(res.epoch_seconds) * 0.9 and res.params == model.count_params()
    for got, want in zip(model.get_weights(), snaps.weights[best], strict=True):
        np.testing.assert_array_equal(got, want)  # the best epoch's weights, restored
    assert not np.array_equal(snaps.weights[-1][0], snaps.weights[best][0])


def test_fit_trains_every_epoch_while_validation_improves_or_without_patience():
    model, train, val = _sign_task(flip_validation=False)
    res = fit(model, train, val, epochs=4, patience=1, monitor="val_loss", verbose=0)
    assert res.epochs == 4 and np.all(np.diff(res.history["val_loss"]) < 0)
    model, train, val = _sign_task(flip_validation=True)
    res = fit(model, train, val, epochs=4, verbose=0)  # patience None: no early stopping
    assert res.epochs == 4 and len(res.history["loss"]) == 4
    assert images_per_second(res, 64) > 0
    assert res.best() == pytest.approx(max(res.history["val_accuracy"]))


def test_stratified_holdout_is_per_class_and_disjoint():
    from helpers.datasets import stratified_holdout

    y = np.repeat(np.arange(4), [10, 20, 30, 2])
    keep, held = stratified_holdout(y, 0.1, seed=3)
    assert np.intersect1d(keep, held).size == 0 and len(keep) + len(held) == len(y)
    assert np.bincount(y[held], minlength=4).tolist() == [1, 2, 3, 1]
    assert np.array_equal(held, stratified_holdout(y, 0.1, seed=3)[1])
    with pytest.raises(ValueError):
        stratified_holdout(y, 1.5)


def test_compile_classifier_picks_the_loss_and_the_schedule():
    binary = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    compile_classifier(binary, 2, 0.1, optimizer="sgd", momentum=0.9)
    assert binary.loss == "binary_crossentropy" and binary.optimizer.momentum == 0.9
    multi = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    compile_classifier(multi, 4, 0.01, optimizer="adamw", decay_steps=10, weight_decay=1e-4)
    assert multi.loss == "sparse_categorical_crossentropy"
    assert isinstance(multi.optimizer, keras.optimizers.AdamW)
    assert multi.optimizer.weight_decay == 1e-4
    schedule = multi.optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == pytest.approx(0.01) and float(schedule(10)) == pytest.approx(0.0)
