"""ImageNet backbones for transfer learning, loaded offline when their weights are cached.

``keras.applications`` looks for weight files in ``$KERAS_HOME/models`` (default
``~/.keras/models``) before downloading them. :func:`load_backbone` does the same, reports
where the weights came from, and when they cannot be had raises
:class:`BackboneUnavailableError` naming the file and where to put it. Random weights
are used only when the caller allows it (quick mode, to exercise the code), and the
returned ``weights`` field says so. Quick mode (``CNN_SUITE_QUICK``) never downloads: tests
and quick runs stay on the machine.

Every backbone is built on its own image input with ``input_tensor=`` (image 0..255 → the
backbone's preprocessing → its layers), so the classifiers and feature extractors made from it
hold every backbone layer at top level: an inner layer such as ``conv_pw_13_relu`` is reached
with ``model.get_layer``, and Grad-CAM, deconvnet projections and activation maximisation cut
the model there directly.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .config import quick_from_env
from .errors import CnnSuiteError

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications"


class BackboneUnavailableError(CnnSuiteError, RuntimeError):
    """Pretrained weights for a backbone are neither cached nor downloadable.

    ``brief`` is the cause in a few words for a report's table ("download failed (no
    network)", "downloads disabled"), without URLs or folders of the machine.
    """

    def __init__(self, message: str, brief: str = "weights not available") -> None:
        super().__init__(message)
        self.brief = brief


@keras.saving.register_keras_serializable(package="cnn_suite")
class CaffePreprocess(layers.Layer):
    """RGB 0..255 to BGR minus the ImageNet channel means (VGG16 / ResNet50 'caffe' mode)."""

    def call(self, x):
        bgr = keras.ops.flip(x, axis=-1)
        return bgr - keras.ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=x.dtype)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one ``keras.applications`` backbone and what its parts are called."""

    key: str
    title: str
    builder: str
    kwargs: tuple[tuple[str, object], ...]
    weights_file: str
    preprocess: str  # "tf" (-1..1), "caffe" (BGR, mean-subtracted) or "none" (model rescales)
    last_conv: str  # layer for Grad-CAM
    fine_tune_from: str  # first layer unfrozen for fine-tuning
    top_weights_file: str = ""  # the ImageNet classifier's weights (include_top=True)

    def build(self, input_shape: tuple[int, int, int], weights: str | None) -> keras.Model:
        """Image (0..255, ``input_shape``) → this backbone's preprocessing → its layers, as one
        flat functional model (``keras.applications`` with ``input_tensor=``)."""
        fn = getattr(keras.applications, self.builder)
        image = keras.Input(shape=input_shape, name="image")
        x = self.preprocess_layer()(image)
        with warnings.catch_warnings():
            # MobileNet warns that sizes other than 128..224 reuse the 224 weights: intended
            warnings.filterwarnings("ignore", message=".*will be loaded as the default")
            return fn(include_top=False, weights=weights, input_shape=input_shape,
                      input_tensor=x, **dict(self.kwargs))

    def preprocess_layer(self) -> keras.Layer:
        if self.preprocess == "tf":
            return layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")
        if self.preprocess == "caffe":
            return CaffePreprocess(name="preprocess")
        return layers.Identity(name="preprocess")


BACKBONES: dict[str, BackboneSpec] = {
    s.key: s
    for s in (
        BackboneSpec(
            "vgg16",
            "VGG16",
            "VGG16",
            (),
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "caffe",
            "block5_conv3",
            "block5_conv1",
            "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        BackboneSpec(
            "mobilenet_0.75",
            "MobileNet α=0.75",
            "MobileNet",
            (("alpha", 0.75),),
            "mobilenet_7_5_224_tf_no_top.h5",
            "tf",
            "conv_pw_13_relu",
            "conv_dw_12",
            "mobilenet_7_5_224_tf.h5",
        ),
        BackboneSpec(
            "resnet50",
            "ResNet50",
            "ResNet50",
            (),
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "caffe",
            "conv5_block3_out",
            "conv5_block1_1_conv",
            "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        BackboneSpec(
            "mobilenet_v2",
            "MobileNetV2",
            "MobileNetV2",
            (),
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
            "tf",
            "out_relu",
            "block_15_expand",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ),
        BackboneSpec(
            "efficientnet_b0",
            "EfficientNetB0",
            "EfficientNetB0",
            (),
            "efficientnetb0_notop.h5",
            "none",
            "top_activation",
            "block7a_expand_conv",
            "efficientnetb0.h5",
        ),
    )
}


def keras_models_dirs() -> list[Path]:
    """Folders where Keras keeps downloaded weights, in the order it uses them."""
    home = os.environ.get("KERAS_HOME")
    dirs = [Path(home) / "models"] if home else [Path.home() / ".keras" / "models"]
    dirs.append(Path("/tmp/.keras/models"))  # Keras's fallback when the home is read-only
    return dirs


def cached_weights(spec: BackboneSpec, top: bool = False) -> Path | None:
    """The cached weight file of ``spec`` (``top``: of its ImageNet classifier), if any folder
    Keras uses holds it."""
    name = spec.top_weights_file if top else spec.weights_file
    if not name:
        return None
    for d in keras_models_dirs():
        if (d / name).is_file():
            return d / name
    return None


@dataclass
class LoadedBackbone:
    """A backbone ready for transfer learning.

    ``model`` takes images in 0..255 (its first layer after the input is the backbone's own
    preprocessing) and returns the last feature maps; its layers are the ones every model made
    by :func:`transfer_classifier` and :func:`feature_extractor` shares.
    """

    spec: BackboneSpec
    model: keras.Model
    weights: str  # "imagenet (cached file ...)", "imagenet (downloaded)" or "random ..."

    @property
    def pretrained(self) -> bool:
        return self.weights.startswith("imagenet")


def load_backbone(
    key: str,
    input_shape: tuple[int, int, int],
    *,
    allow_download: bool | None = None,
    allow_random: bool = False,
) -> LoadedBackbone:
    """Build a frozen backbone (no classifier) with ImageNet weights.

    Looks for the weight file in Keras's cache; otherwise lets Keras download it when
    ``allow_download``; otherwise, or if that fails, raises — unless ``allow_random``, which
    builds random weights and says so in ``weights``. ``allow_download=None`` (the default)
    downloads in full mode only: with ``CNN_SUITE_QUICK`` set nothing leaves the machine.

    Raises:
        KeyError: unknown ``key`` (message lists the known ones).
        BackboneUnavailableError: no weights and random ones not allowed.
    """
    if key not in BACKBONES:
        raise KeyError(f"unknown backbone {key!r}; known: {', '.join(BACKBONES)}")
    spec = BACKBONES[key]
    if allow_download is None:
        allow_download = not quick_from_env()
    path = cached_weights(spec)
    model, how, reason, brief = None, "", "", ""
    if path is not None:
        model, how = spec.build(input_shape, str(path)), f"imagenet (cached file {path.name})"
    elif allow_download:
        log = io.StringIO()  # Keras's "Downloading data from <url>" line and progress bar
        try:
            with contextlib.redirect_stdout(log):
                model, how = spec.build(input_shape, "imagenet"), "imagenet (downloaded)"
            print(f"downloaded the ImageNet weights of {spec.title} ({spec.weights_file})")
        except Exception as exc:  # no network, refused, corrupt download: all mean "not here"
            reason = f"download failed: {type(exc).__name__}: {str(exc)[:160]}"
            offline = any(w in str(exc).lower() for w in ("url fetch", "errno", "resolve"))
            brief = "download failed" + (" (no network)" if offline else "")
    else:
        reason = "downloads disabled" + (" in quick mode" if quick_from_env() else "")
        brief = reason
    if model is None:
        where = " or ".join(str(d) for d in keras_models_dirs()[:1])
        message = (
            f"{spec.title} ImageNet weights are not available ({reason}). Put "
            f"{spec.weights_file} into {where} (Keras downloads it from {BASE_URL}/ when online)."
        )
        if not allow_random:
            raise BackboneUnavailableError(message, brief=brief)
        model, how = spec.build(input_shape, None), f"random (quick mode only): {message}"
    model.trainable = False
    model.name = spec.key  # stable name for layer paths like "vgg16/block5_conv3"
    return LoadedBackbone(spec, model, how)


def load_available(
    keys: list[str],
    input_shape: tuple[int, int, int],
    *,
    allow_download: bool | None = None,
    allow_random: bool = False,
) -> tuple[dict[str, LoadedBackbone], list[dict[str, str]]]:
    """Every backbone of ``keys`` whose weights can be had, in order, and why the others not.

    Returns:
        ``(available, missing)``: ``{key: LoadedBackbone}`` and one ``{"backbone", "reason",
        "brief"}`` row per backbone that raised :class:`BackboneUnavailableError` (``reason``:
        the full message with where to put the file; ``brief``: the cause in a few words).
    """
    available, missing = {}, []
    for key in keys:
        try:
            available[key] = load_backbone(
                key, input_shape, allow_download=allow_download, allow_random=allow_random
            )
        except BackboneUnavailableError as exc:
            missing.append({"backbone": key, "reason": str(exc), "brief": exc.brief})
    return available, missing


def _checked_input(backbone: LoadedBackbone, input_shape: tuple[int, int, int]):
    """The backbone model's image input; a ValueError if it was built for another shape."""
    inp = backbone.model.inputs[0]
    if tuple(inp.shape[1:]) != tuple(input_shape):
        raise ValueError(
            f"{backbone.spec.title} was loaded for images of shape {tuple(inp.shape[1:])}, "
            f"not {tuple(input_shape)}; call load_backbone with the shape you need"
        )
    return inp


def transfer_classifier(
    backbone: LoadedBackbone,
    input_shape: tuple[int, int, int],
    n_classes: int,
    dropout: float = 0.3,
    name: str | None = None,
) -> keras.Model:
    """Image (0..255) → backbone preprocessing → backbone layers → GAP → head, all at top level.

    The classifier shares the backbone model's layers (and weights). Batch normalisation stays
    in inference mode while the base is frozen and after :func:`unfreeze_top`, which leaves
    those layers untrainable (a Keras 3 BatchNormalization layer with ``trainable=False``
    uses its moving statistics), the recommended Keras practice for fine-tuning.
    Augmentation belongs in the training pipeline (``to_tf_dataset(augment=...)``), not in
    the model: see the README.
    """
    from .blocks import classifier_head

    inp = _checked_input(backbone, input_shape)
    out = classifier_head(backbone.model.outputs[0], n_classes, dropout, flatten=False)
    return keras.Model(inp, out, name=name or f"{backbone.spec.key}_classifier")


def head_of(classifier: keras.Model) -> keras.Model:
    """The head of a :func:`transfer_classifier` as a model of its own: pooled features →
    [dropout] → predictions, sharing the classifier's layers, so training it on cached
    features of the frozen backbone trains the classifier too."""
    dense = classifier.get_layer("predictions")
    inp = keras.Input((dense.input.shape[-1],), name="pooled_features")
    names = {layer.name for layer in classifier.layers}
    x = classifier.get_layer("head_dropout")(inp) if "head_dropout" in names else inp
    return keras.Model(inp, dense(x), name=f"{classifier.name}_head")


def unfreeze_top(backbone: keras.Model, from_layer: str | None) -> int:
    """Make ``from_layer`` and every later layer trainable, except batch normalisation.

    ``from_layer=None`` unfreezes the whole base (every layer but batch normalisation), for
    comparing "top block only" with "everything" at the same number of steps.

    Returns the number of trainable weights tensors afterwards.
    """
    names = [layer.name for layer in backbone.layers]
    if from_layer is not None and from_layer not in names:
        raise KeyError(f"no layer {from_layer!r} in {backbone.name!r}")
    backbone.trainable = True
    start = 0 if from_layer is None else names.index(from_layer)
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= start and not isinstance(layer, layers.BatchNormalization)
    return len(backbone.trainable_weights)


def feature_extractor(backbone: LoadedBackbone, input_shape: tuple[int, int, int]) -> keras.Model:
    """Image (0..255) → the backbone's own preprocessing → backbone → global average pooling,
    sharing the backbone model's layers."""
    inp = _checked_input(backbone, input_shape)
    out = layers.GlobalAveragePooling2D(name="pooled")(backbone.model.outputs[0])
    return keras.Model(inp, out, name=f"{backbone.spec.key}_features")


def pooled_features(
    extractor: keras.Model, ds: tf.data.Dataset, *, mirror: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every batch of ``ds``, in order.

    With ``mirror`` each image's features are averaged with those of its left-right mirror
    image, a cheap test-time augmentation for frozen features (not for traffic signs).
    """
    feats, labels = [], []
    for x, y in ds:
        f = extractor(x, training=False)
        if mirror:
            f = 0.5 * (f + extractor(tf.reverse(x, axis=[2]), training=False))
        feats.append(keras.ops.convert_to_numpy(f))
        labels.append(np.asarray(y))
    return np.concatenate(feats), np.concatenate(labels)
