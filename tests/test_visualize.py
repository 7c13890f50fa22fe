"""Layer lookup, feature models, activations, filter patterns and overlays on small known models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.attribution import grad_cam
from helpers.backbones import BackboneSpec, LoadedBackbone, transfer_classifier
from helpers.model_layers import (
    LayerNotFoundError,
    LayerTap,
    feature_model,
    find_layer,
    layer_outputs,
)
from helpers.models import plain_convnet
from helpers.plots import image_grid, overlay, plot_activations
from helpers.visualize import filter_patterns, sparsity


def _independent_filter_means(model, layer, images) -> np.ndarray:
    """Mean activation of every filter of ``layer`` for each image: (images, filters)."""
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return sub(np.asarray(images, "float32"), training=False).numpy().mean(axis=(1, 2))


def test_filter_pattern_raises_the_chosen_filter():
    keras.utils.set_random_seed(1)
    model = plain_convnet((32, 32, 3), 10, filters=(8, 16), name="tiny")
    images, curve = filter_patterns(model, "block2_conv1_conv", [0, 3, 7], steps=15)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert curve.shape == (2, 3)
    assert np.all(curve[-1] > curve[0] + 1e-3)


def test_filter_patterns_rescored_independently_excite_their_own_filter():
    """Filters that detect different colours: each returned image excites its own filter."""
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(3, 3, padding="same", name="colour")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    k = np.full((3, 3, 3, 3), 0.0, "float32")
    for c in range(3):
        k[1, 1, :, c] = -0.5
        k[1, 1, c, c] = 1.0  # filter c: colour c minus the other two
    model.get_layer("colour").set_weights([k, np.zeros(3, "float32")])
    chosen = [2, 0, 1]
    images, curve = filter_patterns(model, "colour", chosen, steps=10, jitter=0)
    assert np.all(curve[-1] > curve[0] + 0.1)
    means = _independent_filter_means(model, "colour", images)[:, chosen]  # (image, filter)
    own = np.diag(means)
    others = np.array([np.delete(means[:, j], j).max() for j in range(3)])
    assert np.all(own > others + 0.2), means
    assert [int(im.reshape(-1, 3).mean(0).argmax()) for im in images] == chosen


def test_filter_pattern_rejects_bad_filter_index():
    model = plain_convnet((32, 32, 3), 10, filters=(8,), name="tiny")
    with pytest.raises(ValueError, match="has 8 filters"):
        filter_patterns(model, "block1_conv1_conv", [8])


def test_unknown_layer_lists_valid_names():
    model = plain_convnet((32, 32, 3), 10, filters=(8,), name="tiny")
    with pytest.raises(LayerNotFoundError) as err:
        feature_model(model, "block9_conv1")
    assert "block1_conv1_conv" in str(err.value) and "block9_conv1" in str(err.value)
    with pytest.raises(LayerNotFoundError):
        grad_cam(model, np.zeros((1, 32, 32, 3)), "nope")


def _toy_backbone(name: str = "backbone") -> keras.Model:
    inner_in = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="inner_conv")(inner_in)
    y = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="inner_last")(y)
    return keras.Model(inner_in, y, name=name)


def test_transfer_classifier_layers_are_reached_directly():
    spec = BackboneSpec("toy", "toy", "", (), "", "tf", "inner_last", "inner_conv")
    model = transfer_classifier(LoadedBackbone(spec, _toy_backbone(), "random"), (16, 16, 3), 3,
                                dropout=0.2)
    chain, layer = find_layer(model, "inner_conv")
    assert chain == [model] and layer.name == "inner_conv"
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    outs = layer_outputs(model, x, ["inner_conv", "inner_last", "predictions"])
    assert outs["inner_conv"].shape == (2, 16, 16, 4)
    assert outs["inner_last"].shape == (2, 16, 16, 6)
    np.testing.assert_allclose(outs["predictions"], model.predict(x, verbose=0), atol=1e-5)
    cams = grad_cam(model, x, "inner_last")
    assert cams.heatmap.shape == (2, 16, 16) and cams.predictions.shape == (2, 3)


def test_nested_layers_by_plain_name_and_path_through_a_layer_tap():
    inp = keras.Input((16, 16, 3))
    base = _toy_backbone()
    out = keras.layers.Dense(3, name="predictions")(
        keras.layers.GlobalAveragePooling2D()(base(inp)))
    model = keras.Model(inp, out, name="outer")
    chain, layer = find_layer(model, "inner_conv")
    assert [m.name for m in chain] == ["outer", "backbone"] and layer.name == "inner_conv"
    assert isinstance(feature_model(model, "backbone/inner_last"), LayerTap)
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    outs = layer_outputs(model, x, ["backbone/inner_conv", "inner_last", "predictions"])
    inner = keras.Model(base.inputs[0], base.get_layer("inner_conv").output)
    np.testing.assert_allclose(outs["backbone/inner_conv"], inner(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(outs["inner_last"], base(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(outs["predictions"], model.predict(x, verbose=0), rtol=1e-5)
    assert "call" not in vars(base.get_layer("inner_conv"))  # the tap is undone


def test_activation_plot_and_sparsity():
    model = plain_convnet((32, 32, 3), 2, filters=(8, 16), name="tiny")
    acts = layer_outputs(
        model, np.full((1, 32, 32, 3), 100.0), ["block1_conv1_relu", "block2_conv1_relu"]
    )
    fig = plot_activations(acts, channels=8, ncols=4)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("ch ")]
    assert [ax.get_title() for ax in panels] == [f"ch {c}" for c in range(8)] * 2
    for layer in (panels[:8], panels[8:]):  # one colour scale per layer
        assert len({ax.images[0].get_clim() for ax in layer}) == 1
    assert len(fig.axes) == 16 + 2  # and one colour bar per layer
    s = sparsity(acts)
    assert set(s) == set(acts) and all(0.0 <= v <= 1.0 for v in s.values())


def test_sparsity_counts_channels_dead_everywhere():
    act = np.ones((1, 4, 4, 5), "float32")
    act[..., 0] = 0.0  # dead
    act[..., 1] = -2.0  # dead (pre-activation below zero)
    act[..., 2] = 0.0
    act[0, 3, 3, 2] = 0.5  # alive at one position only
    act[..., 4] = -1.0  # dead
    s = sparsity({"four_d": act, "three_d": act[0, ..., :2], "alive": np.ones((2, 2, 3))})
    assert s == {"four_d": 3 / 5, "three_d": 1.0, "alive": 0.0}


def test_overlay_blends_the_jet_colour_of_the_resized_heatmap():
    import matplotlib.pyplot as plt

    jet = plt.get_cmap("jet")
    heat = np.array([[1.0, 0.0], [1.0, 0.0]])  # hot left column, cold right column
    out = overlay(np.zeros((8, 8, 3)), heat, alpha=0.5)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[0, 0], 0.5 * 255 * np.array(jet(1.0)[:3]), atol=1)
    np.testing.assert_allclose(out[7, 7], 0.5 * 255 * np.array(jet(0.0)[:3]), atol=1)
    # an image in 0..1 is scaled to 0..255 and keeps (1 - alpha) of itself
    grey = overlay(np.full((4, 4, 3), 0.5), np.zeros((4, 4)), alpha=0.25)
    np.testing.assert_allclose(grey[1, 1], 0.75 * 127.5 + 0.25 * 255 * np.array(jet(0.0)[:3]),
                               atol=1)
    gray_in = overlay(np.full((4, 4, 1), 200.0), np.zeros((4, 4)), alpha=0.0)
    assert gray_in.shape == (4, 4, 3) and (gray_in == 200).all()


def test_overlay_rings_the_heatmap_peak_where_asked_and_nowhere_else():
    heat = np.zeros((60, 80))
    heat[45, 10] = 1.0  # the peak low on the left, where a dark image would hide dark red
    image = np.zeros((60, 80, 3))
    plain, ringed = overlay(image, heat), overlay(image, heat, mark_peak=True)
    changed = np.argwhere((plain != ringed).any(axis=-1))
    assert len(changed) > 0
    # the ring is centred on the peak: every changed pixel lies within its radius (+ the
    # outline), and it holds white
    dist = np.hypot(changed[:, 0] - 45, changed[:, 1] - 10)
    radius = round(0.06 * 60)
    assert dist.max() <= radius + 4 and dist.min() >= radius - 3
    assert (ringed.min(axis=-1) > 200).any()  # near-white pixels on a black image
    # an empty map has no peak to mark
    assert (overlay(image, np.zeros((60, 80)), mark_peak=True) == overlay(image, heat * 0)).all()


def test_peak_places_name_the_ninth_of_the_image_that_holds_the_maximum():
    from helpers.visualize import peak_places

    maps = np.zeros((5, 9, 12))
    maps[0, 0, 0] = 1.0  # top left
    maps[1, 4, 6] = 1.0  # centre
    maps[2, 8, 5] = 1.0  # bottom, middle column
    maps[3, 3, 11] = 0.5  # middle row, right
    assert peak_places(maps) == ["top left", "centre", "bottom", "right",
                                 "nowhere (empty map)"]
    with pytest.raises(ValueError, match="should be"):
        peak_places(np.zeros((9, 12)))


def test_peaks_on_edge_counts_maxima_near_the_border_only():
    from helpers.visualize import peaks_on_edge

    maps = np.zeros((5, 40, 40))
    maps[0, 0, 20] = 1.0  # top row: on the edge
    maps[1, 20, 39] = 1.0  # right column: on the edge
    maps[2, 20, 20] = 1.0  # centre
    maps[3, 3, 20] = 1.0  # 3 px in: beyond 5 % of 40 (2 px)
    assert peaks_on_edge(maps) == 2  # the empty map does not count
    assert peaks_on_edge(maps, margin=0.1) == 3
    with pytest.raises(ValueError, match="should be"):
        peaks_on_edge(np.zeros((9, 12)))


def test_heat_stats_centre_share_and_concentration():
    from helpers.visualize import heat_stats

    uniform = np.ones((16, 16))
    spot = np.zeros((16, 16))
    spot[7:9, 7:9] = 1.0
    edge = np.zeros((16, 16))
    edge[0, :] = 1.0
    out = heat_stats(np.stack([uniform, spot, edge, np.zeros((16, 16))]))
    assert out["centre share"].iloc[:3].round(6).tolist() == [0.25, 1.0, 0.0]
    assert out["half-heat area"].iloc[0] == pytest.approx(0.5, abs=1 / 256)
    assert out["half-heat area"].iloc[1] == pytest.approx(2 / 256)
    assert out.iloc[3].isna().all()


def test_pattern_stats_separates_flat_colour_stripes_and_noise():
    from helpers.visualize import pattern_stats

    rng = np.random.default_rng(0)
    flat = np.zeros((32, 32, 3))
    flat[..., 0] = 255
    stripes = np.broadcast_to((np.arange(32) < 16)[None, :, None] * 255.0, (32, 32, 3))
    noise = rng.integers(0, 256, (32, 32, 3))
    out = pattern_stats(np.stack([flat, stripes, noise]))
    assert out["spatial std"].iloc[0] == 0 and np.isnan(out["high-frequency share"].iloc[0])
    assert out["chroma"].iloc[0] == pytest.approx(1.0) and out["chroma"].iloc[1] == 0
    assert out["high-frequency share"].iloc[1] < 0.05
    assert out["high-frequency share"].iloc[2] == pytest.approx(0.75, abs=0.08)


def test_activation_stats_detects_maps_that_copy_the_image():
    from helpers.stats import luma
    from helpers.visualize import activation_stats

    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (3, 8, 8, 3)).astype("float32")
    bright = luma(images).reshape(3, 4, 2, 4, 2).mean(axis=(2, 4))
    bright -= bright.mean(axis=(1, 2), keepdims=True)  # positive and negative values
    copy = np.stack([bright, -bright, np.zeros((3, 4, 4))], axis=-1)  # map, negative, silent
    out = activation_stats({"copy": copy, "noise": rng.normal(size=(3, 2, 2, 5))}, images)
    assert out.loc["copy", "silent channels"] == pytest.approx(1 / 3)
    assert out.loc["copy", "channels"] == 3 and out.loc["copy", "map size"] == "4×4"
    assert out.loc["copy", "median |r| with brightness"] == pytest.approx(1.0)
    assert out.loc["noise", "median |r| with brightness"] < 0.9
    assert out.loc["copy", "dead channels"] == pytest.approx(1 / 3)  # the zero channel, always
    assert out.loc["noise", "dead channels"] == 0.0
    # against another image's brightness the copied maps lose their match
    assert out.loc["copy", "median |r|, another image"] < 0.9
    assert np.isnan(out.loc["noise", "border / interior"])  # a 2×2 map has no interior
    with pytest.raises(ValueError, match="does not divide"):
        activation_stats({"odd": np.ones((3, 3, 3, 2))}, images)
    # a map lit only on its outer ring against one lit evenly
    rim = np.ones((3, 4, 4, 2))
    rim[:, 1:-1, 1:-1] = 0.5
    out = activation_stats({"rim": rim, "flat": np.ones((3, 4, 4, 2))}, images)
    assert out.loc["rim", "border / interior"] == pytest.approx(2.0)
    assert out.loc["flat", "border / interior"] == pytest.approx(1.0)


def test_edge_following_tells_edge_maps_from_brightness_maps():
    from helpers.visualize import _block_mean, edge_following, edge_strength

    rng = np.random.default_rng(2)
    images = np.zeros((4, 8, 8, 3), "float32")
    for k in range(4):  # a bright square on a dark ground, in a different place each time
        y, x = rng.integers(1, 4, size=2)
        images[k, y:y + 4, x:x + 4] = 200.0
    edges = edge_strength(images)
    assert edges.shape == (4, 8, 8) and edges.min() >= 0
    assert edges[0].max() > 0 and np.all(edges[:, 0, 0] == 0)  # flat corner: no edge
    grey = images[..., 0]
    maps = np.stack([_block_mean(edges, 8, 8), grey], axis=-1)  # an edge map, a brightness map
    out = edge_following({"maps": maps}, images)
    assert out.loc["maps", "maps closer to edges than to brightness"] == pytest.approx(0.5)
    only_edges = edge_following({"e": maps[..., :1]}, images)
    assert only_edges.loc["e", "median |r| with edges"] == pytest.approx(1.0)
    assert only_edges.loc["e", "maps closer to edges than to brightness"] == 1.0
    assert only_edges.loc["e", "median |r| with edges, another image"] < 0.9


def test_image_grid_shortens_long_titles_or_wraps_them_in_full():
    import matplotlib.pyplot as plt

    name = "Right-of-way at the next intersection"
    imgs = np.zeros((2, 8, 8, 3), np.uint8)
    short = image_grid(imgs, [name, "x"], size=1.0)
    assert short.axes[0].get_title().endswith("…")
    wrapped = image_grid(imgs, [name, "x"], size=1.0, wrap=True)
    title = wrapped.axes[0].get_title()
    assert "…" not in title and title.replace("\n", " ") == name and title.count("\n") >= 1
    plt.close("all")


def test_trend_word_names_the_direction_beyond_a_tolerance():
    from helpers.visualize import trend_word

    assert trend_word(0.50, 0.30) == "falls" and trend_word(0.3, 0.5) == "rises"
    assert trend_word(0.50, 0.51) == "stays about the same"
    assert trend_word(0.50, 0.45, tol=0.1) == "stays about the same"


def test_class_histogram_labels_its_axis_and_no_class_name_overlaps_another():
    import matplotlib.pyplot as plt
    from scipy.ndimage import binary_dilation

    from helpers.plots import class_histogram

    names = ["altar", "apse", "bell_tower", "column", "dome(inner)", "dome(outer)",
             "flying_buttress", "gargoyle", "stained_glass", "vault"]  # AHE's, which overlapped
    fig = class_histogram({"train": list(range(10, 20)), "test": [5] * 10}, names, "ahe")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "class" and ax.get_ylabel() == "images"
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == names

    def pixels() -> np.ndarray:
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()

    # the pixels each label inks, alone (rotated text's bounding boxes overlap even when the
    # text does not, so compare what is drawn)
    for t in [*labels, ax.xaxis.label]:  # the axis label moves with the labels' extent
        t.set_visible(False)
    blank, inked = pixels(), []
    for t in labels:
        t.set_visible(True)
        inked.append((pixels() != blank).any(axis=-1))
        t.set_visible(False)
    assert all(m.sum() > 20 for m in inked)  # each label was drawn
    # and at least 3 pixels from its neighbour's ink, so two names never read as one
    near = [binary_dilation(m, iterations=3) for m in inked]
    assert not any((a & b).any() for a, b in zip(near, inked[1:], strict=False))
    plt.close("all")
