"""The recipes: builders, the ROI crop, the loss, test-time augmentation, ablations, training."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.datasets.base import ArraySplit
from helpers.recipes import Recipe, SmoothedSparseCrossentropy, evaluate, predict, train
from helpers.recipes.ahe import AHE_MOBILENET, AHE_SCRATCH
from helpers.recipes.base import OVERRUN
from helpers.recipes.cats_dogs import CATS_PROBE, CATS_SCRATCH
from helpers.recipes.cifar10 import CIFAR
from helpers.recipes.gtsrb import GTSRB, GTSRB_COLOUR, crop_to_roi, roi_box
from helpers.recipes.probe import IMAGENET_CATS, IMAGENET_DOGS, ProbeFeatures, _log_ratio, fit_probe
from helpers.training import parameter_note


@pytest.mark.parametrize(
    ("recipe", "out"),
    [(GTSRB, 43), (GTSRB_COLOUR, 43), (CIFAR, 10), (AHE_SCRATCH, 10), (CATS_SCRATCH, 1),
     (AHE_MOBILENET.replace(allow_random_weights=True), 10)],
    ids=lambda v: getattr(v, "key", str(v)),
)
def test_builders_take_the_recipes_input_and_give_one_output_per_class(recipe, out):
    model = recipe.build(recipe)
    assert tuple(model.input_shape) == (None, *recipe.image_size, recipe.channels)
    assert tuple(model.output_shape) == (None, out)
    x = np.full((2, *recipe.image_size, recipe.channels), 128.0, "float32")
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    if out > 1:
        assert np.allclose(p.sum(-1), 1.0, atol=1e-5)


def test_roi_box_maps_original_pixels_to_the_stored_image():
    # a 64×32 (w×h) photo stored as 32×32: x is halved, y kept
    assert roi_box(np.array([64, 32]), np.array([16, 8, 47, 23]), (32, 32), margin=0.0) == (
        8, 8, 24, 24)
    # a 10 % margin of the 32×16 box widens it by 3.2 / 1.6 original pixels each side
    assert roi_box(np.array([64, 32]), np.array([16, 8, 47, 23]), (32, 32), margin=0.1) == (
        6, 6, 26, 26)
    # a box outside the image is clipped; a degenerate one gives the whole image
    assert roi_box(np.array([32, 32]), np.array([0, 0, 40, 40]), (32, 32), 0.0) == (0, 0, 32, 32)
    assert roi_box(np.array([32, 32]), np.array([5, 5, 5, 5]), (32, 32), 0.0) == (0, 0, 32, 32)


def test_crop_to_roi_fills_the_image_with_the_sign():
    x = np.zeros((1, 32, 32, 3), np.uint8)
    x[0, 8:24, 8:24] = 200  # the "sign" sits in the ROI
    split = ArraySplit(x, np.array([3]), {"sizes": np.array([[32, 32]]),
                                         "coords": np.array([[8, 8, 23, 23]])})
    out = crop_to_roi(split, margin=0.0)
    assert out.x.shape == x.shape and np.all(out.x == 200)
    assert np.array_equal(out.y, split.y) and np.all(split.x[0, 0] == 0)  # input untouched
    no_meta = ArraySplit(x, np.array([3]))
    assert crop_to_roi(no_meta) is no_meta


def test_smoothed_loss_matches_the_formula():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    y = np.array([0, 2])
    eps = 0.3
    target = np.full((2, 3), eps / 3)
    target[np.arange(2), y] += 1 - eps
    expected = -(target * np.log(probs)).sum(1).mean()
    got = float(SmoothedSparseCrossentropy(eps)(y, probs))
    assert got == pytest.approx(expected, rel=1e-5)
    assert float(SmoothedSparseCrossentropy(0.0)(y, probs)) == pytest.approx(
        -np.log([0.7, 0.8]).mean(), rel=1e-5)
    # one sigmoid unit: smoothed binary targets 0.05 / 0.95 for eps 0.1
    p = np.array([[0.9], [0.2]], "float32")
    yb = np.array([1, 0])
    t = np.array([0.95, 0.05])
    expected_b = -(t * np.log(p[:, 0]) + (1 - t) * np.log(1 - p[:, 0])).mean()
    assert float(SmoothedSparseCrossentropy(0.1)(yb, p)) == pytest.approx(expected_b, rel=1e-4)
    with pytest.raises(ValueError, match="smoothing"):
        SmoothedSparseCrossentropy(1.0)


def _asymmetric_model() -> keras.Model:
    """Scores depend on where the bright pixels are, so a mirror image scores differently."""
    inp = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255.0)(inp))
    out = keras.layers.Dense(3, activation="softmax", kernel_initializer=keras.initializers.
                             RandomNormal(stddev=2.0, seed=1))(flat)
    return keras.Model(inp, out)


def test_flip_tta_is_the_mean_over_the_image_and_its_mirror():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 4, 4, 1)).astype(np.uint8)
    split = ArraySplit(x, np.arange(5) % 3)
    recipe = Recipe("t/tta", "t", 3, (4, 4), build=lambda r: _asymmetric_model(), channels=1,
                    tta=("flip",))
    model = _asymmetric_model()
    xf = x.astype("float32")
    manual = 0.5 * (model(xf).numpy() + model(xf[:, :, ::-1]).numpy())
    assert np.allclose(predict(recipe, model, split), manual, atol=1e-6)
    plain = predict(recipe.replace(tta=()), model, split)
    assert np.allclose(plain, model(xf).numpy(), atol=1e-6)
    assert not np.allclose(plain, manual, atol=1e-3)  # the mirror really changes the scores
    ev = evaluate(recipe, model, split, ["a", "b", "c"])
    assert np.array_equal(ev.y_pred, manual.argmax(1))


def test_ablations_remove_exactly_one_ingredient():
    no_roi = GTSRB.without("ROI crop")
    assert no_roi.prepare is None and GTSRB.prepare is not None
    assert no_roi.map_fn is GTSRB.map_fn and no_roi.label_smoothing == GTSRB.label_smoothing
    assert no_roi.key == "gtsrb/cnn-no-ROI crop" and not no_roi.ingredients
    no_clahe = GTSRB.without("grayscale + CLAHE")
    assert no_clahe.map_fn is None and no_clahe.channels == 3
    assert CIFAR.without("flip TTA").tta == () and CIFAR.tta == ("flip",)
    assert CATS_PROBE.without("log-ratio feature").log_ratio is None
    with pytest.raises(KeyError, match="ingredient"):
        GTSRB.without("magic")


def test_log_ratio_feature_compares_the_two_class_groups():
    probs = np.zeros((2, 1000))
    probs[0, IMAGENET_DOGS[0]] = 0.9  # a dog breed
    probs[0, IMAGENET_CATS[0]] = 0.1
    probs[1, IMAGENET_CATS[-1]] = 0.8  # Egyptian cat
    probs[1, IMAGENET_DOGS[-1]] = 0.2
    r = _log_ratio(probs, (IMAGENET_DOGS, IMAGENET_CATS))[:, 0]
    assert r[0] == pytest.approx(np.log(9), rel=1e-4) and r[1] == pytest.approx(np.log(0.25),
                                                                                 rel=1e-4)


def test_gtsrb_pipeline_gives_one_equalised_channel():
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 60, (6, 32, 32, 3))).astype(np.uint8)  # dark photos
    split = ArraySplit(x, np.arange(6) % 2, {"sizes": np.full((6, 2), 32),
                                             "coords": np.tile([[4, 4, 27, 27]], (6, 1))})
    batch, _ = next(iter(GTSRB.pipeline(split, training=False)))
    assert batch.shape == (6, 32, 32, 1)
    assert float(tf.reduce_max(batch)) > 100  # CLAHE stretched the dark range


def test_a_recipe_trains_a_few_steps_and_anneals():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3)).astype(np.uint8)
    y = np.arange(64) % 10
    split = ArraySplit(x, y)
    recipe = CIFAR.replace(batch_size=16)
    t = train(recipe, split, None, seed=0, budget_s=60, max_epochs=2, verbose=0)
    assert t.fit.epochs == 2 and np.all(np.isfinite(t.fit.history["loss"]))
    lr = float(keras.ops.convert_to_numpy(t.model.optimizer.learning_rate))
    assert 0 < lr <= recipe.peak_lr  # warm-up reached the peak, the cosine started to decay
    p = predict(recipe, t.model, split)
    assert p.shape == (64, 10) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_a_recipe_with_fixed_epochs_trains_them_and_repeats_exactly():
    """No budget given: the recipe's epochs, scheduled by steps, annealed to zero, and two
    seeded runs give the same weights; an explicit budget trains by the clock instead."""
    rng = np.random.default_rng(1)
    split = ArraySplit(rng.integers(0, 256, (48, 32, 32, 3)).astype(np.uint8), np.arange(48) % 10)
    recipe = CIFAR.replace(batch_size=16, epochs=3)
    runs = [train(recipe, split, None, seed=3, verbose=0) for _ in range(2)]
    assert [t.fit.epochs for t in runs] == [3, 3] and runs[0].budget.epochs == 3
    assert runs[0].budget.budget_s == pytest.approx(OVERRUN * recipe.budget_s)
    lr = float(keras.ops.convert_to_numpy(runs[0].model.optimizer.learning_rate))
    assert lr == pytest.approx(0.0, abs=1e-9)  # the cosine ended at the last step
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert train(recipe, split, None, seed=3, epochs=1, verbose=0).fit.epochs == 1
    by_clock = train(recipe, split, None, seed=3, budget_s=60, max_epochs=1, verbose=0)
    assert by_clock.budget.epochs is None and by_clock.budget.budget_s == 60
    assert recipe.length_text().startswith("3 epochs (as many as its 15-minute budget")
    assert recipe.length_text(20) == "a 20-second budget, annealed by the clock"
    assert recipe.replace(epochs=None).length_text() == "a 15-minute budget, annealed by the clock"


def test_parameter_note_separates_the_models_parameters_from_adams_state():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    assert parameter_note(model).endswith("counts the optimizer's 0 state values)")
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    own, state = (int(n.replace(",", "")) for n in re.findall(r"[\d,]*\d", parameter_note(model)))
    assert own == 4 * 3 + 4 + 4 * 2 + 2 == model.count_params()
    assert 2 * own <= state <= 2 * own + 4  # Adam's two moments per weight, plus its counters


def _fake_features(n_per_split: int = 60, seed: int = 0) -> tuple[ProbeFeatures, list]:
    """Pooled features that are pure noise and ImageNet probabilities that know the label
    (dog mass high for dogs) only in the mirror images' outputs."""
    rng = np.random.default_rng(seed)
    plain, mirrored, splits = [], [], []
    for _ in range(3):
        y = np.arange(n_per_split) % 2
        pooled = rng.normal(size=(n_per_split, 8))
        probs = np.full((n_per_split, 1000), 1e-4)
        flat = probs.copy()
        probs[y == 1, IMAGENET_DOGS[0]] = 0.9  # the mirror pass sees the animal
        probs[y == 0, IMAGENET_CATS[0]] = 0.9
        plain.append(np.concatenate([pooled, flat], 1))
        mirrored.append(np.concatenate([pooled, 2 * probs - flat], 1))  # mean = probs
        splits.append(ArraySplit(np.zeros((n_per_split, 2, 2, 3), np.uint8), y))
    return ProbeFeatures(plain, mirrored, True, 0.0, "fake"), splits


def test_probe_uses_its_ingredients_and_reuses_features():
    feats, (tr, va, te) = _fake_features()
    res = fit_probe(CATS_PROBE, tr, va, te, features=feats)
    assert res.features is feats and res.facts["log_ratio_feature"]
    assert (res.probs.argmax(1) == te.y).mean() == 1.0  # the log ratio separates them
    for ingredient in ("log-ratio feature", "mirror"):  # pooled noise or un-mirrored outputs
        ablated = fit_probe(CATS_PROBE.without(ingredient), tr, va, te, features=feats)
        assert (ablated.probs.argmax(1) == te.y).mean() < 0.8
    assert set(res.facts["cv_accuracy_by_C"]) == {str(c) for c in CATS_PROBE.Cs}


TRAINED_RECIPES = [GTSRB, GTSRB_COLOUR, CIFAR, AHE_SCRATCH, CATS_SCRATCH,
                   AHE_MOBILENET.replace(allow_random_weights=True)]


@pytest.mark.parametrize(
    ("recipe", "ingredient"),
    [(r, name) for r in TRAINED_RECIPES for name in r.ingredients],
    ids=lambda v: getattr(v, "key", str(v)),
)
def test_every_ablation_builds_and_takes_its_own_pipeline(recipe, ingredient):
    """The benchmark trains each ablated recipe only in full mode: check here that each one is
    a working recipe (its pipeline's training batches fit its model, its outputs are classes)."""
    ablated = recipe.without(ingredient)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, *recipe.image_size, 3)).astype(np.uint8)
    meta = {"sizes": np.tile([*recipe.image_size], (4, 1)),
            "coords": np.tile([2, 2, recipe.image_size[1] - 3, recipe.image_size[0] - 3], (4, 1))}
    split = ArraySplit(x, np.arange(4) % recipe.num_classes, meta)
    batch, labels = next(iter(ablated.pipeline(split, training=True, seed=0)))
    assert batch.shape[1:] == (*ablated.image_size, ablated.channels) and labels.shape == (4,)
    model = ablated.build(ablated)
    p = keras.ops.convert_to_numpy(model(batch, training=True))
    assert p.shape == (4, *recipe.build(recipe).output_shape[1:]) and np.all(np.isfinite(p))


def test_mobilenet_ablation_trains_batch_norm_and_the_recipe_does_not():
    """The frozen-batch-norm ingredient: the recipe's model keeps every batch norm layer frozen
    (inference mode, ImageNet statistics), its ablation trains them like the other layers."""
    recipe = AHE_MOBILENET.replace(allow_random_weights=True, image_size=(32, 32))

    def bn_trainable(model: keras.Model) -> set[bool]:
        return {layer.trainable for layer in model.layers
                if isinstance(layer, keras.layers.BatchNormalization)}

    assert bn_trainable(recipe.build(recipe)) == {False}
    ablated = recipe.without("frozen batch norm")
    assert bn_trainable(ablated.build(ablated)) == {True}
    assert recipe.without("96 px upsampling").image_size == (64, 64)
