"""Find layers by name in plain or nested Keras 3 models and read their outputs.

Transfer-learning models usually nest a whole backbone as one layer
(``Input -> preprocessing -> MobileNet -> head``), so an inner layer such
as ``conv_pw_13_relu`` is not reachable with ``model.get_layer``, and its symbolic output
belongs to the backbone's own graph. :func:`feature_model` handles both cases: layers of
the model itself are wired directly; layers inside a nested model are reached by
re-running the outer chain of layers with the nested model replaced by one that also
returns the inner outputs. The rebuilt model is checked numerically against the original.
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


def feature_model(
    model: keras.Model, names: str | Sequence[str], include_output: bool = False
) -> keras.Model:
    """A model from ``model``'s input to the outputs of the named layers.

    Args:
        model: a built functional or Sequential Keras model; named layers may sit inside
            one nested model (a backbone).
        names: one layer name/path or several.
        include_output: also return the model's own final output (last element), as
            Grad-CAM needs.

    Raises:
        LayerNotFoundError: a name is unknown (the message lists the valid ones).
        CnnSuiteError: the layers sit in more than one nested model, deeper than one
            level, or the outer model is not a simple chain around the nested model.
    """
    names = [names] if isinstance(names, str) else list(names)
    located = [find_layer(model, n) for n in names]
    owners = {id(chain[-1]): chain for chain, _ in located}
    if len(owners) == 1 and next(iter(owners.values()))[-1] is model:
        outs = [_owner_output(model, layer) for _, layer in located]
        if include_output:
            outs.append(model.outputs[0] if len(model.outputs) == 1 else model.outputs)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, outs, name=f"{model.name}_features")
    nested = [c for c in owners.values() if c[-1] is not model]
    if len(nested) > 1 or any(len(c) > 2 for c in nested):
        raise CnnSuiteError(
            "feature_model supports layers of the model itself plus one directly nested "
            f"model; got layers in {[c[-1].name for c in nested]}"
        )
    inner = nested[0][1]
    inner_names = [layer.name for chain, layer in located if chain[-1] is inner]
    outer_names = [layer.name for chain, layer in located if chain[-1] is model]
    sub = keras.Model(
        inner.inputs[0] if len(inner.inputs) == 1 else inner.inputs,
        [_owner_output(inner, inner.get_layer(n)) for n in inner_names] + list(inner.outputs),
        name=f"{inner.name}_features",
    )
    inp = keras.Input(shape=model.inputs[0].shape[1:], name="features_input")
    x, found = inp, {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer is inner:
            res = sub(x)
            found.update(zip(inner_names, res[: len(inner_names)], strict=True))
            x = res[len(inner_names)]
        else:
            x = layer(x)
        if layer.name in outer_names:
            found[layer.name] = x
    outs = [found[layer.name] for _, layer in located]
    _check_chain(model, keras.Model(inp, x))
    return keras.Model(inp, outs + [x] if include_output else outs, name=f"{model.name}_features")


def _check_chain(model: keras.Model, rebuilt: keras.Model) -> None:
    """Compare the rebuilt chain's final output with the original model on random input."""
    shape = tuple(d or 8 for d in model.inputs[0].shape[1:])
    probe = np.random.default_rng(0).uniform(0, 255, (1, *shape)).astype("float32")
    want = keras.ops.convert_to_numpy(model(probe, training=False))
    got = keras.ops.convert_to_numpy(rebuilt(probe, training=False))
    if want.shape != got.shape or not np.allclose(want, got, rtol=1e-4, atol=1e-4):
        raise CnnSuiteError(
            f"model {model.name!r} is not a simple chain of layers around its nested model; "
            "build it with the backbone's layers at top level (input_tensor=...) instead"
        )


def layer_outputs(model: keras.Model, images: np.ndarray, names: Sequence[str]) -> dict:
    """Run ``images`` and return ``{name: NumPy output}`` for each named layer."""
    fm = feature_model(model, list(names))
    outs = fm(np.asarray(images, dtype="float32"), training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: keras.ops.convert_to_numpy(o) for n, o in zip(names, outs, strict=True)}
