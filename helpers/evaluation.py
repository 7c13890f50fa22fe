"""One evaluation for every classifier: accuracy, macro and per-class P/R/F1, confusion matrix.

Built on scikit-learn's metrics so the numbers mean what the literature means by them.
Models output probabilities: one sigmoid unit for two classes, a softmax otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
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

    def accuracy_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The Wilson score interval of the accuracy (:func:`wilson_interval`)."""
        return wilson_interval(int((self.y_pred == self.y_true).sum()), len(self.y_true),
                               confidence)

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


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (SciPy's; sound for small
    ``n`` and for rates of 0 or 1, unlike the normal approximation)."""
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def macro_f1_present(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro F1 over the classes that occur in ``y_true`` only.

    The metric for bootstrap resamples: a resample of whole tracks can lack a rare class, and
    scoring that class as F1 = 0 for both models (``labels=all classes, zero_division=0``)
    would shrink every difference towards zero. On the full set, where every class occurs,
    it equals the usual macro F1.
    """
    return float(f1_score(y_true, y_pred, average="macro", labels=np.unique(y_true),
                          zero_division=0))


def paired_difference_interval(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float], *, groups: np.ndarray | None = None,
    resamples: int = 300, confidence: float = 0.95, seed: int = 0,
) -> tuple[float, float, float]:
    """``metric(a) - metric(b)`` on the same images, and a paired percentile bootstrap interval
    (SciPy's) that resamples whole ``groups`` (e.g. the tracks of photos of one physical
    sign), so that near-copies of one object do not count as independent evidence; without
    ``groups`` every image is its own group.

    Returns:
        ``(difference, low, high)``.
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    if not len(y_true) == len(pred_a) == len(pred_b) == len(groups):
        raise ValueError("labels, both predictions and groups must have one entry per image")
    ids, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(ids))]

    def diff(picked: np.ndarray) -> float:
        rows = np.concatenate([members[k] for k in picked])
        return metric(y_true[rows], pred_a[rows]) - metric(y_true[rows], pred_b[rows])

    from scipy.stats import bootstrap

    ci = bootstrap((np.arange(len(ids)),), diff, vectorized=False, n_resamples=resamples,
                   confidence_level=confidence, method="percentile",
                   random_state=seed).confidence_interval
    return diff(np.arange(len(ids))), float(ci.low), float(ci.high)


def format_p(p: float) -> str:
    """A p-value as a report writes it: "p < 0.01" below 0.01 (never "p = 0.00"), three
    decimals up to 0.1 (so 0.046 is not printed as a 0.05 that reads as "not below 0.05"),
    else two ("p = 0.23"); "p not computed" for NaN (e.g. one seed in quick mode)."""
    if p != p:  # NaN
        return "p not computed"
    return "p < 0.01" if p < 0.01 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def holm_reject(p_values: Iterable[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down correction for several tests: which null hypotheses to reject while
    keeping the chance of any false rejection among them at ``alpha``. The k-th smallest
    p-value (k = 0, 1, ...) is compared with ``alpha / (m - k)``; the first that fails stops
    the rejections. Returned in the order given."""
    p = np.asarray(list(p_values), dtype="float64")  # any iterable: a list, a dict's values
    reject = np.zeros(len(p), dtype=bool)
    for k, i in enumerate(np.argsort(p, kind="stable")):
        if not p[i] <= alpha / (len(p) - k):
            break
        reject[i] = True
    return reject.tolist()


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
