"""Linear probes on frozen ImageNet features: a recipe that trains no network at all.

A :class:`ProbeRecipe` runs a pretrained backbone once over every image (and its mirror image,
averaging the two), optionally adds the log ratio of the ImageNet classifier's probability mass
on two groups of classes (for cats vs dogs: the 118 dog breeds against the 5 domestic cats), and
fits a standardised logistic regression whose inverse regularisation ``C`` is chosen by 5-fold
cross-validation on the training and validation images together, then refitted on all of them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ..backbones import BACKBONES, cached_weights, feature_extractor, load_backbone
from ..pipeline import to_tf_dataset
from .base import Split

# ImageNet-1k class indices (the order keras.applications' classifiers use)
CV_FOLDS = 5  # cross-validation folds that choose the regularisation C
IMAGENET_DOGS = range(151, 269)  # 118 dog breeds, Chihuahua … Mexican hairless
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@dataclass(frozen=True)
class ProbeRecipe:
    """Frozen backbone features → logistic regression.

    Attributes:
        key, title: as for :class:`~helpers.recipes.base.Recipe`.
        backbone: a key of :data:`helpers.backbones.BACKBONES`.
        image_size: input size of the backbone.
        mirror: average each image's features with its mirror image's.
        log_ratio: two groups of ImageNet classes ``(a, b)``; adds ``log P(a) - log P(b)`` of the
            backbone's own ImageNet classifier as one more feature (needs its top weights).
        log_ratio_weight: that feature's scale after standardisation: one strong feature among
            hundreds would otherwise be held back by the same L2 penalty as the rest.
        Cs: candidate inverse regularisation strengths, chosen by 5-fold cross-validation on
            the training and validation images together.
        allow_random_weights: quick mode only (see ``Recipe``).
    """

    key: str
    title: str
    backbone: str = "mobilenet_0.75"
    image_size: tuple[int, int] = (224, 224)
    mirror: bool = True
    log_ratio: tuple[range, range] | None = None
    log_ratio_weight: float = 10.0
    Cs: tuple[float, ...] = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
    allow_random_weights: bool = False
    ingredients: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def without(self, ingredient: str) -> ProbeRecipe:
        """The probe with one ingredient removed."""
        if ingredient not in self.ingredients:
            raise KeyError(f"{self.key} has no ingredient {ingredient!r}")
        return dataclasses.replace(
            self, key=f"{self.key}-no-{ingredient}", title=f"{self.title}, without {ingredient}",
            ingredients={}, **self.ingredients[ingredient],
        )

    def replace(self, **changes: Any) -> ProbeRecipe:
        return dataclasses.replace(self, **changes)


def imagenet_top(key: str, image_size: tuple[int, int]) -> keras.Model | None:
    """The backbone's ImageNet classifier (1000 softmax outputs) from its cached weight file,
    or None when that file is not in Keras's cache (it is never downloaded here)."""
    spec = BACKBONES[key]
    if not spec.top_weights_file:
        return None
    path = cached_weights(spec, top=True)
    if path is None:
        return None
    fn = getattr(keras.applications, spec.builder)
    net = fn(include_top=True, weights=str(path), input_shape=(*image_size, 3),
             **dict(spec.kwargs))
    inp = keras.Input((*image_size, 3), name="image")
    out = net(spec.preprocess_layer()(inp), training=False)
    return keras.Model(inp, out, name=f"{key}_imagenet")


def _outputs(models: list[keras.Model], ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Every model's outputs side by side, for each image and for its mirror image."""
    plain, mirrored = [], []
    for x, _ in ds:
        for out, batch in ((plain, x), (mirrored, tf.reverse(x, axis=[2]))):
            out.append(np.concatenate(
                [keras.ops.convert_to_numpy(m(batch, training=False)) for m in models], axis=1))
    return np.concatenate(plain), np.concatenate(mirrored)


@dataclass
class ProbeFeatures:
    """A frozen backbone's outputs on the three splits, computed once and shared by a probe
    and its ablations: per split, the outputs for the images and for their mirror images
    (pooled features, then the 1000 ImageNet probabilities when ``with_top``)."""

    plain: list[np.ndarray]
    mirrored: list[np.ndarray]
    with_top: bool
    seconds: float
    weights: str


def probe_features(recipe: ProbeRecipe, splits: tuple[Split, Split, Split]) -> ProbeFeatures:
    """Run the recipe's backbone (and, for a log-ratio recipe, its ImageNet classifier) once
    over every image of the three splits and over its mirror image."""
    shape = (*recipe.image_size, 3)
    loaded = load_backbone(recipe.backbone, shape,  # quick mode never downloads
                           allow_download=False if recipe.allow_random_weights else None,
                           allow_random=recipe.allow_random_weights)
    models = [feature_extractor(loaded, shape)]
    top = imagenet_top(recipe.backbone, recipe.image_size) if recipe.log_ratio else None
    if recipe.log_ratio and top is None and not recipe.allow_random_weights:
        raise FileNotFoundError(
            f"{recipe.key}: the log-ratio feature needs {BACKBONES[recipe.backbone].title}'s "
            "ImageNet classifier weights in Keras's cache"
        )
    if top is not None:
        models.append(top)
    start = time.perf_counter()
    plain, mirrored = [], []
    for split in splits:
        ds = to_tf_dataset(split, batch_size=64, image_size=recipe.image_size, cache=False)
        p, m = _outputs(models, ds)
        plain.append(p)
        mirrored.append(m)
    return ProbeFeatures(plain, mirrored, top is not None, time.perf_counter() - start,
                         loaded.weights)


def _log_ratio(probs: np.ndarray, groups: tuple[range, range]) -> np.ndarray:
    a = probs[:, list(groups[0])].sum(axis=1)
    b = probs[:, list(groups[1])].sum(axis=1)
    return (np.log(a + 1e-7) - np.log(b + 1e-7))[:, None]


def _scale_columns(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return z * weights


@dataclass
class ProbeResult:
    """Test probabilities of a fitted probe and the facts a results row records."""

    probs: np.ndarray
    facts: dict[str, Any]
    features: ProbeFeatures


def fit_probe(recipe: ProbeRecipe, train: Split, validation: Split, test: Split,
              features: ProbeFeatures | None = None) -> ProbeResult:
    """Choose ``C`` by cross-validation on train + validation, refit on both, and return the
    test probabilities. ``features`` (from :func:`probe_features` of a recipe with the same
    backbone and size) are reused; without them they are computed here."""
    if features is None:
        features = probe_features(recipe, (train, validation, test))
    use_top = bool(recipe.log_ratio) and features.with_top
    feats = []
    for plain, mirrored in zip(features.plain, features.mirrored, strict=True):
        f = 0.5 * (plain + mirrored) if recipe.mirror else plain
        width = f.shape[1] - 1000 if features.with_top else f.shape[1]
        pooled = f[:, :width]
        feats.append(np.concatenate([pooled, _log_ratio(f[:, width:], recipe.log_ratio)], 1)
                     if use_top else pooled)
    f_tr, f_va, f_te = feats
    feature_s = features.seconds
    x = np.concatenate([f_tr, f_va])
    y = np.concatenate([np.asarray(train.y), np.asarray(validation.y)])
    weights = np.ones(x.shape[1])
    if use_top:
        weights[-1] = recipe.log_ratio_weight

    def probe_for(c: float):
        return make_pipeline(StandardScaler(),
                             FunctionTransformer(_scale_columns, kw_args={"weights": weights}),
                             LogisticRegression(C=c, max_iter=5000))

    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=0)
    scores = {c: float(cross_val_score(probe_for(c), x, y, cv=folds).mean()) for c in recipe.Cs}
    best_c = max(scores, key=scores.get)
    start = time.perf_counter()
    probe = probe_for(best_c).fit(x, y)
    fit_s = time.perf_counter() - start
    n = len(train) + len(validation) + len(test)
    facts = {
        "weights": features.weights,
        "log_ratio_feature": use_top,
        "feature_seconds": feature_s,
        # training cost: the share of the feature pass spent on training images, plus the fit
        "train_seconds": feature_s * (len(train) + len(validation)) / n + fit_s,
        "chosen_C": best_c,
        "cv_accuracy_by_C": {str(k): round(v, 4) for k, v in scores.items()},
    }
    return ProbeResult(probe.predict_proba(f_te), facts, features)


