"""What a recipe is, and the one training path and one evaluation path every recipe uses.

A :class:`Recipe` declares a dataset's final model once: how its split is prepared (e.g. the
GTSRB region-of-interest crop), the per-image map before the cache (grayscale + CLAHE), the
training augmentation, the network, the loss (label smoothing), the optimiser, the peak learning
rate of the warm-up + cosine schedule, the batch size, the test-time augmentation, the number
of epochs and the wall-clock budget. :func:`train` and :func:`predict` are the only code that
turns a recipe into a trained model and into test probabilities; notebooks and the benchmark
both call them. :meth:`Recipe.without` gives the ablations: the same recipe with one
ingredient removed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..datasets.base import ArraySplit, FileSplit
from ..distribute import pick_strategy
from ..evaluation import Evaluation
from ..pipeline import to_tf_dataset
from ..training import FitResult, TimeBudget, fit

Split = ArraySplit | FileSplit

#: A recipe with fixed epochs may take this multiple of its ``budget_s`` before the clock stops it:
#: a safety stop for a machine far slower than the one its epochs were counted on, not a budget
#: (a 2-core Intel Xeon at 2.1 GHz ran the cats-vs-dogs recipe's epochs 1.9 times as slowly as
#: the 2-core AMD EPYC, so a cap of 1.5 cut graded runs short there).
OVERRUN = 3.0


@keras.saving.register_keras_serializable(package="cnn_suite")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Szegedy et al. 2016).

    The target puts ``1 - smoothing + smoothing / K`` on the true class and ``smoothing / K`` on
    every other one; Keras's sparse loss has no smoothing option, so labels are one-hot encoded
    here. A model with one sigmoid unit is treated as two classes.
    """

    def __init__(self, smoothing: float = 0.0, name: str = "smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        k = y_pred.shape[-1]
        if k == 1:  # one sigmoid unit: binary cross-entropy with smoothed 0/1 targets
            y = keras.ops.cast(keras.ops.reshape(y_true, (-1, 1)), y_pred.dtype)
            y = y * (1 - self.smoothing) + 0.5 * self.smoothing
            return keras.losses.binary_crossentropy(y, y_pred)
        y = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), k)
        return keras.losses.categorical_crossentropy(y, y_pred, label_smoothing=self.smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smoothing": self.smoothing}


@dataclass(frozen=True)
class Recipe:
    """One dataset's final model, declared once.

    Attributes:
        key: short name, ``"<dataset>/<model>"`` (the benchmark's row key).
        title: one line for tables.
        num_classes: output classes (2 gives one sigmoid unit, as everywhere in the suite).
        image_size: ``(height, width)`` the network sees.
        build: ``build(recipe) -> keras.Model``, an uncompiled model taking float 0..255 images.
        prepare: array-level step on a whole split before the pipeline (e.g. ROI crop), or None.
        map_fn: per-image ``tf`` map before the cache (e.g. grayscale + CLAHE), or None.
        augment: ``augment(recipe, seed) -> layer`` applied per training batch, or None.
        label_smoothing: see :class:`SmoothedSparseCrossentropy`.
        optimizer: ``"adamw"`` or ``"sgd"`` (Nesterov momentum 0.9).
        peak_lr, weight_decay: peak of :class:`TimeBudget`'s warm-up + cosine; decoupled decay.
        batch_size: training batch size.
        tta: test-time augmentation, ``()`` or ``("flip",)`` (mean with the mirror image).
        budget_s: wall-clock training budget in full mode (the benchmark's and the notebooks').
        epochs: the full-length run's epoch count: as many epochs as ``budget_s`` held when
            the benchmark measured the recipe on the reference machine (2-core CPU). A recipe
            that fixes it trains exactly that long, scheduled by steps, so its graded run and
            its benchmark row repeat each other whatever the machine's speed; ``budget_s`` then
            only caps an unexpectedly slow run (× :data:`OVERRUN`). None: by the clock.
        channels: input channels (1 for grayscale recipes).
        allow_random_weights: a pretrained builder may use random weights when ImageNet ones are
            missing (quick mode only; the model's ``weights_source`` says so).
        ingredients: ablation name → the field overrides that remove that ingredient.
        notes: one line on where the recipe comes from.
    """

    key: str
    title: str
    num_classes: int
    image_size: tuple[int, int]
    build: Callable[[Recipe], keras.Model]
    prepare: Callable[[Split], Split] | None = None
    map_fn: Callable[[tf.Tensor], tf.Tensor] | None = None
    augment: Callable[[Recipe, int], keras.Layer] | None = None
    label_smoothing: float = 0.0
    optimizer: str = "adamw"
    peak_lr: float = 2e-3
    weight_decay: float = 5e-4
    batch_size: int = 128
    tta: tuple[str, ...] = ()
    budget_s: float = 15 * 60
    epochs: int | None = None
    channels: int = 3
    allow_random_weights: bool = False
    ingredients: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: str = ""

    def without(self, ingredient: str) -> Recipe:
        """This recipe with one ingredient removed (an ablation), titled accordingly."""
        if ingredient not in self.ingredients:
            raise KeyError(
                f"{self.key} has no ingredient {ingredient!r}; it has {sorted(self.ingredients)}"
            )
        changes = self.ingredients[ingredient]
        return dataclasses.replace(
            self, key=f"{self.key}-no-{ingredient}", title=f"{self.title}, without {ingredient}",
            ingredients={}, **changes,
        )

    @property
    def model_name(self) -> str:
        """A Keras-safe model name made from the key (``gtsrb/cnn`` → ``gtsrb_cnn``)."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.key)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (e.g. a shorter budget for a notebook's probe)."""
        return dataclasses.replace(self, **changes)

    def length_text(self, budget_s: float | None = None) -> str:
        """How long :func:`train` trains this recipe, in words: its fixed epochs, or (with
        ``budget_s``, or for a recipe without fixed epochs) the wall-clock budget."""
        if budget_s is None and self.epochs is not None:
            return (f"{self.epochs} epochs (as many as its {self.budget_s / 60:.0f}-minute budget "
                    "held when the recipe was first measured on a 2-core CPU), annealed by steps")
        seconds = budget_s or self.budget_s
        span = f"{seconds:.0f}-second" if seconds < 120 else f"{seconds / 60:.0f}-minute"
        return f"a {span} budget, annealed by the clock"

    # -------------------------------------------------------------------- model and data

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        if self.optimizer == "adamw":
            return keras.optimizers.AdamW(self.peak_lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            return keras.optimizers.SGD(
                self.peak_lr, momentum=0.9, nesterov=True, weight_decay=self.weight_decay
            )
        raise ValueError(f"unknown optimizer {self.optimizer!r}: use 'adamw' or 'sgd'")

    def compiled_model(self) -> keras.Model:
        """The network, compiled with the recipe's loss and optimiser."""
        model = self.build(self)
        model.compile(
            optimizer=self.make_optimizer(),
            loss=SmoothedSparseCrossentropy(self.label_smoothing),
            metrics=["accuracy"],
        )
        return model

    def pipeline(self, split: Split, *, training: bool, seed: int = 0,
                 batch_size: int | None = None) -> tf.data.Dataset:
        """The recipe's input pipeline for one split (prepared, mapped, cached, batched)."""
        if self.prepare is not None:
            split = self.prepare(split)
        return to_tf_dataset(
            split,
            batch_size=batch_size or (self.batch_size if training else 256),
            image_size=self.image_size,
            shuffle=training,
            seed=seed,
            map_fn=self.map_fn,
            augment=self.augment(self, seed) if (training and self.augment) else None,
            drop_remainder=training and len(split) > self.batch_size,
        )


@dataclass
class Trained:
    """A recipe's trained model and how its training went."""

    recipe: Recipe
    model: keras.Model
    fit: FitResult
    budget: TimeBudget


def train(
    recipe: Recipe,
    train_split: Split,
    validation: Split | None = None,
    *,
    seed: int = 0,
    budget_s: float | None = None,
    epochs: int | None = None,
    max_epochs: int = 200,
    verbose: int = 2,
) -> Trained:
    """Train ``recipe`` on ``train_split``: its fixed epochs, or as long as a budget allows.

    The model is built inside :func:`helpers.distribute.pick_strategy`'s scope (several GPUs:
    ``MirroredStrategy``; otherwise the default device). :class:`TimeBudget` warms the
    learning rate up during the first epoch, then anneals it to zero with a half cosine: by
    steps over ``epochs`` when the run has a fixed length, by the clock otherwise.

    Args:
        budget_s: a wall-clock budget instead of the recipe's length (quick mode, notebook
            probes, ablations): training runs by the clock.
        epochs: a fixed length (overrides ``recipe.epochs``). Without ``budget_s`` and
            ``epochs`` a recipe that fixes ``epochs`` runs them, capped at
            ``OVERRUN × recipe.budget_s`` of wall time; one that does not runs by the clock.
        max_epochs: upper bound on epochs (quick mode uses 1-2).
    """
    if epochs is None and budget_s is None:
        epochs = recipe.epochs
    if epochs is not None:
        epochs = min(epochs, max_epochs)
        cap = OVERRUN * (budget_s or recipe.budget_s)
        budget = TimeBudget(cap, peak_lr=recipe.peak_lr, safety=1.0, epochs=epochs)
    else:
        budget = TimeBudget(budget_s or recipe.budget_s, peak_lr=recipe.peak_lr)
    keras.utils.set_random_seed(seed)
    with pick_strategy().scope():
        model = recipe.compiled_model()
    train_ds = recipe.pipeline(train_split, training=True, seed=seed)
    val_ds = recipe.pipeline(validation, training=False) if validation is not None else None
    result = fit(model, train_ds, val_ds, epochs=epochs or max_epochs, callbacks=[budget],
                 verbose=verbose, name=recipe.key)
    return Trained(recipe, model, result, budget)


def predict(recipe: Recipe, model: keras.Model, split: Split) -> np.ndarray:
    """Class probabilities for every image of ``split``, in order, with the recipe's
    test-time augmentation (``"flip"``: the mean over the image and its mirror image)."""
    probs = []
    for x, _ in recipe.pipeline(split, training=False):
        p = model(x, training=False)
        if "flip" in recipe.tta:
            p = 0.5 * (p + model(tf.reverse(x, axis=[2]), training=False))
        probs.append(keras.ops.convert_to_numpy(p))
    out = np.concatenate(probs).astype(np.float64)
    if out.shape[-1] == 1:  # one sigmoid unit → two columns, as Evaluation expects
        out = np.concatenate([1 - out, out], axis=1)
    return out


def evaluate(recipe: Recipe, model: keras.Model, split: Split, class_names: list[str],
             name: str | None = None) -> Evaluation:
    """Test metrics of a trained recipe (with its test-time augmentation)."""
    return Evaluation(name or recipe.title, list(class_names), np.asarray(split.y),
                      predict(recipe, model, split))
