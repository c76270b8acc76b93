"""The layers that make masks: ``Masking`` (steps whose features all equal a value) and
``Embedding`` (with ``mask_zero``, the padding id 0). Their masks flow to the next layers as in
Keras 3 (``Layer.supports_masking``, ``compute_mask``): the recurrent layers skip the masked steps,
and the loss and metrics leave them out."""

from __future__ import annotations

import numbers

import numpy as np

from .base import Layer, _initializer, _positive_int


class Masking(Layer):
    """Masks the steps whose features all equal ``mask_value``, and zeroes them, as Keras 3.

    x (B, T, F) -> x * mask[..., None]; mask (B, T) = any(x != mask_value, axis=-1).
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)
        self._keep = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) < 2:
            raise ValueError(
                "Masking expects inputs of shape (batch, timesteps, features), i.e. an input_shape "
                f"of at least 2 values; got input_shape {tuple(input_shape)}"
            )

    def compute_mask(self, inputs, mask=None):
        return np.any(inputs != inputs.dtype.type(self.mask_value), axis=-1)

    def forward(self, x, training=False, mask=None):
        keep = np.any(x != x.dtype.type(self.mask_value), axis=-1, keepdims=True)
        self._keep = keep if training else None
        return x * keep.astype(x.dtype)

    def backward(self, dy):
        if self._keep is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        keep, self._keep = self._keep, None
        return dy * keep.astype(dy.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mask_value=self.mask_value)
        return config


class Embedding(Layer):
    """Turns integer ids (B, T) into vectors (B, T, output_dim): ``embeddings[ids]``, Keras 3.

    ``embeddings`` (input_dim, output_dim), initialized ``"uniform"`` (U(-0.05, 0.05)) by default.
    ``mask_zero=True`` masks the steps whose id is 0 (the padding of ``pad_sequences``); then id 0
    is reserved, and ``input_dim`` counts it. Ids come as integers, or as floats holding whole
    numbers (a model's inputs are stored in its float dtype); an id outside [0, input_dim) raises
    ValueError. ``input_length`` (Keras 2) sets the input shape (input_length,).
    """

    supports_masking = True
    regularized = {"embeddings": "embeddings"}

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        *,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None:
            if kwargs.get("input_shape") is not None:
                raise TypeError("Embedding: give input_length or input_shape, not both")
            kwargs["input_shape"] = (_positive_int("input_length", input_length),)
        super().__init__(
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            **kwargs,
        )
        self.input_dim = _positive_int("input_dim", input_dim)
        self.output_dim = _positive_int("output_dim", output_dim)
        self.embeddings_initializer = _initializer("embeddings_initializer", embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = None
        if weights is not None:  # Keras 2: Embedding(..., weights=[matrix]) for pretrained vectors
            w = weights[0] if isinstance(weights, (list, tuple)) and len(weights) == 1 else weights
            w = np.asarray(w)
            if w.shape != (self.input_dim, self.output_dim) or w.dtype.kind not in "fiu":
                raise ValueError(
                    f"Embedding: weights must be one numeric array of shape "
                    f"({self.input_dim}, {self.output_dim}), got {w.dtype} {w.shape}"
                )
            self._initial_weights = w
        self._ids = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) < 1:
            raise ValueError(
                "Embedding expects integer ids of shape (batch, timesteps), i.e. an input_shape of "
                f"at least 1 value; got input_shape {tuple(input_shape)}"
            )

    def weight_specs(self, input_shape):
        return [("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)]

    def output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def _initial_value(self, name, shape, init, rng, dtype):
        if self._initial_weights is not None:
            return self._initial_weights.astype(dtype)
        return super()._initial_value(name, shape, init, rng, dtype)

    def _as_ids(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind == "f":
            ids = x.astype(np.intp)
            if not np.array_equal(ids, x):
                bad = x[ids != x].flat[0]
                raise ValueError(f"Embedding expects integer ids, got {bad!r}")
        elif x.dtype.kind in "iu":
            ids = x.astype(np.intp, copy=False)
        else:
            raise TypeError(f"Embedding expects integer ids, got dtype {x.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids[(ids < 0) | (ids >= self.input_dim)].flat[0]
            raise ValueError(f"Embedding got id {bad}, outside [0, input_dim={self.input_dim})")
        return ids

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def forward(self, x, training=False, mask=None):
        ids = self._as_ids(x)
        self._ids = ids if training else None
        return self.params["embeddings"][ids]

    def backward(self, dy):
        if self._ids is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        ids, self._ids = self._ids, None
        grad = self.grads["embeddings"]
        grad[...] = 0
        np.add.at(grad, ids.reshape(-1), dy.reshape(-1, self.output_dim))
        return np.zeros(ids.shape, dtype=dy.dtype)  # ids have no gradient

    def step(self, x_t):
        return self.forward(x_t)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer=self.embeddings_initializer,
            mask_zero=self.mask_zero,
        )
        return config
