"""One evaluation for every classifier: accuracy, macro and per-class P/R/F1, confusion matrix.

Built on scikit-learn's metrics so the numbers mean what the literature means by them.
Models output probabilities: one sigmoid unit for two classes, a softmax otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import tensorflow as tf
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)


@dataclass
class Evaluation:
    """Predictions and scores of one model on one labelled split."""

    name: str
    class_names: list[str]
    y_true: np.ndarray
    probs: np.ndarray
    y_pred: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        p = np.asarray(self.probs)
        if p.ndim == 1 or p.shape[-1] == 1:
            p = p.reshape(-1)
            self.probs = np.stack([1 - p, p], axis=1)
        self.y_pred = self.probs.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float(accuracy_score(self.y_true, self.y_pred))

    def macro(self) -> dict[str, float]:
        p, r, f, _ = precision_recall_fscore_support(
            self.y_true,
            self.y_pred,
            average="macro",
            zero_division=0,
            labels=range(len(self.class_names)),
        )
        return {"precision": float(p), "recall": float(r), "f1": float(f)}

    def summary(self) -> dict[str, float]:
        """Accuracy and macro precision/recall/F1, rounded for tables."""
        return {
            "accuracy": round(self.accuracy, 4),
            **{k: round(v, 4) for k, v in self.macro().items()},
        }

    def per_class(self) -> pd.DataFrame:
        """Precision, recall, F1 and support for each class."""
        rep = classification_report(
            self.y_true,
            self.y_pred,
            labels=range(len(self.class_names)),
            target_names=self.class_names,
            output_dict=True,
            zero_division=0,
        )
        return (
            pd.DataFrame({c: rep[c] for c in self.class_names})
            .T.rename(columns={"f1-score": "f1"})
            .astype({"support": int})
        )

    def confusion(self, normalize: bool = False) -> np.ndarray:
        cm = confusion_matrix(self.y_true, self.y_pred, labels=range(len(self.class_names)))
        if normalize:
            cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        return cm

    def worst_confusions(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` largest off-diagonal cells: true class, predicted class, count, share."""
        cm = self.confusion()
        off = cm.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(off, axis=None)[::-1][:k]
        rows = []
        for flat in order:
            t, p = np.unravel_index(flat, cm.shape)
            if off[t, p] == 0:
                break
            rows.append(
                {
                    "true": self.class_names[t],
                    "predicted": self.class_names[p],
                    "count": int(off[t, p]),
                    "share of true class": round(off[t, p] / cm[t].sum(), 3),
                }
            )
        return pd.DataFrame(rows)

    def errors(self) -> np.ndarray:
        """Indices of misclassified examples, most confident mistakes first."""
        wrong = np.flatnonzero(self.y_pred != self.y_true)
        return wrong[np.argsort(-self.probs[wrong].max(axis=1))]


def predict(model: keras.Model, ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predicted probabilities over a batched ``(x, y)`` dataset, in order."""
    ys, ps = [], []
    for x, y in ds:
        ps.append(keras.ops.convert_to_numpy(model(x, training=False)))
        y = y.numpy()
        ys.append(y.argmax(-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(-1))
    return np.concatenate(ys).astype(int), np.concatenate(ps)


def evaluate(
    model: keras.Model, ds: tf.data.Dataset, class_names: Sequence[str], name: str | None = None
) -> Evaluation:
    """Predict a whole split and wrap the result in an :class:`Evaluation`."""
    y, p = predict(model, ds)
    return Evaluation(name or model.name, list(class_names), y, p)


def plot_confusion(
    ev: Evaluation, normalize: bool = True, ax: plt.Axes | None = None, annotate: bool | None = None
) -> plt.Figure:
    """Heatmap of the confusion matrix with class names (rows: true, columns: predicted)."""
    n = len(ev.class_names)
    if ax is None:
        side = min(16, max(4, 0.33 * n + 2))
        _, ax = plt.subplots(figsize=(side + 1, side))
    annotate = n <= 12 if annotate is None else annotate
    sns.heatmap(
        ev.confusion(normalize),
        annot=annotate,
        fmt=".2f" if normalize else "d",
        cmap="Blues",
        xticklabels=ev.class_names,
        yticklabels=ev.class_names,
        square=True,
        cbar=not annotate,
        vmin=0,
        vmax=1 if normalize else None,
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{ev.name}: accuracy {ev.accuracy:.2%}")
    if n > 12:
        ax.tick_params(labelsize=6)
    ax.figure.tight_layout()
    return ax.figure


def plot_histories(histories: dict[str, dict], metric: str = "accuracy") -> plt.Figure:
    """Training and validation curves of several runs side by side (loss and ``metric``)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for (name, h), colour in zip(
        histories.items(), sns.color_palette(n_colors=len(histories)), strict=True
    ):
        for ax, key in zip(axes, ("loss", metric), strict=True):
            if key in h:
                ax.plot(range(1, len(h[key]) + 1), h[key], "--", color=colour, alpha=0.7)
            if f"val_{key}" in h:
                ax.plot(
                    range(1, len(h[f"val_{key}"]) + 1), h[f"val_{key}"], color=colour, label=name
                )
    for ax, key in zip(axes, ("loss", metric), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(f"{key} (dashed: training, solid: validation)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
