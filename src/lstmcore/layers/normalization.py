"""``LayerNormalization`` and ``BatchNormalization``, with Keras 3's arguments, weights and maths.

Both give y = (x - mean) / sqrt(var + epsilon) * gamma + beta. LayerNormalization takes the
statistics of each sample over ``axis``; BatchNormalization those of the batch over every axis but
the feature ``axis`` in training (and updates its moving statistics), and uses the moving ones in
inference. Axes count the batch axis as 0, as in Keras.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Layer, _initializer


def _none_only(layer: str, **values) -> None:
    for key, value in values.items():
        if value is not None:
            raise TypeError(f"{layer}: lstmcore has no {key}; leave it None, got {value!r}")


def _bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _float(name: str, value, lo: float, hi: float = math.inf) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi or math.isinf(value):
        raise ValueError(f"{name} must be a finite float in [{lo}, {hi}], got {value!r}")
    return float(value)


def _epsilon(value) -> float:
    # Keras takes 0 too, and divides by zero on a constant feature: refused here.
    value = _float("epsilon", value, 0.0)
    if value <= 0:
        raise ValueError(f"epsilon must be a float > 0, got {value!r}")
    return value


def _rsqrt(v: np.ndarray) -> np.ndarray:
    """1 / sqrt(v), v = var + epsilon, kept above the dtype's smallest normal number (an epsilon
    under float32's range rounds to 0)."""
    return 1 / np.sqrt(np.maximum(v, np.finfo(v.dtype).tiny))


def _axis_int(value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"axis must be an int or a list of ints, got {value!r}")
    return int(value)


class _Normalization(Layer):
    supports_masking = True
    regularized = {"gamma": "gamma", "beta": "beta"}

    def _axes(self, ndim: int) -> tuple[int, ...]:
        """The normalized axes of an input of ``ndim`` axes (batch included), sorted, each >= 1."""
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        resolved = sorted({a + ndim if a < 0 else a for a in axes})
        if len(resolved) != len(axes) or not all(1 <= a < ndim for a in resolved):
            raise ValueError(
                f"{type(self).__name__}: axis {self._axis_config()} does not fit inputs of {ndim} axes "
                f"(batch included): expected distinct axes in 1..{ndim - 1} or -{ndim - 1}..-1"
            )
        return tuple(resolved)

    def _axis_config(self):
        return list(self.axis) if isinstance(self.axis, tuple) else self.axis

    def _check_input_shape(self, input_shape) -> None:
        self._axes(len(input_shape) + 1)

    def _feature_shape(self, input_shape) -> tuple[int, ...]:
        return tuple(input_shape[a - 1] for a in self._axes(len(input_shape) + 1))

    def weight_specs(self, input_shape):
        """gamma (scale) and beta (center), over the normalized axes' sizes."""
        shape = self._feature_shape(input_shape)
        specs = []
        if self.scale:
            specs.append(("gamma", shape, self.gamma_initializer))
        if self.center:
            specs.append(("beta", shape, self.beta_initializer))
        return specs

    def _check_x(self, x) -> tuple[int, ...]:
        axes = self._axes(len(self.build_shape) + 1)
        if x.ndim != len(self.build_shape) + 1 or any(x.shape[a] != self.build_shape[a - 1] for a in axes):
            want = ", ".join(map(str, self.build_shape))
            raise ValueError(
                f"{type(self).__name__} {self.name!r} was built for inputs of shape (batch, {want}) "
                f"(normalized axes {axes}), got {x.shape}"
            )
        if x.size == 0:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs a non-empty input, got {x.shape}")
        return axes

    def _broadcast(self, w, x_ndim: int, axes) -> np.ndarray:
        shape = [1] * x_ndim
        for k, a in enumerate(axes):
            shape[a] = w.shape[k]
        return w.reshape(shape)

    def step(self, x_t):
        """One time step x_t (B, F): only where the layer normalizes the last axis alone."""
        nd = len(self.build_shape) + 1
        if self._axes(nd) != (nd - 1,) or x_t.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} normalizes axes {self._axes(nd)} of its inputs: "
                "it can run one step (batch, features) at a time only on the last axis"
            )
        B, F = x_t.shape
        return self.forward(x_t.reshape(B, *(1,) * (nd - 2), F), training=False).reshape(B, F)


class LayerNormalization(_Normalization):
    """Normalizes each sample over ``axis`` (an int or a list of ints). gamma and beta have the
    shape of those axes. The mask passes through unused, as in Keras."""

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling=False,
        **kwargs,
    ):
        super().__init__(
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
            **kwargs,
        )
        if isinstance(axis, (tuple, list)):
            if not axis:
                raise ValueError(f"axis must be an int or a non-empty list of ints, got {axis!r}")
            self.axis = tuple(_axis_int(a) for a in axis)
        else:
            self.axis = _axis_int(axis)
        self.epsilon = _epsilon(epsilon)
        self.center = _bool("center", center)
        self.scale = _bool("scale", scale)
        self.beta_initializer = _initializer("beta_initializer", beta_initializer)
        self.gamma_initializer = _initializer("gamma_initializer", gamma_initializer)
        if rms_scaling is not False:
            raise TypeError(
                f"LayerNormalization: rms_scaling is deprecated in Keras and not in lstmcore; leave it "
                f"False, got {rms_scaling!r}"
            )
        self._cache = None

    def forward(self, x, training=False, mask=None):
        # x (B, ...) | mean, r (x's shape, 1 on the other axes) | gamma, beta (sizes of the axes)
        axes = self._check_x(x)
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        r = _rsqrt((xc * xc).mean(axis=axes, keepdims=True) + x.dtype.type(self.epsilon))
        xhat = xc * r
        y = xhat * self._broadcast(self.params["gamma"], x.ndim, axes) if self.scale else xhat.copy()
        if self.center:
            y += self._broadcast(self.params["beta"], x.ndim, axes)
        self._cache = (xhat, r, axes) if training else None
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        xhat, r, axes = self._cache
        self._cache = None
        others = tuple(a for a in range(dy.ndim) if a not in axes)
        dxhat = dy * self._broadcast(self.params["gamma"], dy.ndim, axes) if self.scale else dy
        if self.scale:
            self.grads["gamma"][...] = (dy * xhat).sum(axis=others)
        if self.center:
            self.grads["beta"][...] = dy.sum(axis=others)
        # dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), the means over the normalized axes
        mean_d = dxhat.mean(axis=axes, keepdims=True)
        mean_dx = (dxhat * xhat).mean(axis=axes, keepdims=True)
        return r * (dxhat - mean_d - xhat * mean_dx)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            axis=self._axis_config(),
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=self.beta_initializer,
            gamma_initializer=self.gamma_initializer,
        )
        return config


class BatchNormalization(_Normalization):
    """Normalizes each feature of ``axis`` with the batch's statistics in training (the mean and
    biased variance over every other axis; with a mask (x's shape without the last axis), over the
    unmasked entries, as Keras 3) and with the moving ones in inference. Each training forward
    updates ``moving = moving * momentum + batch * (1 - momentum)`` in place; the optimizer leaves
    the moving statistics alone (``non_trainable_names``). A layer with ``trainable=False`` uses the
    moving statistics in training too, as Keras."""

    non_trainable_names = ("moving_mean", "moving_variance")

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
            **kwargs,
        )
        self.axis = _axis_int(axis)
        self.momentum = _float("momentum", momentum, 0.0, 1.0)
        self.epsilon = _epsilon(epsilon)
        self.center = _bool("center", center)
        self.scale = _bool("scale", scale)
        self.beta_initializer = _initializer("beta_initializer", beta_initializer)
        self.gamma_initializer = _initializer("gamma_initializer", gamma_initializer)
        self.moving_mean_initializer = _initializer("moving_mean_initializer", moving_mean_initializer)
        self.moving_variance_initializer = _initializer(
            "moving_variance_initializer", moving_variance_initializer
        )
        _none_only("BatchNormalization", renorm_clipping=renorm_clipping)
        if renorm is not False:
            raise TypeError(
                f"BatchNormalization: lstmcore has no batch renormalization; leave renorm False, "
                f"got {renorm!r}"
            )
        _float("renorm_momentum", renorm_momentum, 0.0, 1.0)  # unused without renorm, as in Keras
        if synchronized is not False:
            raise ValueError(
                f"BatchNormalization: synchronized=True is only supported with the TensorFlow backend "
                f"of Keras; leave it False, got {synchronized!r}"
            )
        self._cache = None

    def weight_specs(self, input_shape):
        shape = self._feature_shape(input_shape)
        specs = super().weight_specs(input_shape)
        specs.append(("moving_mean", shape, self.moving_mean_initializer))
        specs.append(("moving_variance", shape, self.moving_variance_initializer))
        return specs

    def _mask_weight(self, mask, x) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise TypeError(f"mask must be a bool array of shape {x.shape[:-1]}, got dtype {mask.dtype}")
        if mask.shape != x.shape[:-1]:
            raise ValueError(
                f"mask must have the input's shape without its last axis, {x.shape[:-1]}, got {mask.shape}"
            )
        return mask.astype(bool)[..., None].astype(x.dtype)

    def forward(self, x, training=False, mask=None):
        # x (B, ...) | w: 1, or the mask (x's shape, 1 on the last axis) | mean, var, r, gamma: the
        # feature axis's size there, 1 on the others
        (a,) = self._check_x(x)
        red = tuple(k for k in range(x.ndim) if k != a)
        one = x.dtype.type
        g = self._broadcast(self.params["gamma"], x.ndim, (a,)) if self.scale else one(1)
        batch = training and self.trainable
        if batch:
            if mask is None:
                w, n = one(1), one(math.prod(x.shape[k] for k in red))
                mean = x.mean(axis=red, keepdims=True)
                xc = x - mean
                var = (xc * xc).mean(axis=red, keepdims=True)
            else:  # Keras: sums over the unmasked entries, divided by their count + 1e-7
                w = self._mask_weight(mask, x)
                n = np.broadcast_to(w, x.shape).sum(axis=red, keepdims=True) + one(1e-7)
                mean = (w * x).sum(axis=red, keepdims=True) / n
                xc = x - mean
                var = (w * xc * xc).sum(axis=red, keepdims=True) / n
            m = one(self.momentum)
            for name, stat in (("moving_mean", mean), ("moving_variance", var)):
                moving = self.params[name]
                moving[...] = moving * m + stat.reshape(moving.shape) * (1 - m)
        else:
            w = n = None
            mean = self._broadcast(self.params["moving_mean"], x.ndim, (a,))
            var = self._broadcast(self.params["moving_variance"], x.ndim, (a,))
            xc = x - mean
        r = _rsqrt(var + one(self.epsilon))
        y = xc * (r * g)
        if self.center:
            y += self._broadcast(self.params["beta"], x.ndim, (a,))
        self._cache = (xc * r, r * g, w, n, red, batch) if training else None
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        xhat, rg, w, n, red, batch = self._cache
        self._cache = None
        if self.scale:
            self.grads["gamma"][...] = (dy * xhat).sum(axis=red).reshape(self.grads["gamma"].shape)
        if self.center:
            self.grads["beta"][...] = dy.sum(axis=red).reshape(self.grads["beta"].shape)
        self.grads["moving_mean"][...] = 0
        self.grads["moving_variance"][...] = 0
        if not batch:
            return dy * rg
        # Through 1a: mean = sum(w x) / n and 1b: var = sum(w (x - mean)^2) / n, written with
        # xhat = (x - mean) r (no r^3, which overflows float32 for a tiny epsilon):
        # dx = r g (dy - w/n (sum(dy) - sum(dy xhat) sum(w xhat) / n) - w xhat sum(dy xhat) / n)
        s_dy = dy.sum(axis=red, keepdims=True)
        s_dyx = (dy * xhat).sum(axis=red, keepdims=True)
        s_wx = (w * xhat).sum(axis=red, keepdims=True)
        return rg * (dy - w / n * (s_dy - s_dyx * s_wx / n) - w * xhat * s_dyx / n)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=self.beta_initializer,
            gamma_initializer=self.gamma_initializer,
            moving_mean_initializer=self.moving_mean_initializer,
            moving_variance_initializer=self.moving_variance_initializer,
        )
        return config
