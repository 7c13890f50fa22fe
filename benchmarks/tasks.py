"""The benchmark's tasks: budgets, targets and result rows around the recipes in
:mod:`helpers.recipes` (the models themselves are defined there and nowhere else).

A headline row trains its recipe for the recipe's fixed number of epochs (the count its
wall-clock budget held when it was first measured here), with a warm-up + cosine schedule by
steps (:class:`helpers.training.TimeBudget`), exactly as the graded notebooks train it; a recipe
without fixed epochs, an ablation and a quick run train under a wall-clock budget instead: the
number of epochs is whatever fits, and the learning rate anneals to zero by the deadline.
Model choices never look at a test set: validation splits are held out of the training data,
and each test set is used once per model, at the end.

**Two parts.** The headline rows (each recipe under its full budget, committees, anchors,
best-of-suite rows, the input-pipeline check) are ``make bench``; the ablations are
``make bench-ablations`` (``--part``), so each fits a two-hour run on two cores.

**Ablations.** For every ingredient a recipe declares, the recipe is trained again without it,
under a shorter budget (``ablation_fraction`` × the recipe's budget), next to the full recipe
trained under that same shorter budget (the ``reference`` row), so each difference compares
like with like. Ingredients that only change test-time augmentation are measured on the
reference model; the probe's ingredients by refitting it on the same backbone outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import keras
import numpy as np

from helpers.datasets import load
from helpers.datasets.base import Dataset, stratified_holdout
from helpers.evaluation import Evaluation
from helpers.pipeline import make_augmentation, take_images, to_tf_dataset
from helpers.recipes import Recipe, Trained, evaluate, train
from helpers.recipes.ahe import AHE_MOBILENET, AHE_SCRATCH
from helpers.recipes.cats_dogs import CATS_PROBE, CATS_SCRATCH
from helpers.recipes.cifar10 import CIFAR
from helpers.recipes.gtsrb import GTSRB, GTSRB_COLOUR
from helpers.recipes.probe import (
    ProbeFeatures,
    ProbeRecipe,
    ProbeResult,
    fit_probe,
    probe_features,
)
from helpers.training import EpochTimer, TimeBudget, count_flops, fit, images_per_second

from .core import Bench, Target

RecipeT = TypeVar("RecipeT", Recipe, ProbeRecipe)

TARGETS = {
    "gtsrb/cnn": Target("≥ 99.5 % in ≤ 15 min", 0.995, 15 * 60),
    "gtsrb/best": Target("≥ 99.7 % (best of suite)", 0.997),
    "cifar10/airbench": Target("≥ 85 % in ≤ 15 min", 0.85, 15 * 60),
    "ahe/scratch": Target("≥ 92 % in ≤ 20 min", 0.92, 20 * 60),
    "ahe/best": Target("≥ 96 % (best of suite)", 0.96),
    "cats_dogs/pretrained": Target("≥ 99.0 %", 0.99),
    "cats_dogs/scratch": Target("≥ 90 %", 0.90),
}
PIPELINE_TARGET = 0.95


def _data_line(ds: Dataset, quick: bool, official: int | None = None, **splits: int) -> str:
    """Split sizes and whether they are the whole official dataset, a subset or a stand-in."""
    sizes = ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in splits.items())
    total = sum(splits.values())
    if ds.synthetic:
        scope = "synthetic stand-in"
    elif quick:
        scope = "real, subset"
    elif official and total < official:
        scope = "real, " + f"{total:,} of the official {official:,} images".replace(",", " ")
    else:
        scope = "real"
    return f"{sizes} ({scope})"


def _quick(b: Bench, recipe: RecipeT) -> RecipeT:
    """Quick mode may use random backbone weights (labelled); full mode never does."""
    return recipe.replace(allow_random_weights=b.quick) if b.quick else recipe


def _target_cells(key: str, accuracy: float, seconds: float | None) -> dict:
    target = TARGETS.get(key)
    return {"target": target.text if target else "",
            "target_met": target.met(accuracy, seconds) if target else None}


def run_recipe(b: Bench, recipe: Recipe, ds: Dataset, splits: tuple, *, data: str,
               budget_s: float | None = None, row_key: str | None = None,
               title: str | None = None, **extra) -> tuple[Trained, Evaluation]:
    """Train a recipe (its fixed epochs, or under ``budget_s``), evaluate it once on the test
    split, record a row."""
    b.reseed()
    recipe = _quick(b, recipe)
    tr, va, te = splits
    budget = b.pick(20, budget_s)
    t = train(recipe, tr, va, seed=b.seed, budget_s=budget, max_epochs=b.pick(2, 200))
    budget = budget or recipe.budget_s
    ev = evaluate(recipe, t.model, te, ds.class_names)
    key = row_key or recipe.key
    b.add(
        key, dataset=DATASET_TITLES[recipe.key.split("/")[0]], model=title or recipe.title,
        data=data, test_accuracy=ev.accuracy, macro_f1=ev.macro()["f1"],
        train_seconds=t.fit.seconds, epochs=t.fit.epochs, budget_seconds=budget,
        schedule="by steps" if t.budget.epochs else "by the clock",
        images_per_second=images_per_second(t.fit, len(tr)),
        final_val_accuracy=t.fit.history.get("val_accuracy", [None])[-1],
        stopped_by_budget=t.budget.stopped_by_budget, params=t.model.count_params(),
        mflops_per_image=count_flops(t.model) / 1e6, tta=list(recipe.tta),
        weights=getattr(t.model, "weights_source", "none (trained from scratch)"),
        **{**_target_cells(key, ev.accuracy, t.fit.seconds), **extra},
    )
    return t, ev


QUICK_ABLATION = "cifar10/airbench"  # the one recipe whose ablation runs in quick mode


def ablate(b: Bench, recipe: Recipe, ds: Dataset, splits: tuple, *, data: str,
           fraction: float | None = None) -> None:
    """The reference (the full recipe under the shorter budget), then one row per ingredient:
    test-time ingredients evaluated on the reference model, trained ones retrained without
    the ingredient under the same budget (see the module docstring)."""
    fraction = b.ablation_fraction if fraction is None else fraction
    trained = [n for n, c in recipe.ingredients.items() if not set(c) <= {"tta"}]
    test_time = [n for n in recipe.ingredients if n not in trained]
    # quick mode proves the plumbing once (one dataset, one ingredient); every ingredient's
    # recipe is checked to build and take its own pipeline's batches by tests/test_recipes.py
    trained = b.pick(trained[:1] if recipe.key == QUICK_ABLATION else [], trained)
    if fraction <= 0 or not recipe.ingredients or (b.quick and recipe.key != QUICK_ABLATION):
        return
    budget = recipe.budget_s * fraction
    minutes = f"{b.pick(20, budget) / 60:.1f}" if b.quick else f"{budget / 60:.0f}"
    common = dict(data=data, ablation_of=recipe.key, ablation_budget_seconds=budget, target="",
                  target_met=None)
    reference, _ = run_recipe(b, recipe, ds, splits, budget_s=budget,
                              row_key=f"{recipe.key}/ablation/reference",
                              title=f"ablation reference: the full recipe, {minutes}-min budget",
                              **common)
    for name in test_time:
        ev = evaluate(recipe.without(name), reference.model, splits[2], ds.class_names)
        b.add(f"{recipe.key}/ablation/{name}", dataset=DATASET_TITLES[recipe.key.split("/")[0]],
              model=f"ablation: without {name} (the reference model, {minutes}-min budget)",
              test_accuracy=ev.accuracy, macro_f1=ev.macro()["f1"], **common)
    for name in trained:
        run_recipe(b, recipe.without(name), ds, splits, budget_s=budget,
                   row_key=f"{recipe.key}/ablation/{name}",
                   title=f"ablation: without {name}, {minutes}-min budget", **common)


def _probe_row(b: Bench, probe: ProbeRecipe, ds: Dataset, splits: tuple, *, data: str,
               dataset: str, row_key: str | None = None, title: str | None = None,
               features: ProbeFeatures | None = None, **extra) -> ProbeResult:
    b.reseed()
    probe = _quick(b, probe)
    res = fit_probe(probe, *splits, features=features)
    ev = Evaluation(probe.title, ds.class_names, splits[2].y, res.probs)
    key = row_key or probe.key
    b.add(key, dataset=dataset, model=title or probe.title, data=data,
          test_accuracy=ev.accuracy, macro_f1=ev.macro()["f1"],
          **{**_target_cells(key, ev.accuracy, None), **res.facts, **extra})
    return res


def _mean_row(b: Bench, key: str, dataset: str, title: str, evs: list[Evaluation],
              data: str) -> Evaluation:
    """A committee: the mean of several models' test probabilities."""
    mean = Evaluation(title, evs[0].class_names, evs[0].y_true,
                      np.mean([ev.probs for ev in evs], axis=0))
    b.add(key, dataset=dataset, model=title, data=data, test_accuracy=mean.accuracy,
          macro_f1=mean.macro()["f1"], target="", target_met=None)
    return mean


def _best_row(b: Bench, key: str, dataset: str, candidates: dict[str, Evaluation], data: str):
    """The best test accuracy among the suite's models for one dataset, held to its target."""
    name, ev = max(candidates.items(), key=lambda kv: kv[1].accuracy)
    b.add(key, dataset=dataset, model=f"best: {name}", data=data, test_accuracy=ev.accuracy,
          macro_f1=ev.macro()["f1"], **_target_cells(key, ev.accuracy, None))


DATASET_TITLES = {"gtsrb": "GTSRB", "ahe": "AHE", "cats_dogs": "Cats vs dogs",
                  "cifar10": "CIFAR-10"}


# ----------------------------------------------------------------------------- tasks


def gtsrb(b: Bench) -> None:
    """The recipe, its committee partner on colour inputs, their mean, the ablations."""
    ds = load("gtsrb", quick=b.quick, limit_per_class=b.pick(12, None))
    splits = (ds["train"], ds["validation"], ds["test"])
    data = _data_line(ds, b.quick, 51_839, train=len(splits[0]), validation=len(splits[1]),
                      test=len(splits[2]))
    if b.headline:
        _, ev = run_recipe(b, GTSRB, ds, splits, data=data)
        _, ev_colour = run_recipe(b, GTSRB_COLOUR, ds, splits, data=data)
        committee = _mean_row(b, "gtsrb/committee", "GTSRB",
                              "committee: mean of the grayscale and colour CNNs",
                              [ev, ev_colour], data)
        _best_row(b, "gtsrb/best", "GTSRB", {"one CNN": ev, "colour CNN": ev_colour,
                                             "committee": committee}, data)
    if b.ablations:
        ablate(b, GTSRB, ds, splits, data=data)


def ahe(b: Bench) -> None:
    """From scratch, fine-tuned MobileNet, their mean, the ablations."""
    ds = load("ahe", quick=b.quick, limit_per_class=b.pick(10, None))
    keep, held = stratified_holdout(ds["train"].y, 0.1, seed=b.seed)
    splits = (ds["train"].take(keep), ds["train"].take(held), ds["test"])
    data = _data_line(ds, b.quick, 11_639, train=len(splits[0]), validation=len(splits[1]),
                      test=len(splits[2]))
    if b.headline:
        _, ev_scratch = run_recipe(b, AHE_SCRATCH, ds, splits, data=data)
        mobile = b.pick(AHE_MOBILENET.replace(image_size=(64, 64)), AHE_MOBILENET)  # quick: small
        _, ev_mobile = run_recipe(b, mobile, ds, splits, data=data)
        mean = _mean_row(b, "ahe/ensemble", "AHE", "mean of the two models' probabilities",
                         [ev_scratch, ev_mobile], data)
        _best_row(b, "ahe/best", "AHE", {"from scratch": ev_scratch,
                                         "fine-tuned MobileNet": ev_mobile, "ensemble": mean},
                  data)
    if b.ablations:
        ablate(b, AHE_SCRATCH, ds, splits, data=data)
        ablate(b, AHE_MOBILENET, ds, splits, data=data)


def cats_dogs(b: Bench) -> None:
    """The ImageNet-feature probe (and its ablations), and the CNN from scratch."""
    ds = load("cats_dogs", quick=b.quick, limit_per_class=b.pick(12, None))
    splits = (ds["train"], ds["validation"], ds["test"])
    data = _data_line(ds, b.quick, train=len(splits[0]), validation=len(splits[1]),
                      test=len(splits[2]))
    probe = CATS_PROBE.replace(image_size=b.pick((96, 96), CATS_PROBE.image_size))
    features = None
    if b.headline:
        features = _probe_row(b, probe, ds, splits, data=data, dataset="Cats vs dogs",
                              notes="the only ImageNet weights available offline here; "
                              "VGG16/ResNet are not").features
        run_recipe(b, CATS_SCRATCH, ds, splits, data=data)
    if b.ablations:
        # the probe: its reference and each ingredient refitted on the same backbone outputs
        if features is None:
            features = probe_features(_quick(b, probe), splits)
        for name in ("reference", *probe.ingredients):
            _probe_row(b, probe if name == "reference" else probe.without(name), ds, splits,
                       data=data, dataset="Cats vs dogs", row_key=f"{probe.key}/ablation/{name}",
                       title="ablation reference: the full probe" if name == "reference"
                       else f"ablation: without {name}", features=features,
                       ablation_of=probe.key)
        ablate(b, CATS_SCRATCH, ds, splits, data=data)


def keras_example_cnn() -> keras.Model:
    """The long-standing Keras CIFAR-10 example CNN, rebuilt: two blocks of two convs
    (32, 64) with pooling and dropout, a 512-unit dense layer, RMSprop at 1e-4.
    The benchmark's anchor, not one of the suite's models."""
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Rescaling(1 / 255.0),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Dropout(0.25),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.Conv2D(64, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Dropout(0.25),
            L.Flatten(),
            L.Dense(512, activation="relu"),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ],
        name="keras_example_cnn",
    )
    model.compile(keras.optimizers.RMSprop(1e-4), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _keras_example(b: Bench, ds: Dataset, splits: tuple, data: str, budget_s: float) -> None:
    """The anchor: the Keras example CNN with its own recipe, stopped by the same budget."""
    b.reseed()
    tr, _, te = splits
    aug = make_augmentation(rotation=0.0, zoom=0.0, translation=0.1, contrast=0.0, seed=b.seed)
    model = keras_example_cnn()
    budget = TimeBudget(budget_s, cosine=False)
    res = fit(model, to_tf_dataset(tr, batch_size=32, shuffle=True, seed=b.seed, augment=aug),
              None, epochs=b.pick(2, 500), callbacks=[budget], name="keras_example")
    ev = Evaluation("keras example", ds.class_names, te.y,
                    model.predict(to_tf_dataset(te, batch_size=500), verbose=0))
    b.add("cifar10/keras_example", dataset="CIFAR-10",
          model="anchor: the Keras example CNN (RMSprop 1e-4, its own recipe)", data=data,
          test_accuracy=ev.accuracy, macro_f1=ev.macro()["f1"], train_seconds=res.seconds,
          epochs=res.epochs, budget_seconds=budget_s,
          images_per_second=images_per_second(res, len(tr)), params=model.count_params(),
          mflops_per_image=count_flops(model) / 1e6, target="", target_met=None)


def cifar10(b: Bench) -> None:
    """The recipe, the Keras example CNN under the same budget, the ablations."""
    ds = load("cifar10", quick=b.quick, limit_per_class=b.pick(12, None))
    splits = (ds["train"], None, ds["test"])
    data = _data_line(ds, b.quick, 60_000, train=len(splits[0]), test=len(splits[2]))
    if b.headline:
        run_recipe(b, CIFAR, ds, splits, data=data,
                   notes="trained on all training images, no validation split")
        _keras_example(b, ds, splits, data, b.pick(20, CIFAR.budget_s))
    if b.ablations:
        ablate(b, CIFAR, ds, splits, data=data)


# -------------------------------------------------------------------------- pipeline


def _memory_fit_ips(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int,
                    batch: int) -> float:
    """Training images per second when ``fit`` batches in-memory arrays itself."""
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch, epochs=epochs + 1, shuffle=True, verbose=0,
              callbacks=[timer])
    return len(x) / float(np.median(timer.times[1:]))


def _pipeline_fit_ips(model: keras.Model, ds, n: int, epochs: int) -> float:
    res = fit(model, ds, None, epochs=epochs + 1, verbose=0)
    return images_per_second(res, n)


def pipeline(b: Bench) -> None:
    """Training throughput through each recipe's real ``tf.data`` pipeline (without its
    augmentation) versus the same tensors handed to ``fit`` from memory, on an array dataset
    (GTSRB) and a JPEG one (AHE)."""
    if not b.headline:
        return
    epochs = b.pick(1, 2)
    cases = (
        ("pipeline/gtsrb", "GTSRB pickles: ROI crop, grayscale + CLAHE map, cache, shuffle, "
         "batch 128, prefetch",
         load("gtsrb", quick=b.quick, limit_per_class=b.pick(8, 150)), GTSRB),
        ("pipeline/ahe", "AHE JPEG files: decode, resize, cache, shuffle, batch 64, prefetch",
         load("ahe", quick=b.quick, limit_per_class=b.pick(8, 200)), AHE_SCRATCH),
    )
    for key, title, ds, recipe in cases:
        b.reseed()
        plain = recipe.replace(augment=None)
        split = ds["train"]
        real = plain.pipeline(split, training=True, seed=b.seed)
        x, y = take_images(plain.pipeline(split, training=False, batch_size=1024), len(split))
        n = len(x)
        rates: dict[str, list[float]] = {"pipeline": [], "memory": []}
        for _ in range(b.pick(1, 3)):  # alternate: the machine's changing speed hits both alike
            rates["pipeline"].append(_pipeline_fit_ips(plain.compiled_model(), real, n, epochs))
            rates["memory"].append(
                _memory_fit_ips(plain.compiled_model(), x, y, epochs, recipe.batch_size))
        # best of three: other load on a shared machine only ever slows a run down
        p, m = max(rates["pipeline"]), max(rates["memory"])
        b.add(
            key, dataset=title.split(":")[0], model=title,
            data=_data_line(ds, True, train=len(split)),
            pipeline_images_per_second=p, memory_images_per_second=m, ratio=p / m,
            median_ratio=float(np.median(rates["pipeline"]) / np.median(rates["memory"])),
            runs={k: [round(v, 1) for v in vs] for k, vs in rates.items()},
            target=f"ratio ≥ {PIPELINE_TARGET}", target_met=bool(p / m >= PIPELINE_TARGET),
        )


TASKS: dict[str, Callable[[Bench], None]] = {
    "gtsrb": gtsrb, "ahe": ahe, "cats_dogs": cats_dogs, "cifar10": cifar10, "pipeline": pipeline,
}
