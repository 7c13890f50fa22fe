"""Backbone loading offline, the transfer classifier, fine-tuning switches and evaluation."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import require

from helpers.backbones import (
    BACKBONES,
    BackboneUnavailableError,
    cached_weights,
    feature_extractor,
    head_of,
    load_available,
    load_backbone,
    pooled_features,
    transfer_classifier,
    unfreeze_top,
)
from helpers.evaluation import Evaluation, evaluate, macro_f1_present, paired_difference_interval
from helpers.plots import plot_confusion


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(
        "helpers.backbones.keras_models_dirs", lambda: [tmp_path / "keras" / "models"]
    )


def test_missing_weights_give_a_clear_error(no_weights):
    with pytest.raises(
        BackboneUnavailableError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ):
        load_backbone("vgg16", (32, 32, 3), allow_download=False)


def test_random_weights_only_when_allowed_and_labelled(no_weights):
    bb = load_backbone("mobilenet_0.75", (64, 64, 3), allow_download=False, allow_random=True)
    assert not bb.pretrained and bb.weights.startswith("random (quick mode only)")
    assert bb.model.name == "mobilenet_0.75" and not bb.model.trainable


def test_unknown_backbone_lists_known():
    with pytest.raises(KeyError, match="mobilenet_0.75"):
        load_backbone("alexnet", (32, 32, 3))


def test_cached_mobilenet_weights_load_offline():
    spec = BACKBONES["mobilenet_0.75"]
    require(
        cached_weights(spec) is not None,
        "MobileNet weights not in KERAS_HOME (materialize.sh DEST KERAS_HOME)",
    )
    bb = load_backbone("mobilenet_0.75", (96, 96, 3), allow_download=False)
    assert bb.pretrained and "cached file" in bb.weights
    first = bb.model.get_layer("conv1").get_weights()[0]
    assert np.abs(first).mean() > 0.05  # trained filters, not a fresh initialiser's ~0.02


def test_transfer_classifier_and_unfreeze(no_weights):
    bb = load_backbone("mobilenet_0.75", (64, 64, 3), allow_download=False, allow_random=True)
    model = transfer_classifier(bb, (64, 64, 3), 5)
    assert model.output_shape == (None, 5)
    frozen = len(model.trainable_weights)
    assert frozen == 2  # only the dense head
    n = unfreeze_top(bb.model, bb.spec.fine_tune_from)
    assert n > 0 and len(model.trainable_weights) == frozen + n
    assert not any(
        layer.trainable
        for layer in bb.model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    with pytest.raises(KeyError):
        unfreeze_top(bb.model, "no_such_layer")
    n_all = unfreeze_top(bb.model, None)  # the whole base, batch normalisation still frozen
    assert n_all > n and bb.model.layers[2].trainable  # layers[1] is the preprocessing
    # a training step leaves batch normalisation's moving statistics alone (inference mode;
    # in training mode the variance of conv1_bn would move from 1 towards the batch's)
    bn = model.get_layer("conv1_bn")
    assert any(w is model.get_layer("conv_pw_13").kernel for w in model.trainable_weights)
    before = [w.copy() for w in bn.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.uniform(0, 255, (4, 64, 64, 3)), np.array([0, 1, 2, 3]))
    for old, new in zip(before, bn.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    bn.trainable = True  # the check can fail: a trainable layer would have moved
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.train_on_batch(rng.uniform(0, 255, (4, 64, 64, 3)), np.array([0, 1, 2, 3]))
    assert not np.array_equal(before[-1], bn.get_weights()[-1])


def test_backbone_layers_sit_at_top_level_of_its_models(no_weights):
    bb = load_backbone("mobilenet_0.75", (64, 64, 3), allow_download=False, allow_random=True)
    assert [type(layer).__name__ for layer in bb.model.layers[:2]] == ["InputLayer", "Rescaling"]
    model = transfer_classifier(bb, (64, 64, 3), 3)
    extractor = feature_extractor(bb, (64, 64, 3))
    assert not any(isinstance(layer, keras.Model) for layer in model.layers + extractor.layers)
    assert model.get_layer(bb.spec.last_conv) is bb.model.get_layer(bb.spec.last_conv)
    assert extractor.output_shape == (None, model.get_layer(bb.spec.last_conv).output.shape[-1])
    with pytest.raises(ValueError, match=r"loaded for images of shape \(64, 64, 3\)"):
        transfer_classifier(bb, (96, 96, 3), 3)


def test_load_available_lists_the_missing_with_their_reason(no_weights):
    available, missing = load_available(["mobilenet_0.75", "mobilenet_v2"], (64, 64, 3),
                                        allow_download=False)
    assert available == {}
    assert [m["backbone"] for m in missing] == ["mobilenet_0.75", "mobilenet_v2"]
    assert "mobilenet_7_5_224_tf_no_top.h5" in missing[0]["reason"]
    assert all(m["brief"].startswith("downloads disabled") for m in missing)
    available, missing = load_available(["mobilenet_0.75"], (64, 64, 3), allow_download=False,
                                        allow_random=True)
    assert list(available) == ["mobilenet_0.75"] and missing == []
    assert available["mobilenet_0.75"].weights.startswith("random")


def test_a_failed_download_is_briefly_named_without_urls_or_folders(no_weights, monkeypatch,
                                                                     capsys):
    def offline(*args, **kwargs):
        print("Downloading data from https://example.invalid/w.h5")  # as Keras does
        raise Exception("URL fetch failure on https://example.invalid/w.h5: None -- [Errno -2]")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    _, missing = load_available(["mobilenet_v2"], (64, 64, 3), allow_download=True)
    assert "Downloading" not in capsys.readouterr().out  # the table says it, once
    assert "https://example.invalid/w.h5" in missing[0]["reason"]  # the full story stays
    assert missing[0]["brief"] == "download failed (no network)"
    monkeypatch.setattr(keras.applications, "MobileNetV2",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("checksum mismatch")))
    _, missing = load_available(["mobilenet_v2"], (64, 64, 3), allow_download=True)
    assert missing[0]["brief"] == "download failed"


def test_head_of_a_classifier_on_pooled_features_gives_its_predictions(no_weights):
    bb = load_backbone("mobilenet_0.75", (64, 64, 3), allow_download=False, allow_random=True)
    model = transfer_classifier(bb, (64, 64, 3), 4, dropout=0.3)
    head = head_of(model)
    assert head.get_layer("predictions") is model.get_layer("predictions")  # shared, not copied
    x = np.random.default_rng(1).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    pooled = feature_extractor(bb, (64, 64, 3))(x, training=False)
    np.testing.assert_allclose(head(pooled, training=False).numpy(),
                               model(x, training=False).numpy(), atol=1e-5)
    assert [w.shape for w in head.trainable_weights] == [w.shape for w in model.trainable_weights]


def test_pooled_features_keep_order_and_mirror(no_weights):
    bb = load_backbone("mobilenet_0.75", (64, 64, 3), allow_download=False, allow_random=True)
    extractor = feature_extractor(bb, (64, 64, 3))
    x = np.random.default_rng(0).uniform(0, 255, (7, 64, 64, 3)).astype("float32")
    y = np.arange(7)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    plain, labels = pooled_features(extractor, ds)
    mirrored, _ = pooled_features(extractor, ds, mirror=True)
    assert plain.shape == (7, bb.model.output_shape[-1]) and labels.tolist() == y.tolist()
    direct = extractor.predict(x, verbose=0)
    flipped = extractor.predict(x[:, :, ::-1], verbose=0)
    scale = float(np.abs(direct).max())  # random weights: tiny features, compare relative to it
    assert scale > 0
    np.testing.assert_allclose(plain / scale, direct / scale, atol=1e-4)
    np.testing.assert_allclose(mirrored / scale, 0.5 * (direct + flipped) / scale, atol=1e-4)
    assert np.abs(plain - mirrored).max() / scale > 1e-3  # mirroring changed the features


def test_evaluation_metrics_match_hand_counts():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    ev = Evaluation("m", ["a", "b", "c"], y, probs)
    assert ev.accuracy == pytest.approx(4 / 6)
    per = ev.per_class()
    assert per.loc["b", "precision"] == pytest.approx(2 / 3) and per.loc["b", "recall"] == 1.0
    assert per.loc["a", "recall"] == 0.5 and per["support"].tolist() == [2, 2, 2]
    assert ev.confusion().tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    worst = ev.worst_confusions(5)
    assert len(worst) == 2 and set(worst["true"]) == {"a", "c"}
    assert ev.macro()["recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert plot_confusion(ev).axes
    many = Evaluation("43 classes", [f"class with a rather long name, number {i}"
                                     for i in range(43)], np.arange(43), np.eye(43))
    ax = plot_confusion(many).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "0 class with a rather long name, nu…" and len(labels) == 43
    assert all(len(t) <= 37 for t in labels) and ax.get_yticklabels()[0].get_fontsize() >= 8


def test_binary_sigmoid_outputs_and_evaluate_on_dataset():
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(inp))
    model.layers[-1].set_weights([np.array([[1.0], [0], [0], [0]]), np.zeros(1)])
    x = np.array([[5, 0, 0, 0], [-5, 0, 0, 0], [5, 0, 0, 0]], "float32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.array([1, 0, 0]))).batch(2)
    ev = evaluate(model, ds, ["cat", "dog"])
    assert ev.y_pred.tolist() == [1, 0, 1] and ev.accuracy == pytest.approx(2 / 3)
    assert ev.errors().tolist() == [2]


def test_p_values_are_written_without_a_false_zero():
    from helpers.evaluation import format_p

    assert format_p(0.004) == "p < 0.01" and format_p(0.0) == "p < 0.01"
    assert format_p(0.012) == "p = 0.012" and format_p(0.5) == "p = 0.50"
    assert format_p(0.0462) == "p = 0.046"  # not "0.05" beside "a real difference"
    assert format_p(float("nan")) == "p not computed"


def test_holm_rejects_step_down_and_stops_at_the_first_failure():
    from helpers.evaluation import holm_reject

    # m = 4: 0.005 <= 0.05/4, 0.012 <= 0.05/3, 0.03 > 0.05/2 stops, so 0.04 is kept too
    assert holm_reject([0.03, 0.005, 0.04, 0.012]) == [False, True, False, True]
    assert holm_reject([0.2, 0.01]) == [False, True]  # 0.01 <= 0.025; 0.2 > 0.05
    assert holm_reject([0.04]) == [True] and holm_reject([]) == []
    assert holm_reject([0.001, 0.001]) == [True, True]
    assert holm_reject([float("nan"), 0.001]) == [False, True]  # NaN never rejects
    assert holm_reject({"a": 0.2, "b": 0.01}.values()) == [False, True]  # any iterable


def test_wilson_interval_and_accuracy_interval():
    from helpers.evaluation import wilson_interval

    low, high = wilson_interval(5, 10)
    assert abs(low - 0.2366) < 1e-3 and abs(high - 0.7634) < 1e-3  # textbook Wilson 95 %
    low, high = wilson_interval(0, 8)
    assert low == 0.0 and 0.3 < high < 0.4  # stays inside [0, 1] at a rate of 0
    ev = Evaluation("m", ["a", "b"], np.array([0, 1, 1, 0]), np.array([[0.9, 0.1], [0.2, 0.8],
                                                                        [0.6, 0.4], [0.7, 0.3]]))
    assert ev.accuracy_interval() == wilson_interval(3, 4)


def test_macro_f1_of_a_resample_ignores_classes_it_lacks():
    """Class 2 is missing from the resample: scoring it as 0 for both models (43 labels,
    zero_division=0) would shrink the difference; over the present classes it does not."""
    from sklearn.metrics import f1_score

    t = np.array([0, 0, 1, 1])
    a, b = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    assert macro_f1_present(t, a) == 1.0
    assert macro_f1_present(t, b) == pytest.approx(f1_score(t, b, average="macro"))
    padded = lambda p: f1_score(t, p, average="macro", labels=range(3), zero_division=0)  # noqa: E731
    gap = macro_f1_present(t, a) - macro_f1_present(t, b)
    assert padded(a) - padded(b) == pytest.approx(gap * 2 / 3)  # the shrunken difference
    # class 0 missed (F1 0), class 1 right (F1 1); the predicted, absent class 2 adds no column
    assert macro_f1_present(t, np.array([2, 2, 1, 1])) == pytest.approx(0.5)


def test_paired_interval_widens_when_photos_come_in_tracks():
    """Twenty tracks of ten near-copies: model a is right on whole tracks where b is wrong.
    Counting the 200 photos as independent gives a narrow interval; resampling whole tracks
    (the real evidence: twenty signs) a wider one; equal predictions give exactly zero."""
    y = np.repeat(np.arange(20) % 2, 10)
    tracks = np.repeat(np.arange(20), 10)
    b = y.copy()
    b[tracks % 5 == 0] = 1 - y[tracks % 5 == 0]  # b misses 4 whole tracks, a none
    acc = lambda t, p: float(np.mean(t == p))  # noqa: E731
    d, lo, hi = paired_difference_interval(y, y, b, acc, seed=1)
    dt, lot, hit = paired_difference_interval(y, y, b, acc, groups=tracks, seed=1)
    assert d == dt == pytest.approx(0.2)
    assert hit - lot > 1.5 * (hi - lo) and lot <= 0.2 <= hit
    assert paired_difference_interval(y, b, b, acc, groups=tracks) == (0.0, 0.0, 0.0)
    assert paired_difference_interval(y, y, b, acc, groups=tracks, seed=1) == (dt, lot, hit)
    with pytest.raises(ValueError, match="one entry per image"):
        paired_difference_interval(y, y, b[:-1], acc)
