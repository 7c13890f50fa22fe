"""Find layers by name in Keras 3 models and read their outputs.

:func:`iter_layers` and :func:`find_layer` also look inside nested models (paths such as
``"backbone/conv_pw_13_relu"``). :func:`feature_model` cuts a model at its own layers; the
transfer models of :mod:`helpers.backbones` are built with ``input_tensor=``, so every backbone
layer is one of them. A layer inside a nested model (a user's own transfer model, say) has its
symbolic output in that model's graph; :class:`LayerTap` records it during a forward pass of
the whole model instead of rebuilding the outer graph around it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import keras
import numpy as np

from .errors import CnnSuiteError


class LayerNotFoundError(CnnSuiteError, KeyError):
    """A layer name does not exist in the model; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.Layer]]:
    """Yield ``(path, layer)`` for every layer, descending into nested models.

    Paths join model names with ``/``: ``"mobilenet_0.75/conv_pw_13_relu"``.
    """
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, prefix=f"{path}/")


def layer_names(model: keras.Model, kind: type | tuple[type, ...] | None = None) -> list[str]:
    """Every layer path in ``model`` (optionally only layers of the given class)."""
    return [p for p, layer in iter_layers(model) if kind is None or isinstance(layer, kind)]


def _not_found(model: keras.Model, name: str) -> LayerNotFoundError:
    names = layer_names(model)
    shown = ", ".join(names if len(names) <= 60 else names[:30] + ["..."] + names[-25:])
    return LayerNotFoundError(
        f"no layer named {name!r} in model {model.name!r}. Valid names ({len(names)}): {shown}"
    )


def find_layer(model: keras.Model, name: str) -> tuple[list[keras.Model], keras.Layer]:
    """Locate a layer by plain name or by path; return ``(containing models, layer)``.

    ``containing models`` runs from ``model`` down to the model that owns the layer.
    A plain name is searched in the model first, then in nested models in order.

    Raises:
        LayerNotFoundError: no such layer; the message lists every valid name.
    """
    for path, layer in iter_layers(model):
        if path == name or (layer.name == name and "/" not in name):
            chain = [model]
            for part in path.split("/")[:-1]:
                chain.append(chain[-1].get_layer(part))
            return chain, layer
    raise _not_found(model, name)


def _owner_output(owner: keras.Model, layer: keras.Layer):
    try:
        return layer.output
    except (AttributeError, ValueError) as exc:  # a layer used more than once or never called
        raise CnnSuiteError(
            f"layer {layer.name!r} of {owner.name!r} has no single output tensor ({exc})"
        ) from exc


class LayerTap:
    """Outputs of layers inside nested models, recorded during a forward pass of the whole
    model: no rebuilt graph, so nothing to check against the original.

    It is called like the model :func:`feature_model` would build, ``tap(x, training=False)``,
    and has the same ``outputs`` (symbolic tensors, for their shapes). While it runs, each
    named layer's ``call`` is wrapped to keep what it returns; the tensors are the ones the
    forward pass goes on with, so a ``GradientTape`` differentiates through them.
    """

    def __init__(self, model: keras.Model, layers: list[keras.Layer], include_output: bool):
        self.model, self.layers, self.include_output = model, layers, include_output
        self.outputs = [_owner_output(model, layer) for layer in layers]
        if include_output:
            self.outputs.append(model.outputs[0])

    def __call__(self, x, training: bool = False):
        seen: dict[int, object] = {}  # position in self.layers -> output
        saved = [(layer, vars(layer).get("call")) for layer in self.layers]
        for i, (layer, _) in enumerate(saved):
            def record(*args, _call=layer.call, _i=i, **kwargs):
                seen[_i] = out = _call(*args, **kwargs)
                return out

            layer.call = record
        try:
            final = self.model(x, training=training)
        finally:
            for layer, previous in reversed(saved):  # restore any wrapper already there
                if previous is None:
                    del layer.call
                else:
                    layer.call = previous
        outs = [seen[i] for i in range(len(saved))] + ([final] if self.include_output else [])
        return outs[0] if len(outs) == 1 else outs


def feature_model(
    model: keras.Model, names: str | Sequence[str], include_output: bool = False
) -> keras.Model | LayerTap:
    """A model from ``model``'s input to the outputs of the named layers.

    Layers of the model itself (every backbone layer of the transfer models of
    :mod:`helpers.backbones`, built with ``input_tensor=``) give a functional model cut at
    those layers. A layer inside a nested model gives a :class:`LayerTap`, which runs the
    whole model and records the layer's output on the way.

    Args:
        model: a built functional or Sequential Keras model.
        names: one layer name/path or several.
        include_output: also return the model's own final output (last element), as
            Grad-CAM needs.

    Raises:
        LayerNotFoundError: a name is unknown (the message lists the valid ones).
        CnnSuiteError: a named layer has no single output tensor (used twice, or never).
    """
    names = [names] if isinstance(names, str) else list(names)
    located = [find_layer(model, n) for n in names]
    if any(chain[-1] is not model for chain, _ in located):
        return LayerTap(model, [layer for _, layer in located], include_output)
    outs = [_owner_output(model, layer) for _, layer in located]
    if include_output:
        outs.append(model.outputs[0] if len(model.outputs) == 1 else model.outputs)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outs, name=f"{model.name}_features")


def layer_outputs(model: keras.Model, images: np.ndarray, names: Sequence[str]) -> dict:
    """Run ``images`` and return ``{name: NumPy output}`` for each named layer."""
    fm = feature_model(model, list(names))
    outs = fm(np.asarray(images, dtype="float32"), training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: keras.ops.convert_to_numpy(o) for n, o in zip(names, outs, strict=True)}
