"""Attribution methods (gradient, guided backprop, deconvnet, Grad-CAM): one convention.

Grad-CAM against hand-set models and an independent computation; every method on a model
with a nested backbone; the custom ReLU gradients; the one plotting function; and Grad-CAM
and saliency against tf-keras-vis, an external implementation, on the same model.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from helpers.attribution import (
    METHODS,
    deconvnet,
    deletion_summary,
    deletion_test,
    grad_cam,
    gradient,
    guided_backprop,
    relu_rule,
    roughness,
    roughness_table,
)
from helpers.backbones import BackboneSpec, LoadedBackbone, transfer_classifier
from helpers.plots import attribution_grid, plot_histories, signed_image


def _bright_detector() -> keras.Model:
    """A hand-set net: conv firing on bright pixels, global average pooling, sigmoid."""
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="detect")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inp, out)
    k = np.zeros((3, 3, 3, 4), "float32")
    k[1, 1, :, :] = 1.0  # sum of the three channels at the centre pixel
    model.get_layer("detect").set_weights([k, np.full(4, -1.5, "float32")])  # fires above ~0.5
    model.get_layer("predictions").set_weights([np.ones((4, 1), "float32"), np.zeros(1, "float32")])
    return model


def _image_with_square(row: int, col: int, size: int = 8) -> np.ndarray:
    img = np.full((32, 32, 3), 20.0, "float32")
    img[row : row + size, col : col + size] = 250.0
    return img


def test_grad_cam_heat_sits_on_the_object():
    model = _bright_detector()
    images = np.stack([_image_with_square(2, 3), _image_with_square(20, 18)])
    result = grad_cam(model, images, "detect", class_index=1)
    cams = result.heatmap
    assert cams.shape == (2, 32, 32) and result.predictions.shape == (2, 1)
    assert result.method == "grad_cam" and result.signal is None
    assert cams.max() == pytest.approx(1.0)
    for cam, (r, c) in zip(cams, [(2, 3), (20, 18)], strict=True):
        inside = cam[r : r + 8, c : c + 8].mean()
        outside = (cam.sum() - cam[r : r + 8, c : c + 8].sum()) / (cam.size - 64)
        assert inside > 0.9 and outside < 0.2
        peak = np.unravel_index(cam.argmax(), cam.shape)
        assert r <= peak[0] < r + 8 and c <= peak[1] < c + 8


def test_deletion_test_removing_the_heat_costs_more_than_removing_random_regions():
    model = _bright_detector()
    images = np.stack([_image_with_square(2, 3), _image_with_square(20, 18)])
    cams = grad_cam(model, images, "detect", class_index=1).heatmap
    table = deletion_test(model, images, cams, share=0.15, grid=8, seed=0)
    assert list(table.columns) == ["class", "p", "p without top", "p without random"]
    assert (table["class"] == 1).all() and (table["p"] > 0.58).all()
    # the square overlaps at most 9 of the 64 regions of 4×4 px; deleting the 10 hottest
    # silences the detector (sigmoid(0) = 0.5), as many random regions take only some of it
    assert np.allclose(table["p without top"], 0.5, atol=1e-4)
    assert (table["p without random"] > 0.55).all()
    flipped = deletion_test(model, images, 1 - cams, share=0.15, seed=0)  # a map pointing away
    assert np.allclose(flipped["p without top"], flipped["p"], atol=1e-6)
    with pytest.raises(ValueError, match="should be"):
        deletion_test(model, images, cams[:, :16], share=0.1)
    with pytest.raises(ValueError, match="strictly between"):
        deletion_test(model, images, cams, share=1.0)
    with pytest.raises(ValueError, match="regions a side"):
        deletion_test(model, images, cams, grid=64)


def test_deletion_summary_names_a_direction_only_when_the_test_is_clear():
    rng = np.random.default_rng(0)
    p = np.full(40, 0.9)
    cost = rng.uniform(0.2, 0.4, 40)  # the hottest regions cost this much, random ones a tenth
    frame = pd.DataFrame({"p": p, "p without top": p - cost, "p without random": p - cost / 10})
    hot = deletion_summary(frame)
    assert hot["verdict"] == "the hottest regions cost more" and hot["Wilcoxon p"] < 1e-6
    assert hot["images where hottest costs more"] == 1.0 and hot["images"] == 40
    assert hot["median loss, hottest regions"] == pytest.approx(np.median(cost))
    assert hot["mean loss, random regions"] == pytest.approx(cost.mean() / 10)
    swapped = frame.rename(columns={"p without top": "p without random",
                                    "p without random": "p without top"})
    assert deletion_summary(swapped)["verdict"] == "random regions cost more"
    few = deletion_summary(frame.head(3))  # three pairs cannot reach p < 0.01
    assert few["verdict"] == "no clear difference" and few["Wilcoxon p"] > 0.01
    same = frame.assign(**{"p without random": frame["p without top"]})
    assert np.isnan(deletion_summary(same)["Wilcoxon p"])
    assert deletion_summary(same)["verdict"] == "no clear difference"


def test_grad_cam_for_the_other_class_is_empty_here():
    """Evidence against class 1 ('no object') has no positive gradient: ReLU leaves nothing."""
    cams = grad_cam(_bright_detector(), _image_with_square(5, 5)[None], "detect", class_index=0)
    assert cams.heatmap.max() == 0.0


def _colour_detector() -> keras.Model:
    """Two channels that detect different things (red, blue) and a 3-class softmax."""
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(2, 1, activation="relu", name="detect")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out)
    k = np.zeros((1, 1, 3, 2), "float32")
    k[0, 0, 0, 0] = k[0, 0, 2, 1] = 1.0  # channel 0: red, channel 1: blue
    model.get_layer("detect").set_weights([k, np.zeros(2, "float32")])
    w = np.array([[4.0, -3.0, 0.0], [-3.0, 4.0, 0.0]], "float32")  # class 0 red, 1 blue, 2 none
    model.get_layer("predictions").set_weights([w, np.zeros(3, "float32")])
    return model


def _reference_cam(model, images, layer, classes) -> np.ndarray:
    """Grad-CAM written out independently: per-channel pooled gradients, weighted sum, ReLU."""
    sub = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    x = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        maps, probs = sub(x, training=False)
        score = tf.reduce_sum(probs * tf.one_hot(classes, probs.shape[-1]), axis=1)
    grads = tape.gradient(score, maps).numpy()
    maps = maps.numpy()
    cams = []
    for g, m in zip(grads, maps, strict=True):
        weights = g.mean(axis=(0, 1))  # one weight per channel
        cam = np.maximum((m * weights).sum(axis=-1), 0.0)
        cams.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.array(cams)


def test_grad_cam_matches_an_independent_computation_for_a_class_not_predicted():
    img = np.full((16, 16, 3), 10.0, "float32")
    img[2:10, 2:10] = [250.0, 10.0, 10.0]  # a big red square: class 0 is predicted
    img[11:15, 11:15] = [10.0, 10.0, 250.0]  # a small blue square
    model = _colour_detector()
    result = grad_cam(model, img[None], "detect", class_index=1)  # explain "blue"
    cams = result.heatmap
    assert result.predictions.argmax() == 0
    want = _reference_cam(model, img[None], "detect", [1])
    np.testing.assert_allclose(cams, want, atol=1e-5)
    cam = cams[0]
    assert cam[11:15, 11:15].min() > 0.9  # heat on the blue square
    assert cam[2:10, 2:10].max() == 0.0  # evidence against blue is cut by the ReLU
    cams2 = grad_cam(model, np.stack([img, img]), "detect", class_index=[0, 1]).heatmap
    np.testing.assert_allclose(cams2, _reference_cam(model, np.stack([img, img]), "detect", [0, 1]),
                               atol=1e-5)
    assert cams2[0][2:10, 2:10].min() > 0.9 and cams2[0][11:15, 11:15].max() == 0.0
    default = grad_cam(model, img[None], "detect").heatmap  # None: the predicted class, red
    np.testing.assert_allclose(default, cams2[:1], atol=1e-6)


# ------------------------------------------------------------ every method, nested model


def _backbone() -> keras.Model:
    """Fused ReLU, max pooling, a capped ReLU layer and an Activation("relu") layer."""
    inp = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    y = keras.layers.MaxPooling2D(2, name="pool")(y)
    y = keras.layers.Conv2D(6, 3, padding="same", name="c2")(y)
    y = keras.layers.ReLU(6.0, name="c2_relu")(y)
    y = keras.layers.Conv2D(5, 3, padding="same", name="c3")(y)
    y = keras.layers.Activation("relu", name="c3_relu")(y)
    return keras.Model(inp, y, name="backbone")


def _nested_and_flat() -> tuple[keras.Model, keras.Model]:
    """A classifier around a nested backbone (built by hand), and the same network as
    :func:`transfer_classifier` builds it, every layer at top level (same weights): every
    whole-model method must give the same answer on both."""
    keras.utils.set_random_seed(7)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(_backbone()(x))
    nested = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(x))
    image = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    for layer in _backbone().layers[1:]:
        x = type(layer).from_config(layer.get_config())(x)  # fresh layers, called once
    spec = BackboneSpec("toy", "toy", "", (), "", "tf", "c3_relu", "c2")
    base = keras.Model(image, x, name="toy")
    flat = transfer_classifier(LoadedBackbone(spec, base, "random"), (16, 16, 3), 3, dropout=0.2)
    for layer in flat.layers:
        if layer.weights:
            source = nested.get_layer("backbone") if layer.name != "predictions" else nested
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return nested, flat


def test_transfer_classifier_holds_the_backbone_layers_at_top_level():
    _, flat = _nested_and_flat()
    assert flat.get_layer("c3_relu") is not None  # a backbone layer, reached directly
    assert not any(isinstance(layer, keras.Model) for layer in flat.layers)


X = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 3)).astype("float32")


def test_gradient_method_is_the_autodiff_gradient_of_the_class_score_on_a_nested_model():
    nested, _ = _nested_and_flat()
    classes = [0, 2, 1]
    got = gradient(nested, X, class_index=classes)
    xt = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        probs = nested(xt, training=False)
        score = tf.reduce_sum(probs * tf.one_hot(classes, 3), axis=1)
    want = tape.gradient(score, xt).numpy()
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got.signal / scale, want / scale, atol=1e-5)
    np.testing.assert_allclose(got.predictions, probs.numpy(), atol=1e-6)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gives_the_same_convention_on_nested_and_flat_models(method):
    nested, flat = _nested_and_flat()
    kwargs = {"layer_name": "c2_relu"} if method == "grad_cam" else {}
    a = METHODS[method](nested, X, class_index=1, **kwargs)
    b = METHODS[method](flat, X, class_index=1, **kwargs)
    assert a.heatmap.shape == (3, 16, 16) and a.heatmap.dtype == np.float32
    assert a.heatmap.min() >= 0 and np.allclose(a.heatmap.reshape(3, -1).max(axis=1), 1.0)
    np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-5)
    assert a.predictions.shape == (3, 3)
    if method == "grad_cam":
        assert a.signal is None
    else:
        assert a.signal.shape == X.shape
        scale = np.abs(b.signal).max()
        np.testing.assert_allclose(a.signal / scale, b.signal / scale, atol=1e-5)
        magnitude = np.abs(a.signal).max(axis=-1)
        np.testing.assert_allclose(
            a.heatmap, magnitude / magnitude.reshape(3, -1).max(axis=1)[:, None, None], atol=1e-6
        )


def test_the_three_backward_methods_differ_on_a_nested_model():
    nested, _ = _nested_and_flat()
    signals = {m: METHODS[m](nested, X, class_index=0).signal for m in ("gradient", "guided",
                                                                         "deconvnet")}
    assert not np.allclose(signals["gradient"], signals["guided"])
    assert not np.allclose(signals["guided"], signals["deconvnet"])


# ----------------------------------------------------------------- custom ReLU gradient


def _relu_layers() -> keras.Model:
    inp = keras.Input((3,))
    capped = keras.layers.ReLU(6.0, name="relu6")(inp)
    plain = keras.layers.Activation("relu", name="act")(inp)
    fused = keras.layers.Dense(3, activation="relu", use_bias=False, name="dense")(inp)
    model = keras.Model(inp, [capped, plain, fused])
    model.get_layer("dense").set_weights([np.eye(3, dtype="float32")])
    return model


def _relu_backward(model: keras.Model, x, signal) -> list[np.ndarray]:
    """The gradient reaching the input through each of the three ReLU layers."""
    out = []
    for k in range(3):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = model(xt, training=False)[k]
        out.append(tape.gradient(y, xt, output_gradients=tf.constant(signal)).numpy()[0])
    return out


def test_relu_rules_are_custom_gradients_of_every_kind_of_relu_and_are_undone():
    model = _relu_layers()
    x = np.array([[3.0, -2.0, 8.0]], "float32")  # on, off, above the cap of 6
    signal = np.array([[-1.0, 1.0, 1.0]], "float32")
    want = {  # plain: signal where on; deconvnet: relu(signal); guided: both
        "gradient": [[-1, 0, 0], [-1, 0, 1]],
        "deconvnet": [[0, 1, 1], [0, 1, 1]],
        "guided": [[0, 0, 0], [0, 0, 1]],
    }
    for rule, (capped, uncapped) in want.items():
        with relu_rule(model, rule):
            got = _relu_backward(model, x, signal)
        np.testing.assert_allclose(got[0], capped, err_msg=f"{rule}: ReLU(6) layer")
        np.testing.assert_allclose(got[1], uncapped, err_msg=f"{rule}: Activation('relu')")
        np.testing.assert_allclose(got[2], uncapped, err_msg=f"{rule}: fused activation")
    plain = _relu_backward(model, x, signal)  # the ordinary gradient is back
    np.testing.assert_allclose(plain[0], [-1, 0, 0])
    np.testing.assert_allclose(plain[2], [-1, 0, 1])
    assert "call" not in vars(model.get_layer("relu6"))
    assert model.get_layer("dense").activation is keras.activations.relu
    with pytest.raises(ValueError, match="rule must be one of"), relu_rule(model, "magic"):
        pass


# ------------------------------------------------------------------ one plotting function


def test_attribution_grid_draws_each_method_by_its_convention():
    _, flat = _nested_and_flat()
    shown = [gradient(flat, X[:2]), guided_backprop(flat, X[:2]), deconvnet(flat, X[:2]),
             grad_cam(flat, X[:2], "c3_relu")]
    fig = attribution_grid(X[:2], shown, titles=["first", "second"])
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 2 * 5
    assert [ax.get_title() for ax in axes[:5]] == ["first", "gradient", "guided", "deconvnet",
                                                   "grad-cam"]
    np.testing.assert_array_equal(axes[6].images[0].get_array(), signed_image(shown[0].signal[1]))
    cam_panel = np.asarray(axes[9].images[0].get_array())
    assert cam_panel.shape == (16, 16, 3) and cam_panel.dtype == np.uint8
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "Grad-CAM (0 … 1)"]
    assert len(bars) == 1, "the heatmap's colour scale is shown once"
    no_cam = attribution_grid(X[:2], shown[:3])
    assert not [ax for ax in no_cam.axes if ax.get_ylabel().startswith("Grad-CAM")]
    with pytest.raises(ValueError, match="cover the 3 images"):
        attribution_grid(X, shown)


def test_training_curves_put_ticks_on_whole_epochs():
    fig = plot_histories({"run": {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6],
                                  "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7]}})
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    one = plot_histories({"run": {"loss": [1.0], "val_loss": [1.1], "accuracy": [0.5],
                                  "val_accuracy": [0.4]}})  # a single epoch
    one.canvas.draw()
    assert [list(ax.get_xticks()) for ax in one.axes] == [[1], [1]]


def test_a_continued_run_is_drawn_after_its_parent():
    h = {"loss": [1.0, 0.8], "val_loss": [1.1, 0.9], "accuracy": [0.5, 0.6],
         "val_accuracy": [0.4, 0.5]}
    fig = plot_histories({"frozen": {k: v * 2 for k, v in h.items()}, "fine-tuned": h},
                         start={"fine-tuned": 5})
    lines = {ln.get_label(): ln for ln in fig.axes[1].get_lines()}
    assert list(lines["frozen"].get_xdata()) == [1, 2, 3, 4]
    assert list(lines["fine-tuned"].get_xdata()) == [5, 6]  # epochs 5 and 6, after the 4


def test_signed_image_puts_zero_at_grey():
    img = signed_image(np.array([[[-2.0], [0.0], [1.0]]]))
    assert img.dtype == np.uint8 and img[0, :, 0].tolist() == [1, 128, 191]


# ---------------------------------------------------------- external reference: tf-keras-vis


def _reference_model() -> keras.Model:
    keras.utils.set_random_seed(11)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(x))


def test_grad_cam_and_saliency_agree_with_tf_keras_vis():
    """tf-keras-vis (0.8.7, pinned in requirements.txt) runs with Keras 3 on plain functional
    models. Both implementations take TensorFlow's gradient of the same float32 graph; they
    differ only in the order of float32 reductions (tf-keras-vis sums the weighted maps in
    NumPy), a relative error of about 1e-6. On maps scaled to a maximum of 1, ``atol=1e-5``
    leaves that margin while any real difference (a missing ReLU, one weight for all
    channels, another class, the absolute value or channel maximum left out) moves values by
    more than 1e-2."""
    pytest.importorskip("tf_keras_vis", reason="tf-keras-vis not installed: make setup")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    model = _reference_model()
    classes = [2, 0, 1]
    theirs = Gradcam(model, clone=False)(CategoricalScore(classes), X, penultimate_layer="conv2",
                                         expand_cam=False, normalize_cam=False)
    theirs = np.asarray(theirs)  # a tensor when not resized to the input
    ours = grad_cam(model, X, "conv2", class_index=classes).heatmap
    top = theirs.reshape(3, -1).max(axis=1)[:, None, None]
    assert np.all(top > 0)
    np.testing.assert_allclose(ours, theirs / top, atol=1e-5)
    theirs = np.asarray(
        Saliency(model, clone=False)(CategoricalScore(classes), X, normalize_map=False)
    )
    ours = gradient(model, X, class_index=classes).heatmap
    np.testing.assert_allclose(ours, theirs / theirs.reshape(3, -1).max(axis=1)[:, None, None],
                               atol=1e-5)


def test_roughness_is_scale_free_and_the_table_orders_and_compares_methods():
    rng = np.random.default_rng(0)
    smooth = np.tile(np.linspace(0, 1, 16)[None, None, :, None], (30, 16, 1, 3))
    smooth = smooth * rng.uniform(1, 2, (30, 1, 1, 1))
    noisy = rng.normal(size=(30, 16, 16, 3))
    np.testing.assert_allclose(roughness(smooth * 7), roughness(smooth))
    # a linear ramp 0..1 over 16 columns: mean |step| 1/15 along x, 0 along y; mean value 1/2
    np.testing.assert_allclose(roughness(smooth), (1 / 15) / 2 / 0.5, rtol=1e-6)
    table = roughness_table({"noisy": noisy, "smooth": smooth, "same": smooth.copy()})
    assert table.index[-1] == "noisy" and set(table.index[:2]) == {"smooth", "same"}
    assert table.loc["noisy", "diff low"] > 0  # clearly rougher than the row above
    assert table.iloc[1]["diff low"] == table.iloc[1]["diff high"] == 0  # identical signals
    assert (table["low"] <= table["mean"]).all() and (table["mean"] <= table["high"]).all()


def test_deletion_test_reads_the_predicted_column_of_a_softmax_model():
    inp = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    out = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inp, out)  # bright images favour class 1
    model.layers[-1].set_weights([np.array([[-4.0, 4.0]], "float32"), np.zeros(2, "float32")])
    images = np.zeros((2, 8, 8, 1), "float32")
    images[0, :2] = 1.0  # a bright band on a dark image: class 0 or 1 by the band's weight
    images[1] = 1.0
    heat = images[..., 0] + 0.01  # hottest where bright
    table = deletion_test(model, images, heat, share=0.25, seed=1)
    expected = model.predict(images, verbose=0)
    assert list(table["class"]) == list(expected.argmax(axis=1))
    assert np.allclose(table["p"], expected.max(axis=1), atol=1e-6)
