"""Training with the facts a comparison table needs: wall time per epoch, parameters, FLOPs.

:func:`fit` wraps ``model.fit`` with an epoch timer, optional early stopping on the
validation metric (best weights restored) and an optional ``BackupAndRestore`` folder so
an interrupted run resumes from its last finished epoch. :func:`count_flops` counts the
multiply-adds of convolution and dense layers analytically (2 FLOPs each).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .progress import status_callbacks


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch (including validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t0)


@dataclass
class FitResult:
    """What one training run produced."""

    name: str
    history: dict[str, list[float]]
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    params: int = 0

    @property
    def epochs(self) -> int:
        return len(self.epoch_seconds)

    def best(self, metric: str = "val_accuracy") -> float:
        values = self.history.get(metric, [])
        return float(max(values)) if values else float("nan")


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    validation: tf.data.Dataset | None = None,
    *,
    epochs: int,
    patience: int | None = None,
    monitor: str = "val_accuracy",
    backup_dir: str | Path | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int = 2,
    name: str | None = None,
    class_weight: dict[int, float] | None = None,
) -> FitResult:
    """Train a compiled model and time it.

    Args:
        patience: stop after this many epochs without improvement of ``monitor`` and
            restore the best weights; None trains every epoch.
        backup_dir: folder for ``keras.callbacks.BackupAndRestore``: a run killed midway
            and started again with the same folder resumes after its last finished epoch.
        verbose: 2 prints one line per epoch (readable in executed notebooks).
        class_weight: per-class loss weights (integer labels), e.g. for imbalanced data.
    """
    timer = EpochTimer()
    cbs = [timer, *(callbacks or [])]
    if patience is not None and validation is not None:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode="max" if "acc" in monitor else "min",
                patience=patience,
                restore_best_weights=True,
            )
        )
    if backup_dir is not None:  # first, so an epoch is saved before anything else can fail
        cbs.insert(0, keras.callbacks.BackupAndRestore(str(backup_dir)))
    budget = next((c.budget_s for c in cbs if isinstance(c, TimeBudget)), None)
    cbs += status_callbacks(name or model.name, epochs, budget)  # runners' progress display
    start = time.perf_counter()
    hist = model.fit(
        train,
        validation_data=validation,
        epochs=epochs,
        callbacks=cbs,
        verbose=verbose,
        shuffle=False,  # tf.data pipelines shuffle themselves
        class_weight=class_weight,
    )
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return FitResult(name or model.name, history, seconds, timer.times, model.count_params())


def compile_classifier(
    model: keras.Model,
    n_classes: int,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    *,
    decay_steps: int | None = None,
    **kwargs,
) -> keras.Model:
    """Compile a classifier with the loss and accuracy metric its output layer needs.

    Two classes mean one sigmoid unit (binary cross-entropy), more a softmax (sparse
    categorical cross-entropy), as :func:`helpers.blocks.classifier_head` builds them.

    Args:
        optimizer: a Keras optimiser name (``"adam"``, ``"adamw"``, ``"sgd"``, ...).
        decay_steps: when given, the rate follows a cosine decay to 0 over that many steps
            (typically epochs × steps per epoch); otherwise it stays constant.
        kwargs: further optimiser arguments (``weight_decay``, ``momentum``, ...).
    """
    rate = learning_rate if decay_steps is None else keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps)
    optimizer_class = type(keras.optimizers.get(optimizer))  # the name → its class
    opt = optimizer_class(learning_rate=rate, **kwargs)
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    return model


def _conv_flops(layer: keras.Layer) -> float:
    out = layer.output.shape
    spatial = float(np.prod(out[1:-1]))
    k = float(np.prod(layer.kernel_size))
    cin = layer.input.shape[-1]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return 2 * spatial * k * cin * layer.depth_multiplier
    if isinstance(layer, keras.layers.SeparableConv2D):
        dw = 2 * spatial * k * cin * layer.depth_multiplier
        return dw + 2 * spatial * cin * layer.depth_multiplier * layer.filters
    return 2 * spatial * k * cin * layer.filters / layer.groups


def count_flops(model: keras.Model) -> int:
    """Floating-point operations of one forward pass for one image (2 per multiply-add).

    Counts Conv2D, DepthwiseConv2D, SeparableConv2D and Dense layers, descending into
    nested models; activations, pooling and normalisation add comparatively little and
    are left out, as is usual when papers quote FLOPs.
    """
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_flops(layer)
        elif isinstance(
            layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
        ):
            total += _conv_flops(layer)
        elif isinstance(layer, keras.layers.Dense):
            positions = (
                float(np.prod(layer.input.shape[1:-1])) if len(layer.input.shape) > 2 else 1.0
            )
            total += 2 * positions * layer.input.shape[-1] * layer.units
    return int(total)


def parameter_note(model: keras.Model) -> str:
    """One line setting the model's own parameters beside the optimizer's state, which Keras's
    ``summary()`` adds to its "Total params" once the model is compiled and trained."""
    state = sum(int(np.prod(v.shape)) for v in model.optimizer.variables) \
        if getattr(model, "optimizer", None) is not None else 0
    return (f"the model's own parameters: {model.count_params():,} (the summary's total also "
            f"counts the optimizer's {state:,} state values)")


def images_per_second(result: FitResult, n_images: int) -> float:
    """Training throughput over the epochs after the first (which includes tracing)."""
    times = result.epoch_seconds[1:] or result.epoch_seconds
    return n_images / float(np.median(times)) if times else float("nan")


class TimeBudget(keras.callbacks.Callback):
    """Train for as long as a wall-clock budget allows, annealing the learning rate by the clock.

    The first epoch warms the learning rate up linearly to ``peak_lr`` (it also pays for
    tracing and for filling the ``tf.data`` cache). From then on the rate follows a half
    cosine from ``peak_lr`` to ``min_lr`` as a function of *elapsed time*: it reaches
    ``min_lr`` at the deadline (``safety × budget_s``), so a run ends annealed however fast or
    unevenly the machine goes. After every epoch the callback stops training if one more
    epoch, as long as the slowest of the last three, would end past the deadline.
    With ``cosine=False`` the optimiser's own rate is left alone and training only stops.
    ``clock`` (default ``time.perf_counter``) is the time source; tests hand in a fake one.

    With ``epochs=N`` the schedule runs by *steps* instead: the same warm-up over the first
    epoch, then a half cosine over the remaining ``N - 1`` epochs' steps, reaching ``min_lr``
    at the last step of epoch ``N``, where training stops. The learning rate at every step
    then depends on the step alone, so a seeded run repeats exactly on any machine speed; the
    clock only stops a run that would overrun ``budget_s`` (a safety cap, reported through
    ``stopped_by_budget``).

    Attributes:
        epoch_seconds: wall time of each finished epoch.
        stopped_by_budget: True when the budget, not the epoch limit, ended training.
    """

    def __init__(
        self,
        budget_s: float,
        *,
        peak_lr: float | None = None,
        cosine: bool = True,
        min_lr: float = 0.0,
        safety: float = 0.98,
        clock: Callable[[], float] = time.perf_counter,
        epochs: int | None = None,
    ) -> None:
        super().__init__()
        if cosine and peak_lr is None:
            raise ValueError("a cosine schedule needs peak_lr")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a positive whole number or None, got {epochs!r}")
        self.epochs = epochs
        self.budget_s = float(budget_s)
        self.peak_lr = peak_lr
        self.cosine = cosine
        self.min_lr = min_lr
        self.safety = safety
        self.clock = clock
        self.epoch_seconds: list[float] = []
        self.stopped_by_budget = False
        self._start = self._epoch_start = self._warm_end = 0.0
        self._epoch = 0
        self._steps: int | None = None
        self._step_in_epoch = 0

    @property
    def deadline(self) -> float:
        """``clock`` time by which training should have ended."""
        return self._start + self.budget_s * self.safety

    def on_train_begin(self, logs=None):
        self._start = self.clock()
        self._steps = self.params.get("steps") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._step_in_epoch = 0
        self._epoch_start = self.clock()

    def learning_rate(self, now: float) -> float:
        """The scheduled rate at ``clock`` time ``now`` in the current epoch."""
        if self._epoch == 0:
            if not self._steps:
                return float(self.peak_lr)
            return self.peak_lr * min(1.0, (self._step_in_epoch + 1) / self._steps)
        if self.epochs is not None and self._steps:
            done = (self._epoch - 1) * self._steps + self._step_in_epoch + 1
            progress = min(1.0, done / max((self.epochs - 1) * self._steps, 1))
        else:
            span = max(self.deadline - self._warm_end, 1e-9)
            progress = min(1.0, max(0.0, (now - self._warm_end) / span))
        return self.min_lr + 0.5 * (self.peak_lr - self.min_lr) * (1 + np.cos(np.pi * progress))

    def on_train_batch_begin(self, batch, logs=None):
        if self.cosine:
            self.model.optimizer.learning_rate.assign(self.learning_rate(self.clock()))
        self._step_in_epoch += 1

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.epoch_seconds.append(now - self._epoch_start)
        if epoch == 0:
            self._warm_end = now
        if self.epochs is not None and epoch + 1 >= self.epochs:
            self.model.stop_training = True  # the scheduled epochs are done: annealed
            return
        recent = self.epoch_seconds[1:][-3:] or self.epoch_seconds
        if now + max(recent) > self.deadline:
            self.stopped_by_budget = True
            self.model.stop_training = True
