"""Training with the facts a comparison table needs: wall time per epoch, parameters, FLOPs.

:func:`fit` wraps ``model.fit`` with an epoch timer, optional early stopping on the
validation metric (best weights restored) and an optional ``BackupAndRestore`` folder so
an interrupted run resumes from its last finished epoch. :func:`count_flops` counts the
multiply-adds of convolution and dense layers analytically (2 FLOPs each).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


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


def images_per_second(result: FitResult, n_images: int) -> float:
    """Training throughput over the epochs after the first (which includes tracing)."""
    times = result.epoch_seconds[1:] or result.epoch_seconds
    return n_images / float(np.median(times)) if times else float("nan")


class TimeBudget(keras.callbacks.Callback):
    """Train for as many epochs as fit in a wall-clock budget, with a schedule planned to match.

    The first epoch warms the learning rate up linearly to ``peak_lr`` (it also pays for
    tracing and for filling the ``tf.data`` cache). After the second epoch, which runs at the
    peak rate, the callback measures how long an epoch takes and plans how many more fit in
    ``budget_s``; with ``cosine=True`` the rate then decays along a half cosine to
    ``min_lr`` over exactly those epochs, so the run ends annealed instead of cut off.
    With ``cosine=False`` the optimiser's own rate is left alone and training only stops.

    The planned number of epochs is in :attr:`planned_epochs` (None before it is known).
    """

    def __init__(
        self,
        budget_s: float,
        *,
        peak_lr: float | None = None,
        cosine: bool = True,
        min_lr: float = 0.0,
        safety: float = 0.97,
    ) -> None:
        super().__init__()
        if cosine and peak_lr is None:
            raise ValueError("a cosine schedule needs peak_lr")
        self.budget_s = float(budget_s)
        self.peak_lr = peak_lr
        self.cosine = cosine
        self.min_lr = min_lr
        self.safety = safety
        self.planned_epochs: int | None = None
        self._start = 0.0
        self._epoch_start = 0.0
        self._epoch = 0
        self._steps: int | None = None
        self._step_in_epoch = 0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._steps = self.params.get("steps") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._step_in_epoch = 0
        self._epoch_start = time.perf_counter()

    def _lr(self) -> float | None:
        if not self.cosine:
            return None
        steps = self._steps or 1
        if self._epoch == 0:
            return self.peak_lr * min(1.0, (self._step_in_epoch + 1) / steps)
        if self.planned_epochs is None or self._epoch < 2:
            return self.peak_lr
        decay_epochs = max(1, self.planned_epochs - 2)
        progress = ((self._epoch - 2) * steps + self._step_in_epoch) / (decay_epochs * steps)
        progress = min(1.0, progress)
        return self.min_lr + 0.5 * (self.peak_lr - self.min_lr) * (1 + np.cos(np.pi * progress))

    def on_train_batch_begin(self, batch, logs=None):
        lr = self._lr()
        if lr is not None:
            self.model.optimizer.learning_rate.assign(lr)
        self._step_in_epoch += 1

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if self._steps is None:  # unknown dataset length: learnt from the first epoch
            self._steps = self._step_in_epoch
        if epoch == 1:
            per_epoch = now - self._epoch_start
            left = self.budget_s * self.safety - (now - self._start)
            extra = max(0, int(left // per_epoch))
            max_epochs = self.params.get("epochs", 2 + extra) if self.params else 2 + extra
            self.planned_epochs = min(max_epochs, 2 + extra)
        if self.planned_epochs is not None and epoch + 1 >= self.planned_epochs:
            self.model.stop_training = True
        elif epoch == 0 and now - self._start >= self.budget_s * self.safety:
            self.planned_epochs = 1
            self.model.stop_training = True
