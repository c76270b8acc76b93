"""``Sequential``: a stack of layers with Keras's compile / fit / evaluate / predict, and saving.

The model owns one flat parameter buffer and one gradient buffer (``params.py``); the layers hold
named views into them, and the optimizer updates the whole model in one pass per batch.

Training step: forward through the layers with ``training=True`` (each keeps what its backward
needs), loss and its gradient, backward through the layers in reverse (each writes its weights'
gradients), one optimizer update.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
import warnings

import numpy as np

from . import _data, initializers, losses, optimizers
from . import callbacks as callbacks_module
from .engine import _validate
from .io import modelfile
from .io.modelfile import FORMAT_VERSION
from .layers import RNN, Input, Layer, Recurrent, get_layer_class
from .metrics import get_metric
from .params import ParameterBuffer

__all__ = ["Sequential", "load_model", "model_from_json", "FORMAT_VERSION"]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _verbose(value, auto: int) -> int:
    if value == "auto":
        return auto
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {value!r}")
    return int(value)


def _logs(logs: dict, return_dict: bool):
    """Keras's return of evaluate and the *_on_batch methods: the dict, or the loss alone, or
    [loss, *metrics]."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _result(metric):
    """A metric's result for the logs: a float, or a list (one value per threshold, as Keras)."""
    r = np.asarray(metric.result())
    return float(r) if r.ndim == 0 else r.tolist()


def _batch_size(value) -> int:
    if value is None:
        return 32
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"batch_size must be a positive int, got {value!r}")
    return int(value)


class _Progress:
    """predict's progress bar, as Keras's: ``k/n ━━━━━━━━━━ 0s 2ms/step`` on one line."""

    def __init__(self, total, verbose: int, stream=None):
        self.total, self.verbose, self.stream = total, verbose, stream or sys.stdout
        self.start = time.perf_counter()

    def _text(self, k: int) -> str:
        elapsed = time.perf_counter() - self.start
        per = elapsed / max(k, 1)
        unit = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
        if self.total:
            done = int(20 * k / self.total)
            return f"{k}/{self.total} {'━' * done}{' ' * (20 - done)} {elapsed:.0f}s {unit}"
        return f"{k}/Unknown {elapsed:.0f}s {unit}"

    def update(self, k: int) -> None:
        if self.verbose == 1:
            self.stream.write("\r" + self._text(k))
            self.stream.flush()

    def close(self, k: int) -> None:
        self.stream.write(("\r" if self.verbose == 1 else "") + self._text(k) + "\n")
        self.stream.flush()


def _target_array(y, n: int, want: tuple, loss, dtype, name: str, which: str) -> np.ndarray:
    """One output's targets, checked and converted: numeric, one per sample (n), of shape (n,
    *want) (None in want: any size; (n,) for want (1,)), except for a sparse categorical loss
    (class indices); finite; contiguous in dtype. which: the output, for the messages."""
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {y.dtype}")
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{name} must have one target per sample ({n}), got shape {y.shape}")
    if not isinstance(loss, losses.SparseCategoricalCrossentropy):
        if y.ndim == 1 and want == (1,):
            y = y.reshape(n, 1)
        if y.ndim != len(want) + 1 or any(
            w is not None and w != s for s, w in zip(y.shape[1:], want, strict=True)
        ):
            raise ValueError(
                f"{name} must have shape (batch, {', '.join(map(str, want))}) {which}, got {y.shape}"
            )
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{name} must be finite")
    return y


class Sequential:
    """A linear stack of layers, as ``keras.Sequential``.

    >>> model = Sequential([LSTM(50, activation='relu', input_shape=(3, 1)), Dense(1)])
    >>> model.compile(optimizer='adam', loss='mse')
    >>> history = model.fit(X, y, epochs=200, verbose=0)

    ``dtype`` is the dtype of the weights and of the computation (float32 or float64); inputs are
    converted to it.
    """

    def __init__(self, layers=None, name=None, dtype="float32"):
        self.name = name or "sequential"
        self.dtype = _validate.dtype_of(np.empty(0, dtype=dtype))
        self.layers: list[Layer] = []
        self.input_shape: tuple[int, ...] | None = None  # without the batch axis
        self.buffer: ParameterBuffer | None = None
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self.compiled = False
        self.stop_training = False
        self.history = None
        for layer in layers or []:
            self.add(layer)

    def __setstate__(self, state):
        """Unpickling: the layers' weights become views of the model's buffer again."""
        self.__dict__.update(state)
        if self.buffer is not None:
            for layer in self.layers:
                prefix = f"{layer.name}/"
                if any(n.startswith(prefix) for n in self.buffer.names):
                    layer.bind(self.buffer, prefix)
            self._weights_changed()

    # Structure --------------------------------------------------------------------------------------

    def add(self, layer) -> None:
        """Append a layer; the first may be an ``Input`` or carry ``input_shape``."""
        self._append(layer)
        if self.input_shape is not None and self.layers:
            self.build()

    def _append(self, layer) -> None:
        """``add`` without the build."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes lstmcore layers, got {type(layer).__name__}")
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError("an Input can only be the first element of a Sequential")
            self.input_shape = layer.input_shape
            return
        if getattr(layer, "merge_mode", "concat") is None:
            raise ValueError(
                f"layer {layer.name or type(layer).__name__} has merge_mode=None and returns two "
                "arrays: a Sequential passes one from layer to layer; choose a merge mode"
            )
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"layer {layer.name or type(layer).__name__} has return_state=True: a Sequential passes "
                "one array from layer to layer; use the functional API for the states: "
                "out, h, c = LSTM(n, return_state=True)(inputs); Model(inputs, [out, h, c])"
            )
        if layer.built and self.layers:
            raise ValueError("a layer that is already built can only be the first of a Sequential")
        if layer.name is None:
            layer.name = self._unique_name(_snake(type(layer).__name__))
        elif any(other.name == layer.name for other in self.layers):
            raise ValueError(f"layer names must be unique in a model; {layer.name!r} is already used")
        if not self.layers and layer.input_shape is not None and self.input_shape is None:
            self.input_shape = layer.input_shape
        self.layers.append(layer)

    def pop(self) -> Layer:
        if not self.layers:
            raise ValueError("there is no layer to pop")
        layer = self.layers.pop()
        if self.input_shape is not None and self.layers:
            self.build()
        return layer

    def _unique_name(self, base: str) -> str:
        names = {layer.name for layer in self.layers}
        if base not in names:
            return base
        k = 1
        while f"{base}_{k}" in names:
            k += 1
        return f"{base}_{k}"

    @property
    def built(self) -> bool:
        return self.buffer is not None

    def build(self, input_shape=None, *, initialize=True) -> None:
        """Create the weights for inputs of ``input_shape`` (Keras style: with the batch axis,
        ``(None, T, F)``; a shape without it is accepted too).

        ``initialize=False`` runs no initializer: new weights stay zero, for a caller that sets them
        all next (loading), so that a big model builds in the time of an allocation.
        """
        if input_shape is not None:
            shape = tuple(input_shape)
            if shape and shape[0] is None:
                shape = shape[1:]
            if self.input_shape is not None and tuple(shape) != tuple(self.input_shape):
                raise ValueError(
                    f"model {self.name!r} was declared for inputs {self.input_shape}, got {shape}"
                )
            self.input_shape = tuple(None if s is None else int(s) for s in shape)
        if self.input_shape is None:
            raise ValueError(
                "the model needs an input shape: pass input_shape= to the first layer, "
                "start with Input(shape), or call build((None, T, F))"
            )
        if not self.layers:
            raise ValueError("the model has no layers")
        old = {layer.name: dict(layer.params) for layer in self.layers if layer.params}
        shape = self.input_shape
        for layer in self.layers:
            if layer.built and layer.build_shape != tuple(shape):
                raise ValueError(
                    f"layer {layer.name!r} was built for inputs {layer.build_shape}, got {shape}"
                )
            if not layer.built:
                layer.build(shape, initializers.new_rng())
            shape = layer.output_shape(shape)
        specs = [
            (f"{layer.name}/{n}", s)
            for layer in self.layers
            for n, s, _ in layer.weight_specs(layer.build_shape)
        ]
        buffer = ParameterBuffer(specs, self.dtype)
        for layer in self.layers:
            rng = initializers.new_rng()
            for n, s, init in layer.weight_specs(layer.build_shape):
                view = buffer.param_views[f"{layer.name}/{n}"]
                if layer.name in old and n in old[layer.name]:
                    view[...] = old[layer.name][n]
                elif initialize:
                    view[...] = layer._initial_value(n, s, init, rng, self.dtype)
            layer.bind(buffer, f"{layer.name}/")
        self.buffer = buffer
        self._weights_changed()
        if self.optimizer is not None:
            self.optimizer.build(buffer.params, buffer.slices)

    def _weight_shapes(self, input_shape) -> list[tuple[int, ...]]:
        """The shapes the weights will have for inputs of ``input_shape``, without building anything."""
        shapes, shape = [], tuple(input_shape)
        for layer in self.layers:
            layer._check_input_shape(shape)
            shapes += [s for _, s, _ in layer.weight_specs(shape)]
            shape = layer.output_shape(shape)
        return shapes

    @property
    def output_shape(self) -> tuple:
        if self.input_shape is None:
            raise ValueError("the model is not built yet")
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return (None, *shape)

    def count_params(self) -> int:
        return 0 if self.buffer is None else self.buffer.size

    # Weights ----------------------------------------------------------------------------------------

    @property
    def weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_layer(self, name=None, index=None) -> Layer:
        """A layer by name or by index (Keras's get_layer)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer takes a name or an index (one of them)")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"index must be an int, got {index!r}")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"index {index} is out of range for a model of {len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")

    def to_json(self, **kwargs) -> str:
        """The model's structure as JSON (no weights), for ``lstmcore.models.model_from_json``;
        ``kwargs`` go to ``json.dumps`` (indent=2, ...)."""
        import json

        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, layer by layer, in Keras's order and layouts."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"set_weights expects a list of {len(mine)} arrays, got {len(weights)}")
        arrays = []
        for k, (w, new) in enumerate(zip(mine, weights, strict=True)):
            new = np.asarray(new)
            if new.shape != w.shape:
                raise ValueError(f"weight {k} must have shape {w.shape}, got {new.shape}")
            if new.dtype.kind not in "fiu":
                raise TypeError(f"weight {k} must be a numeric array, got dtype {new.dtype}")
            arrays.append(new)
        for w, new in zip(mine, arrays, strict=True):
            w[...] = new
        self._weights_changed()

    # Compile and the training step ------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, loss and metrics, by Keras name or as objects."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str):
            metrics = [metrics]
        self.metrics = [get_metric(m, loss=self.loss) for m in metrics]
        if self.built:
            self.optimizer.build(self.buffer.params, self.buffer.slices)
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"call compile(optimizer=..., loss=...) before {what}()")

    def _forward(self, x, training: bool):
        return self._forward_masked(x, training)[0]

    def _forward_masked(self, x, training: bool):
        """The output and its mask (Keras 3's rules, ``Layer.supports_masking``): a layer that
        supports masking gets the mask of its input and gives ``compute_mask``'s to the next; one
        that does not drops it (with a warning, once per layer, as Keras)."""
        mask = None
        self._activity, self._activity_outs = 0.0, {}
        for i, layer in enumerate(self.layers):
            if layer.supports_masking:
                if layer._forward_takes_mask():
                    out = layer.forward(x, training=training, mask=mask)
                else:
                    out = layer.forward(x, training=training)
                mask = layer.compute_mask(x, mask)
            else:
                if mask is not None and not getattr(layer, "_warned_mask", False):
                    layer._warned_mask = True
                    warnings.warn(
                        f"layer {layer.name!r} ({type(layer).__name__}) does not support masking: "
                        "the mask of its input stops there, and the layers after it and the loss "
                        "see every step",
                        stacklevel=3,
                    )
                out = layer.forward(x, training=training)
                mask = None
            if layer.activity_regularizer is not None:
                self._activity += layer.activity_penalty(out)
                if training:
                    self._activity_outs[i] = out
            x = out
        return x, mask

    @property
    def losses(self) -> list[float]:
        """Keras's ``model.losses``: each regularized weight's penalty now, layer by layer (what
        fit adds to the loss; the activity regularizers' penalties, which depend on the inputs,
        are added by fit and evaluate and are not listed here)."""
        return [p for layer in self.layers for p in layer.weight_penalties()]

    def _penalty(self, gradients: bool = False) -> float:
        """The layers' weight regularizers' penalty (Keras adds it to the loss it minimises and
        reports); ``gradients``: their gradients added to the gradient buffer too."""
        return sum(layer.penalty(gradients) for layer in self.layers)

    @staticmethod
    def _loss_weight(mask, out, sample_weight=None) -> np.ndarray | None:
        """The loss weights of an output: its mask as Keras 3 weighs it (the loss is the mean over
        the unmasked steps), where the mask covers the output's leading axes, times the sample
        weights ((B,) or (B, T)) as Keras's apply_mask; None when there are neither."""
        w = None
        if mask is not None and mask.shape == out.shape[: out.ndim - 1]:
            w = losses.mask_weight(mask, out.dtype)
        if sample_weight is None:
            return w
        sw = np.asarray(sample_weight, dtype=out.dtype)
        if w is None:
            return sw
        if sw.ndim > w.ndim:
            sw = sw.reshape(sw.shape[: w.ndim])
        return w * sw.reshape(sw.shape + (1,) * (w.ndim - sw.ndim))

    @staticmethod
    def _metric_weight(mask, out, sample_weight=None) -> np.ndarray | None:
        """Keras 3's metric weights: the mask as 0/1 times the sample weights."""
        w = None
        if mask is not None and mask.shape == out.shape[: out.ndim - 1]:
            w = mask.astype(out.dtype)
        if sample_weight is None:
            return w
        sw = np.asarray(sample_weight, dtype=out.dtype)
        if w is None:
            return sw
        return w * sw.reshape(sw.shape + (1,) * (w.ndim - sw.ndim))

    def _update_metrics(self, y, out, mask, sample_weight=None) -> None:
        weight = self._metric_weight(mask, out, sample_weight)
        for m in self.metrics:
            if weight is None:
                m.update(y, out)
            else:
                m.update(y, out, sample_weight=weight)

    def _train_step(self, x, y, sample_weight=None) -> tuple[float, np.ndarray, np.ndarray | None]:
        out, mask = self._forward_masked(x, training=True)
        weight = self._loss_weight(mask, out, sample_weight)
        loss = self.loss.forward(y, out, sample_weight=weight)
        dy = self.loss.backward(y, out, sample_weight=weight)
        activity = self._activity
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i in self._activity_outs:
                dy = dy + layer.activity_gradient(self._activity_outs.pop(i))
            dy = layer.backward(dy)
        loss = loss + self._penalty(gradients=True) + activity
        self._apply_gradients()
        return loss, out, mask

    def _batch_loss(self, x, y, sample_weight=None):
        """Inference on one batch: (loss, output, mask)."""
        out, mask = self._forward_masked(x, training=False)
        loss = self.loss.forward(y, out, sample_weight=self._loss_weight(mask, out, sample_weight))
        return loss + self._penalty() + self._activity, out, mask

    def _predict_outputs(self, x) -> list[np.ndarray]:
        return [self._forward(x, training=False)]

    def _apply_gradients(self) -> None:
        """One optimizer update from the gradient buffer the layers' backwards wrote."""
        # Frozen layers (trainable=False, as Keras) keep their weights: the optimizer runs over the
        # whole flat buffer in one pass, and their slices are put back after it; so do the weights
        # a layer updates itself (BatchNormalization's moving statistics, ``non_trainable_names``).
        frozen = [(w, w.copy()) for layer in self.layers if not layer.trainable for w in layer.weights]
        frozen += [
            (layer.params[n], layer.params[n].copy())
            for layer in self.layers
            if layer.trainable
            for n in layer.non_trainable_names
        ]
        self.optimizer.apply(self.buffer.params, self.buffer.grads)
        for w, saved in frozen:
            w[...] = saved
        for layer in self.layers:  # Keras projects constrained weights after the step
            layer.constrain()
        self._weights_changed()

    def _weights_changed(self) -> None:
        for layer in self.layers:
            layer.weights_changed()

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch, as Keras 3's: the batch loss (before the step), or
        [loss, *metrics] where the model has metrics (on this batch alone), or a dict."""
        self._require_compiled("train_on_batch")
        x, y, sw = self._prepare_batch(x, y, sample_weight, class_weight)
        for m in self.metrics:
            m.reset()
        loss, out, mask = self._train_step(x, y, sw)
        self._update_metrics(y, out, mask, sw)
        return _logs({"loss": float(loss), **{m.name: _result(m) for m in self.metrics}}, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch in inference mode, as Keras 3's ``test_on_batch``."""
        self._require_compiled("test_on_batch")
        x, y, sw = self._prepare_batch(x, y, sample_weight)
        return _logs(self._evaluate_source(_data.ArrayBatches(x, y, sw, x.shape[0])), return_dict)

    def predict_on_batch(self, x):
        """``predict`` of one batch (Keras 3's ``predict_on_batch``)."""
        return self.predict(x, batch_size=max(1, len(self._prepare_x(x))), verbose=0)

    def _prepare_batch(self, x, y, sample_weight=None, class_weight=None, what="x"):
        x = self._prepare_x(x, what)
        if y is None:
            raise ValueError(
                f"{what} gave no targets: a batch for fit or evaluate is (x, y) or (x, y, sample_weight)"
            )
        y = self._prepare_y(y, x.shape[0])
        return x, y, self._prepare_sample_weight(sample_weight, class_weight, y, x.shape[0])

    def _prepare_sample_weight(self, sample_weight, class_weight, y, n: int):
        """Per-sample weights (n,) or (n, T) from ``sample_weight`` and ``class_weight`` (a dict
        class -> weight, the class of a sample being its target's argmax for one-hot targets, else
        the target rounded), as Keras's fit; None when neither is given."""
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight)
            if sw.dtype.kind not in "fiub":
                raise TypeError(f"sample_weight must be a numeric array, got dtype {sw.dtype}")
            if sw.ndim == 0 or sw.shape[0] != n or sw.ndim > 3:
                raise ValueError(f"sample_weight must have shape ({n},) or ({n}, T), got {sw.shape}")
            sw = sw.astype(self.dtype)
            if not np.isfinite(sw).all() or (sw < 0).any():
                raise ValueError("sample_weight must be finite and non-negative")
        if class_weight is not None:
            if not isinstance(class_weight, dict) or not class_weight:
                raise TypeError(f"class_weight must be a dict class -> weight, got {class_weight!r:.80}")
            target = y.arrays[0] if hasattr(y, "arrays") else y
            classes = (
                np.argmax(target, axis=-1)
                if target.ndim >= 2 and target.shape[-1] > 1
                else np.rint(target.reshape(target.shape[0], -1)[:, 0])
            ).astype(np.int64)
            if classes.ndim > 1:
                raise ValueError(
                    "class_weight needs one class per sample (targets of shape (n,), (n, 1) or (n, C))"
                )
            table = {int(k): float(v) for k, v in class_weight.items()}
            missing = sorted(set(np.unique(classes).tolist()) - set(table))
            if missing:
                raise ValueError(f"class_weight has no weight for the classes {missing}")
            cw = np.array([table[int(c)] for c in classes], dtype=self.dtype)
            sw = cw if sw is None else sw * cw.reshape(cw.shape + (1,) * (sw.ndim - 1))
        return sw

    # Data -------------------------------------------------------------------------------------------

    def _prepare_x(self, x, name="x") -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError(f"{name} must have a batch axis, got a scalar")
        if self.input_shape is None:
            self.build(x.shape[1:])
        elif not self.built:
            self.build()
        want = self.input_shape
        if len(x.shape) != len(want) + 1 or any(
            w is not None and w != s for s, w in zip(x.shape[1:], want, strict=False)
        ):
            hint = ""
            if x.ndim == len(want) and x.shape[1:] == tuple(want[:-1]) and want[-1] == 1:
                hint = f"; add the feature axis with x.reshape({x.shape[0]}, {', '.join(map(str, want))})"
            raise ValueError(
                f"{name} must have shape (batch, {', '.join(map(str, want))}), got {x.shape}{hint}"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if not np.isfinite(x).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"{name} must be finite, got {x[where]} at index {where}")
        return x

    def _prepare_y(self, y, n: int, name="y") -> np.ndarray:
        return _target_array(
            y, n, tuple(self.output_shape[1:]), self.loss, self.dtype, name, "to match the model's output"
        )

    # fit / evaluate / predict -----------------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` passes over the data; returns a ``History``, as Keras's fit.

        ``x`` and ``y`` arrays (lists of arrays for several inputs or outputs), or ``x`` a
        PyDataset (``lstmcore.utils.PyDataset``, Keras's ``Sequence``) or a generator of batches
        ``(x, y)`` / ``(x, y, sample_weight)`` with ``y`` left None. ``sample_weight`` (n,) or
        (n, T) and ``class_weight`` {class: weight} weigh the loss and the metrics as Keras's do;
        ``steps_per_epoch`` bounds the batches per epoch (a generator without it is read until it
        stops). ``validation_data``: (x, y), (x, y, sample_weight), a PyDataset or a generator
        (with ``validation_steps``)."""
        self._require_compiled("fit")
        batch_size = _batch_size(batch_size)
        verbose = _verbose(verbose, 1)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
        steps_per_epoch = _data.positive_steps("steps_per_epoch", steps_per_epoch)
        validation_steps = _data.positive_steps("validation_steps", validation_steps)
        validation_freq = _data.positive_steps("validation_freq", validation_freq)
        cbs = list(callbacks or [])
        for k, cb in enumerate(cbs):
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(
                    f"callbacks[{k}] must be an lstmcore.callbacks.Callback, got {cb!r} "
                    f"(of type {type(cb).__name__})"
                )
        if x is None:
            raise ValueError("fit needs x (arrays, a PyDataset or a generator of batches)")
        src = _data.source(x, "x", steps_per_epoch)
        val = None
        if src is None:
            x, y, sw = self._prepare_batch(x, y, sample_weight, class_weight)
            if validation_data is None and validation_split:
                if not 0 < validation_split < 1:
                    raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
                # Keras: the last fraction of the data, before any shuffling.
                split = int(x.shape[0] * (1 - validation_split))
                if split == 0 or split == x.shape[0]:
                    raise ValueError(
                        f"validation_split={validation_split} leaves an empty training or validation "
                        f"set for {x.shape[0]} samples"
                    )
                val = _data.ArrayBatches(
                    x[split:],
                    y[split:],
                    None if sw is None else sw[split:],
                    validation_batch_size or batch_size,
                )
                x, y, sw = x[:split], y[:split], None if sw is None else sw[:split]
            src = _data.ArrayBatches(x, y, sw, batch_size, steps_per_epoch)
        else:
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"{name} must be None when x is a dataset or generator: its batches carry it"
                    )
            if validation_split:
                raise ValueError(
                    "validation_split needs arrays; give validation_data with a dataset or generator"
                )
        if validation_data is not None:
            val = self._validation_source(
                validation_data, validation_batch_size or batch_size, validation_steps
            )
        history = callbacks_module.History()
        # As Keras: the user's callbacks first, then the progress bar and History, so that what a
        # callback writes into the logs at epoch end (ReduceLROnPlateau's learning_rate) is shown
        # and recorded.
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose))
        cbs.append(history)
        params = {"epochs": epochs, "steps": src.steps, "batch_size": batch_size, "verbose": verbose}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        rng = initializers.new_rng()
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            total, count = 0.0, 0
            for m in self.metrics:
                m.reset()
            logs: dict = {}
            for step, (xb, yb, swb) in enumerate(src.epoch(rng, shuffle)):
                if not src.prepared:
                    xb, yb, swb = self._prepare_batch(xb, yb, swb, class_weight, "x")
                for cb in cbs:
                    cb.on_train_batch_begin(step, {})
                loss, out, mask = self._train_step(xb, yb, swb)
                n = xb.shape[0]
                total += float(loss) * n
                count += n
                self._update_metrics(yb, out, mask, swb)
                logs = {"loss": total / count, **{m.name: _result(m) for m in self.metrics}}
                for cb in cbs:
                    cb.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            src.end_epoch()
            if count == 0:  # a generator that ran out of data: Keras stops training
                break
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_source(val)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        self.history = history
        return history

    def _validation_source(self, data, batch_size, steps):
        src = _data.source(data, "validation_data", steps)
        if src is not None:
            return src
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be (x_val, y_val), (x_val, y_val, sample_weight), a dataset or "
                "a generator"
            )
        x, y, sw = self._prepare_batch(*data, what="x_val")
        return _data.ArrayBatches(x, y, sw, batch_size, steps)

    def _evaluate_source(self, src) -> dict:
        total, count = 0.0, 0
        for m in self.metrics:
            m.reset()
        for xb, yb, swb in src.epoch(None, False):
            if not src.prepared:
                xb, yb, swb = self._prepare_batch(xb, yb, swb, what=src.what)
            loss, out, mask = self._batch_loss(xb, yb, swb)
            n = xb.shape[0]
            total += float(loss) * n
            count += n
            self._update_metrics(yb, out, mask, swb)
        src.end_epoch()
        if count == 0:
            raise ValueError("there was no data to evaluate on")
        return {"loss": total / count, **{m.name: _result(m) for m in self.metrics}}

    def _evaluate_arrays(self, x, y, batch_size, sample_weight=None) -> dict:
        return self._evaluate_source(_data.ArrayBatches(x, y, sample_weight, batch_size))

    @property
    def metrics_names(self) -> list[str]:
        """["loss", *the metrics' names], the order of evaluate's list, as Keras."""
        return ["loss", *(m.name for m in self.metrics)]

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        return_dict=False,
    ):
        """The loss (and metrics) on (x, y) or on a dataset or generator of batches, in inference
        mode: a float, or [loss, *metrics] (``metrics_names``), or a dict."""
        self._require_compiled("evaluate")
        batch_size = _batch_size(batch_size)
        verbose = _verbose(verbose, 1)
        steps = _data.positive_steps("steps", steps)
        src = _data.source(x, "x", steps)
        if src is None:
            x, y, sw = self._prepare_batch(x, y, sample_weight)
            src = _data.ArrayBatches(x, y, sw, batch_size, steps)
        elif y is not None or sample_weight is not None:
            raise ValueError("y and sample_weight must be None when x is a dataset or generator")
        logs = self._evaluate_source(src)
        if verbose:
            print(callbacks_module._format_logs(logs))
        return _logs(logs, return_dict)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` (inference mode: no dropout), ``batch_size`` rows at a time, or for
        each batch of a dataset or generator; ``verbose=1`` shows a progress bar (Keras's "auto"
        shows one too; lstmcore predicts quietly unless asked)."""
        batch_size = _batch_size(batch_size)
        verbose = _verbose(verbose, 0)
        steps = _data.positive_steps("steps", steps)
        src = _data.source(x, "x", steps)
        if src is None:
            x = self._prepare_x(x)
            n = x.shape[0]
            total = math.ceil(n / batch_size) if steps is None else min(steps, math.ceil(n / batch_size))
            batches = (x[k * batch_size : (k + 1) * batch_size] for k in range(total))
        else:
            total = src.steps
            batches = (self._prepare_x(b[0], "x") for b in src.epoch(None, False))
        bar = _Progress(total, verbose) if verbose else None
        parts = []
        for xb in batches:
            parts.append(self._predict_outputs(xb))
            if bar is not None:
                bar.update(len(parts))
        if src is not None:
            src.end_epoch()
        if bar is not None:
            bar.close(len(parts))
        if not parts:
            raise ValueError("there was no data to predict on")
        outs = [p[0] if len(parts) == 1 else np.concatenate(p, axis=0) for p in zip(*parts, strict=True)]
        return outs[0] if getattr(self, "_single_output", True) else outs

    def __call__(self, x, training=False):
        return self._forward(self._prepare_x(x), training=training)

    # Streaming --------------------------------------------------------------------------------------

    def predict_step(self, x_t):
        """One time step of streaming inference, with the LSTM states carried between calls.

        x_t (B, F), (B, 1, F) or (F,) -> the model's output for that step: (B, units), or (units,)
        for a 1-D ``x_t``. After t calls the result equals ``predict`` on the t steps seen so far
        (the last step of it, for ``return_sequences=True``). ``reset_states()`` starts over.

        Each LSTM packs its weights for streaming at the first step and keeps them; ``fit``,
        ``set_weights`` and loading drop the packed copy. After writing into a weight array in
        place, call ``reset_states()`` (which drops it too) before stepping on.
        """
        if not self.built:
            self.build()
        x = x_t if type(x_t) is np.ndarray else np.asarray(x_t)
        squeeze = x.ndim == 1
        if squeeze:
            x = x.reshape(1, -1)
        elif x.ndim == 3 and x.shape[1] == 1:
            x = x.reshape(x.shape[0], x.shape[2])
        F = self.input_shape[-1]
        if x.ndim != 2 or x.shape[1] != F:
            raise ValueError(
                f"predict_step takes one time step of shape (batch, {F}) or ({F},), got {np.shape(x_t)}"
            )
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            if x.dtype.kind not in "fiub":
                raise TypeError(f"x_t must be a numeric array, got dtype {x.dtype}")
            x = np.ascontiguousarray(x, dtype=self.dtype)
        if not _validate._all_finite(x):
            raise ValueError("x_t must be finite")
        for layer in self.layers:
            x = layer.step(x)
        if isinstance(self.layers[-1], (Recurrent, RNN)):
            x = x.copy()  # the stepper's buffer: the caller keeps this one
        return x[0] if squeeze else x

    def reset_states(self) -> None:
        """Forget the carried LSTM states (stateful layers and ``predict_step``)."""
        for layer in self.layers:
            layer.reset_states()
            layer.weights_changed()

    # Display ----------------------------------------------------------------------------------------

    def summary(self, print_fn=None) -> None:
        """Print the layers with their output shapes and parameter counts, as Keras does."""
        print_fn = print_fn or print
        rows = []
        shape = self.input_shape
        for layer in self.layers:
            if shape is not None:
                shape = layer.output_shape(shape)
                out = str((None, *shape))
                params = f"{layer.count_params():,}"
            else:
                out, params = "?", "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", out, params))
        widths = [
            max([len(h)] + [len(r[k]) for r in rows]) + 2
            for k, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
        ]
        line = "".join(
            h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths, strict=True)
        )
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * len(line))
        print_fn(line)
        print_fn("=" * len(line))
        for r in rows:
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print_fn("=" * len(line))
        n = self.count_params()
        print_fn(f"Total params: {n:,} ({n * self.dtype.itemsize / 1024:.2f} KB)")
        frozen = sum(w.size for w in self.non_trainable_weights)
        print_fn(f"Trainable params: {n - frozen:,}")
        print_fn(f"Non-trainable params: {frozen:,}")

    def __repr__(self) -> str:
        return f"<Sequential {self.name!r}: {[layer.name for layer in self.layers]}>"

    # Config, saving, loading ------------------------------------------------------------------------

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype.name,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers
            ],
        }

    def _payload(self, include_optimizer: bool) -> tuple[dict, dict[str, np.ndarray]]:
        if not self.built:
            raise ValueError("the model has no weights yet: build it (or fit it) before saving")
        config = {"model": self.get_config(), "compile": None}
        arrays = {f"weight_{k:04d}": w for k, w in enumerate(self.weights)}
        if include_optimizer and self.compiled:
            config["compile"] = {
                "optimizer": self.optimizer.get_config(),
                "loss": self.loss.get_config(),
                "metrics": [m.get_config() for m in self.metrics],
            }
            for key, value in self.optimizer.get_state().items():
                arrays[f"optimizer_{key}"] = np.asarray(value)
        return config, arrays

    def save(self, filepath, include_optimizer=True) -> None:
        """Write the config, the weights and the optimizer state to one file, atomically
        (``lstmcore.io.modelfile``); ``filepath`` is a str, bytes or os.PathLike path. A path
        ending in ``.keras`` gets Keras 3's format instead (``lstmcore.io.keras_file``: Keras
        loads it; the optimizer's state is not kept), which needs h5py."""
        suffix = os.fsdecode(filepath).lower().rsplit(".", 1)[-1]
        if suffix == "keras":
            from .io import keras_file

            keras_file.save(self, filepath)
            return
        if suffix in ("h5", "hdf5"):
            raise ValueError(
                f"{os.fsdecode(filepath)}: Keras 2's HDF5 model files are not written; save as "
                "'m.keras' (Keras 3 reads it) or 'm.lstmcore' (lstmcore's own format)"
            )
        config, arrays = self._payload(include_optimizer)
        modelfile.write(filepath, "model", config, arrays)

    def export(self, filepath, format="onnx", verbose=True, input_signature=None, opset_version=None):
        """Export for inference, as Keras 3's ``model.export``: ``format="onnx"`` writes an ONNX
        model (``lstmcore.io.onnx_export``: dynamic batch and time axes, opset 17 or newer) that
        ONNX Runtime runs with ``predict``'s outputs; it needs the ``onnx`` package."""
        if format != "onnx":
            raise ValueError(
                f"export writes format='onnx' (Keras's other formats are TensorFlow's), got {format!r}"
            )
        if input_signature is not None:
            raise ValueError(
                "input_signature: the ONNX model takes the model's inputs with free batch and time axes"
            )
        from .io import onnx_export

        onnx_export.export(self, filepath, opset_version=opset_version)
        if verbose:
            print(f"Saved an ONNX model to {os.fsdecode(filepath)}")

    def save_weights(self, filepath) -> None:
        """Write the weights, atomically: a path ending in ``.weights.h5`` gets Keras 3's weights
        file (``lstmcore.io.keras_file``: Keras's ``load_weights`` reads it into the same model;
        the optimizer's state too, as Keras; needs h5py), any other lstmcore's own format."""
        if os.fsdecode(filepath).lower().endswith(".weights.h5"):
            from .io import keras_file

            keras_file.save_weights(self, filepath)
            return
        config, arrays = self._payload(include_optimizer=False)
        modelfile.write(filepath, "weights", config, arrays)

    def load_weights(self, filepath) -> None:
        """Set the weights from a file written by ``save`` or ``save_weights``, or from Keras 3's
        ``.weights.h5`` file of the same model (read by its HDF5 signature; the model must be
        built); an unbuilt model is built for the file's input shape. ValueError for a file that
        does not fit the model."""
        path = os.fsdecode(filepath)
        if modelfile.is_hdf5(path):
            from .io import keras_file

            if not self.built:
                raise ValueError(
                    f"{path}: a Keras weights file does not say the input shape: build the model "
                    "(model.build(input_shape) or an Input) before load_weights"
                )
            keras_file.load_weights(self, path)
            return
        with modelfile.ModelFile(path) as f:
            shape = self.input_shape
            if self.built:
                shapes = [w.shape for w in self.weights]
            else:
                shape = shape or _model_spec(f.config, path)["input_shape"]
                if shape is None:
                    raise ValueError(f"{path}: the file does not say the input shape")
                shapes = self._weight_shapes(shape)
            _check_weights(f.weight_specs, shapes, None, path)
            weights, _ = f.read()  # into new arrays: the model changes only once all is read and checked
        if not self.built:
            self.build(shape, initialize=False)
        self.set_weights(weights)


def model_from_json(json_string: str):
    """A model (new weights) from ``to_json``'s string, as ``keras.models.model_from_json``."""
    import json

    try:
        spec = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_from_json takes the string of model.to_json(): {exc}") from None
    if not isinstance(spec, dict) or spec.get("class_name") not in ("Sequential", "Model"):
        raise ValueError(
            "model_from_json takes the string of model.to_json() (class_name Sequential or Model)"
        )
    model, _ = _model_from_config({"model": spec.get("config")}, "model_from_json")
    if isinstance(model, Sequential) and not model.built and model.input_shape is not None:
        model.build()
    return model


def load_model(filepath, compile=True) -> Sequential:
    """Rebuild a model saved by ``Sequential.save``: config, weights and optimizer state.

    The file is read as data only (no pickle, no code); its weights' shapes and dtypes are checked
    against its config before the model is built, and the weights are read straight into the
    model. A file that is not one ``save`` wrote (truncated, corrupted, crafted, foreign) raises
    ``ValueError``; a missing path raises ``FileNotFoundError``.

    A Keras 3 ``.keras`` file (a zip with config.json and model.weights.h5) is read too
    (``lstmcore.io.keras_file.load``, with h5py), for the layers lstmcore has, and an ONNX model
    (``.onnx``, ``lstmcore.io.onnx_import.load``, with the onnx package).
    """
    path = os.fsdecode(filepath)
    if os.path.isfile(path):
        from .io import keras_file

        if keras_file.is_keras_file(path):
            return keras_file.load(path, compile=compile)
        if path.lower().endswith(".onnx"):
            from .io import onnx_import

            return onnx_import.load(path)
    with modelfile.ModelFile(path) as f:
        model, shapes = _model_from_config(f.config, path)
        _check_weights(f.weight_specs, shapes, model.dtype, path)
        model.build(initialize=False)  # no initializer runs: the file's weights go straight in
        _, state = f.read(weights=model.weights)
    c = f.config.get("compile")
    if compile and c is not None:
        try:
            if not isinstance(c, dict) or not {"optimizer", "loss", "metrics"} <= set(c) <= {
                "optimizer",
                "loss",
                "metrics",
                "loss_weights",
            }:
                raise ValueError(f"expected an object with optimizer, loss and metrics, got {c!r:.200}")
            optimizer = optimizers.get(c["optimizer"])
            if isinstance(c["loss"], list) and isinstance(model, _functional_model()):
                extra = {"loss_weights": c.get("loss_weights")}
                model.compile(
                    optimizer=optimizer,
                    loss=[losses.get(v) for v in c["loss"]],
                    metrics=c["metrics"],
                    **extra,
                )
            else:
                model.compile(optimizer=optimizer, loss=losses.get(c["loss"]), metrics=c["metrics"])
            if state:
                model.optimizer.set_state(state)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: the compile config or optimizer state is malformed: {exc}") from None
    return model


def _functional_model():
    from .functional import Model

    return Model


def _model_from_config(config: dict, path: str) -> tuple[Sequential, list]:
    """The model of a file's config, its layers made but not built, and its weights' shapes."""
    spec = config.get("model")
    if isinstance(spec, dict) and spec.get("functional") is True:
        from .functional import Model

        try:
            model = Model.from_config(spec)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"{path}: the functional model config is malformed: {exc!r:.300}") from None
        return model, [w.shape for w in model.weights]
    spec = _model_spec(config, path)
    try:
        model = Sequential(name=spec["name"], dtype=spec["dtype"])
        model.input_shape = spec["input_shape"]
        for entry in spec["layers"]:
            model._append(get_layer_class(entry["class_name"]).from_config(entry["config"]))
        if model.input_shape is None:
            raise ValueError("it has no input shape")
        if not model.layers:
            raise ValueError("it has no layers")
        shapes = model._weight_shapes(model.input_shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the model config is malformed: {exc}") from None
    return model, shapes


def _model_spec(config: dict, path: str) -> dict:
    """The ``model`` part of a file's config, its structure checked (each layer checks its own config)."""
    spec = config.get("model")
    if not isinstance(spec, dict) or not {"name", "dtype", "input_shape", "layers"} <= set(spec):
        raise ValueError(f"{path}: the config has no model with name, dtype, input_shape and layers")
    shape, layers = spec["input_shape"], spec["layers"]
    if not isinstance(spec["name"], str):
        key, expected = "name", "a string"
    elif spec["dtype"] not in ("float32", "float64"):
        key, expected = "dtype", "'float32' or 'float64'"
    elif shape is not None and not (
        isinstance(shape, list)
        and 0 < len(shape) <= 32
        and all(s is None or (type(s) is int and s > 0) for s in shape)
    ):
        key, expected = "input_shape", "null or a list of positive ints and nulls"
    elif not isinstance(layers, list) or not all(
        isinstance(e, dict) and set(e) == {"class_name", "config"} and isinstance(e["config"], dict)
        for e in layers
    ):
        key, expected = "layers", "a list of {class_name, config} objects"
    else:
        return {**spec, "input_shape": None if shape is None else tuple(shape)}
    raise ValueError(
        f"{path}: the model config is malformed: {key} must be {expected}, got {spec[key]!r:.100}"
    )


def _check_weights(weights: list, shapes: list, dtype, path: str) -> None:
    """The file's weights against the model's shapes (and dtype), before anything is built."""
    if len(weights) != len(shapes):
        raise ValueError(f"{path}: the file holds {len(weights)} weights, the model has {len(shapes)}")
    for k, (w, shape) in enumerate(zip(weights, shapes, strict=True)):
        if w.shape != tuple(shape):
            raise ValueError(f"{path}: weight {k} has shape {w.shape}, the model expects {tuple(shape)}")
        if dtype is not None and w.dtype != dtype:
            raise ValueError(f"{path}: weight {k} has dtype {w.dtype}, the model's dtype is {dtype}")
