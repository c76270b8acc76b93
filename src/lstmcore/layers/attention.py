"""Keras 3's attention layers over sequences: ``Attention`` (dot-product, Luong's; or "concat"
scores) and ``AdditiveAttention`` (Bahdanau's), called on ``[query, value]`` or ``[query, value,
key]`` as Keras: ``Attention()([decoder_outputs, encoder_outputs])``.

Shapes: query (B, Tq, d), value (B, Tv, dv), key (B, Tv, d) (the value when not given);
scores S (B, Tq, Tv), weights W = softmax(S) over the value steps, output W @ value (B, Tq, dv).
Masks (Keras's, from Masking or Embedding(mask_zero=True) upstream): the value's mask (B, Tv)
takes masked steps out of the softmax (their scores lowered by 1e9, Keras's bias), the query's
(B, Tq) zeroes the output at its masked steps and is the output's mask. The call arguments
``use_causal_mask`` (step i attends to steps j <= i) and ``return_attention_scores`` (the weights
W, after dropout, as a second output) are Keras's, in functional models too.
"""

from __future__ import annotations

import numpy as np

from ..engine._products import matmul, matmul_batched, softmax_rows, softmax_rows_backward
from .base import (
    Layer,
    _cached,
    _dropout_mask,
    _initializer,
    _is_symbolic,
    _layer_rng,
    _positive_int,
    _rate,
    _seed_arg,
)

_MASKED = 1.0e9  # Keras's bias on the scores of masked value steps


def _gradient(layer, d, shape, dtype, what: str) -> np.ndarray:
    """An output's gradient of the shape the forward gave (zeros for None), else ValueError."""
    if d is None:
        return np.zeros(shape, dtype=dtype)
    d = np.asarray(d)
    if d.shape != tuple(shape):
        raise ValueError(
            f"layer {layer.name!r}: the {what}'s gradient must have shape {tuple(shape)}, got {d.shape}"
        )
    return d


def _bmm(a, b) -> np.ndarray:
    """a (..., m, k) @ b (..., k, n) over the same leading axes (engine._products.matmul_batched:
    the heads' transposed views read in place)."""
    if a.ndim in (3, 4):
        return matmul_batched(a, b)
    lead = a.shape[:-2]
    g = int(np.prod(lead, dtype=np.int64))
    out = matmul_batched(a.reshape(g, *a.shape[-2:]), b.reshape(g, *b.shape[-2:]))
    return out.reshape(*lead, a.shape[-2], b.shape[-1])


def _heads(a, b) -> np.ndarray:
    """a (B, N, T, S) @ b (B, N, S, w) per batch row and head, written as (B, T, N, w): the
    heads side by side in each step, as the output projection reads them (no transposed copy)."""
    B, N, T = a.shape[:3]
    out = np.empty((B, T, N, b.shape[-1]), dtype=np.result_type(a, b))
    matmul_batched(a, b, out=out.transpose(0, 2, 1, 3))
    return out


def _sequences(name: str, xs):
    """The inputs [query, value(, key)] as (batch, steps, features) arrays (q, v, k), the key the
    value when not given, of one batch and the key's steps the value's; else ValueError."""
    if not isinstance(xs, (list, tuple)) or len(xs) not in (2, 3):
        raise ValueError(f"{name} takes a list [query, value] or [query, value, key] of arrays")
    xs = [np.asarray(a) for a in xs]
    if any(a.ndim != 3 for a in xs):
        raise ValueError(f"{name} takes arrays (batch, steps, features), got shapes {[a.shape for a in xs]}")
    q, v = xs[0], xs[1]
    k = xs[2] if len(xs) == 3 else v
    if not (q.shape[0] == v.shape[0] == k.shape[0]) or k.shape[1] != v.shape[1]:
        raise ValueError(
            f"{name}: query (B, Tq, .), value (B, Tv, .) and key (B, Tv, .) needed, got "
            f"{q.shape}, {v.shape}, {k.shape}"
        )
    return q, v, k


def _input_mask(mask, k: int, shape) -> np.ndarray | None:
    """Input k's mask (a list of masks, None for an input without) as bool of ``shape``."""
    if mask is not None and not isinstance(mask, (list, tuple)):
        raise ValueError("an attention layer's mask is a list [query_mask, value_mask, ...], got one array")
    if mask is None or len(mask) <= k or mask[k] is None:
        return None
    m = np.asarray(mask[k])
    if m.shape != shape or m.dtype.kind not in "biu":
        raise ValueError(
            f"the mask of input {k} must be a bool array of shape {shape}, got {m.dtype} {m.shape}"
        )
    return m.astype(bool, copy=False)


def _kept(keep, more) -> np.ndarray:
    """The pairs kept so far (None: all) and ``more``."""
    return more if keep is None else keep & more


def _causal(Tq: int, Tv: int) -> np.ndarray:
    """(1, Tq, Tv): query step i attends to the steps j <= i."""
    return np.tril(np.ones((Tq, Tv), dtype=bool))[None]


class _Attention(Layer):
    """What the two attention layers share: inputs, masks, the softmax, dropout and the output;
    a subclass gives its scores' forward and backward (``_scores``, ``_scores_backward``)."""

    supports_masking = True
    call_arguments = ("return_attention_scores", "use_causal_mask")

    def __init__(self, use_scale=False, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.dropout = _rate("dropout", dropout)
        self.seed = _seed_arg(seed)
        self._cache = None

    # Shapes.
    def build(self, input_shape, seed_rng=None) -> None:
        name = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                f"{name} takes a list of inputs, [query, value] or [query, value, key]; got one of shape "
                f"{input_shape}"
            )
        shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shape]
        if len(shapes) not in (2, 3):
            raise ValueError(f"{name} takes [query, value] or [query, value, key], got {len(shapes)} inputs")
        if any(len(s) != 2 for s in shapes):
            raise ValueError(
                f"{name} takes sequences (batch, steps, features), i.e. input shapes of 2 values; got "
                f"{[(None, *s) for s in shapes]}"
            )
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) == 3 else v

        def differ(a, b):
            return a is not None and b is not None and a != b

        if differ(q[-1], k[-1]) or differ(k[0], v[0]):
            raise ValueError(
                f"{name}: the query and key need the same features and the key and value the same "
                f"steps; got query {(None, *q)}, value {(None, *v)}, key {(None, *k)}"
            )
        for n, shape, _ in self.weight_specs(shapes):
            if any(d is None for d in shape):
                raise ValueError(f"{name}: its weight {n!r} needs the query's feature size, got {(None, *q)}")
        self.build_shape = shapes
        self.built = True
        self._on_build(seed_rng)

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        return (*q[:-1], v[-1])

    def output_shapes(self, input_shape, return_attention_scores=False, use_causal_mask=False):
        out = [self.output_shape(input_shape)]
        if return_attention_scores:
            out.append((input_shape[0][0], input_shape[1][0]))
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return np.asarray(mask[0], dtype=bool)

    # What a subclass gives: the scores (B, Tq, Tv) of query and key, and their backward.
    def _scores(self, q, k):
        """-> (S, what the backward needs)."""
        raise NotImplementedError

    def _scores_backward(self, dS, parts):
        """-> (dq, dk); the weights' gradients written into ``self.grads``."""
        raise NotImplementedError

    def _arrays(self, xs):
        q, v, k = _sequences(type(self).__name__, xs)
        if q.shape[2] != k.shape[2]:
            raise ValueError(
                f"{type(self).__name__}: the query and key need the same features, got {q.shape} and "
                f"{k.shape}"
            )
        return q, v, k

    def forward(self, x, training=False, mask=None, return_attention_scores=False, use_causal_mask=False):
        q, v, k = self._arrays(x)
        dtype = q.dtype
        B, Tq, Tv = q.shape[0], q.shape[1], v.shape[1]
        q_mask, v_mask = _input_mask(mask, 0, (B, Tq)), _input_mask(mask, 1, (B, Tv))
        S, parts = self._scores(q, k)  # (B, Tq, Tv)
        keep = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            keep = _kept(keep, _causal(Tq, Tv))
        if keep is not None:
            S = np.where(keep, S, S - dtype.type(_MASKED))
        W = softmax_rows(S)
        drop = None
        if training and self.dropout > 0:
            drop = _dropout_mask(self._rng, W.shape, self.dropout, dtype)
            W_out = W * drop
        else:
            W_out = W
        out = _bmm(W_out, v)
        if q_mask is not None:
            out = np.where(q_mask[..., None], out, dtype.type(0))
        if training:
            self._cache = (len(x) == 3, v, W, W_out, drop, q_mask, bool(return_attention_scores), parts)
        return (out, W_out) if return_attention_scores else out

    def backward(self, dy):
        """dy: the output's gradient, or with ``return_attention_scores`` [output's, scores'] (None
        for one without). Returns [dquery, dvalue] (and dkey where a key was given)."""
        has_key, v, W, W_out, drop, q_mask, scores, parts = _cached(self, self._cache)
        self._cache = None
        d_scores = None
        if scores:
            dy, d_scores = dy
        dy = _gradient(self, dy, (W.shape[0], W.shape[1], v.shape[2]), W.dtype, "output")
        if d_scores is not None:
            d_scores = _gradient(self, d_scores, W.shape, W.dtype, "scores")
        if q_mask is not None:
            dy = np.where(q_mask[..., None], dy, W.dtype.type(0))
        dW = _bmm(dy, v.transpose(0, 2, 1))  # (B, Tq, Tv)
        if d_scores is not None:
            dW = dW + d_scores
        dv = _bmm(W_out.transpose(0, 2, 1), dy)
        if drop is not None:
            dW = dW * drop
        dS = softmax_rows_backward(W, dW)
        dq, dk = self._scores_backward(dS, parts)
        return [dq, dv, dk] if has_key else [dq, dv + dk]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(use_scale=self.use_scale, dropout=self.dropout, seed=self.seed)
        return config


class Attention(_Attention):
    """Dot-product attention, Keras 3's ``Attention``: scores query @ key^T ("dot", times a
    learned scalar ``scale`` with use_scale) or ``concat_score_weight * sum(tanh(query + key))``
    over the features ("concat", with use_scale tanh(scale * (query + key))). Weights: ``scale``
    () and ``concat_score_weight`` (), where used, starting at 1."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"score_mode must be 'dot' or 'concat', got {score_mode!r}")
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)
        self.score_mode = score_mode

    def weight_specs(self, input_shape):
        specs = [("scale", (), "ones")] if self.use_scale else []
        if self.score_mode == "concat":
            specs.append(("concat_score_weight", (), "ones"))
        return specs

    def _scores(self, q, k):
        if self.score_mode == "dot":
            S = _bmm(q, k.transpose(0, 2, 1))
            return (S * self.params["scale"] if self.use_scale else S), (q, k, S)
        U = q[:, :, None, :] + k[:, None, :, :]  # (B, Tq, Tv, d)
        Tn = np.tanh(U * self.params["scale"] if self.use_scale else U)
        total = Tn.sum(axis=-1)
        return self.params["concat_score_weight"] * total, (U, Tn, total)

    def _scores_backward(self, dS, parts):
        if self.score_mode == "dot":
            q, k, S = parts
            if self.use_scale:
                self.grads["scale"][...] = (dS * S).sum()
                dS = dS * self.params["scale"]
            return _bmm(dS, k), _bmm(dS.transpose(0, 2, 1), q)
        U, Tn, total = parts
        self.grads["concat_score_weight"][...] = (dS * total).sum()
        dU = (dS * self.params["concat_score_weight"])[..., None] * (1 - Tn * Tn)
        if self.use_scale:
            self.grads["scale"][...] = (dU * U).sum()
            dU = dU * self.params["scale"]
        return dU.sum(axis=2), dU.sum(axis=1)

    def get_config(self) -> dict:
        config = super().get_config()
        config["score_mode"] = self.score_mode
        return config


class AdditiveAttention(_Attention):
    """Additive attention, Bahdanau's, Keras 3's ``AdditiveAttention``: scores
    ``sum(scale * tanh(query + key))`` over the features, ``scale`` (d,) a learned vector with
    use_scale (the default; glorot_uniform), else 1."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def weight_specs(self, input_shape):
        return [("scale", (input_shape[0][-1],), "glorot_uniform")] if self.use_scale else []

    def _scores(self, q, k):
        Tn = np.tanh(q[:, :, None, :] + k[:, None, :, :])  # (B, Tq, Tv, d)
        return ((Tn * self.params["scale"]).sum(axis=-1) if self.use_scale else Tn.sum(axis=-1)), Tn

    def _scores_backward(self, dS, Tn):
        dT = dS[..., None]
        if self.use_scale:
            self.grads["scale"][...] = (dT * Tn).sum(axis=(0, 1, 2))
            dT = dT * self.params["scale"]
        dU = dT * (1 - Tn * Tn)
        return dU.sum(axis=2), dU.sum(axis=1)


def _axes_arg(value):
    """MultiHeadAttention's attention_axes: over the time axis only (None, 1, -2 or one of them in
    a list), the one form of rank-3 inputs."""
    axes = (value,) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if value is None or (isinstance(axes, (list, tuple)) and len(axes) == 1 and axes[0] in (1, -2)):
        return value
    raise ValueError(
        "MultiHeadAttention attends over the time axis of (batch, steps, features) inputs: "
        f"attention_axes must be None (or 1), got {value!r}"
    )


class MultiHeadAttention(Layer):
    """Multi-head attention, Keras 3's ``MultiHeadAttention``, called as Keras's:
    ``MultiHeadAttention(num_heads=4, key_dim=16)(query, value)`` (or ``key=``), on sequences
    query (B, T, dq), value (B, S, dv), key (B, S, dk).

    Each of the N heads projects the query and key to key_dim and the value to value_dim
    (default key_dim), scores Q K^T / sqrt(key_dim) (B, N, T, S), softmaxes them over S and
    averages V; the heads' outputs (B, T, N, value_dim) are projected to dq (or
    ``output_shape``). Weights, Keras's: ``query/kernel`` (dq, N, key_dim), ``query/bias``
    (N, key_dim), ``key/...``, ``value/kernel`` (dv, N, value_dim), ``value/bias``,
    ``attention_output/kernel`` (N, value_dim, d_out), ``attention_output/bias`` (d_out,).

    Masks: a step masked in the query, the value or the key (their Keras masks, or
    ``query_mask``/``value_mask``/``key_mask`` on arrays) and ``use_causal_mask`` take pairs
    out of the softmax (Keras's masked softmax: their scores set to -1e9 and their weights to 0,
    so a query step with no key left attends to nothing and outputs the output bias; Keras's
    fused path, taken without dropout and returned scores, gives such a step equal weights
    instead); the query's mask is the output's. ``return_attention_scores`` gives the
    weights (B, N, T, S) before dropout, as Keras. ``attention_mask`` (B, T, S) is taken on arrays
    only (a model's tensors cannot carry it here).
    """

    supports_masking = True
    # attention_mask: on arrays only (__call__ refuses it on a model's tensors)
    call_arguments = ("return_attention_scores", "use_causal_mask", "attention_mask")
    regularized = {"kernel": "kernel", "bias": "bias"}  # every projection's (see _weights_of)

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        use_gate=False,
        sliding_window=None,
        flash_attention=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = _positive_int("num_heads", num_heads)
        self.key_dim = _positive_int("key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else _positive_int("value_dim", value_dim)
        self._value_dim_given = value_dim is not None
        self.dropout = _rate("dropout", dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            shape = (output_shape,) if isinstance(output_shape, (int, np.integer)) else output_shape
            if not isinstance(shape, (list, tuple)) or len(shape) != 1:
                raise ValueError(
                    "MultiHeadAttention: output_shape must be one size (the output's features), got "
                    f"{output_shape!r}"
                )
            output_shape = (_positive_int("output_shape", shape[0]),)
        self.output_shape_arg = output_shape
        self.attention_axes = _axes_arg(attention_axes)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self.seed = _seed_arg(seed)
        if use_gate:
            raise ValueError(
                "MultiHeadAttention: lstmcore has no gated heads (use_gate=True); leave it False"
            )
        if sliding_window is not None:
            raise ValueError("MultiHeadAttention: lstmcore has no sliding_window; leave it None")
        if flash_attention and self.dropout > 0:  # as Keras
            raise ValueError("MultiHeadAttention: flash_attention takes no dropout")
        self.flash_attention = flash_attention  # a speed hint of Keras's backends: the same numbers
        self._cache = None

    # Weights and shapes.
    def _shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                "MultiHeadAttention takes query and value (and key) tensors, mha(query, value); got one "
                f"input of shape {input_shape}"
            )
        shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shape]
        if len(shapes) not in (2, 3) or any(len(s) != 2 for s in shapes):
            raise ValueError(
                "MultiHeadAttention takes query, value and optionally key of shape (batch, steps, "
                f"features); got {[(None, *s) for s in shapes]}"
            )
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) == 3 else v
        if k[0] is not None and v[0] is not None and k[0] != v[0]:
            raise ValueError(
                "MultiHeadAttention: the key and value need the same steps, got "
                f"{(None, *k)} and {(None, *v)}"
            )
        return q, v, k

    def build(self, input_shape, seed_rng=None) -> None:
        q, v, k = self._shapes(input_shape)
        for d, name in ((q[-1], "query"), (v[-1], "value"), (k[-1], "key")):
            if d is None:
                raise ValueError(f"MultiHeadAttention: the {name}'s features must be known, got None")
        self.build_shape = [tuple(s) for s in input_shape]
        self.built = True
        self._on_build(seed_rng)

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def _d_out(self, input_shape) -> int:
        return self.output_shape_arg[0] if self.output_shape_arg else input_shape[0][-1]

    def weight_specs(self, input_shape):
        q, v, k = self._shapes(input_shape)
        N, kd, vd = self.num_heads, self.key_dim, self.value_dim
        specs = []
        for name, d, width in (("query", q[-1], kd), ("key", k[-1], kd), ("value", v[-1], vd)):
            specs.append((f"{name}/kernel", (d, N, width), self.kernel_initializer))
            if self.use_bias:
                specs.append((f"{name}/bias", (N, width), self.bias_initializer))
        d_out = self._d_out(input_shape)
        specs.append(("attention_output/kernel", (N, vd, d_out), self.kernel_initializer))
        if self.use_bias:
            specs.append(("attention_output/bias", (d_out,), self.bias_initializer))
        return specs

    def output_shape(self, input_shape):
        return (input_shape[0][0], self._d_out(input_shape))

    def output_shapes(
        self, input_shape, return_attention_scores=False, use_causal_mask=False, attention_mask=None
    ):
        out = [self.output_shape(input_shape)]
        if return_attention_scores:
            out.append((self.num_heads, input_shape[0][0], input_shape[1][0]))
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return np.asarray(mask[0], dtype=bool)

    def _weights_of(self, weight: str) -> list[str]:
        """kernel_ and bias_regularizer (and the constraints) apply to every projection's."""
        return [n for n in self.params if n.endswith("/" + weight)]

    # Call, forward, backward.
    def __call__(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=False,
        use_causal_mask=False,
        mask=None,
        initial_state=None,
    ):
        """Keras's call, ``mha(query, value, key=None, ...)``; a list [query, value(, key)] works too."""
        if initial_state is not None:
            raise TypeError("MultiHeadAttention takes no initial_state")
        if value is None and isinstance(query, (list, tuple)):
            xs = list(query)
        elif value is None:
            raise TypeError("MultiHeadAttention needs a query and a value: mha(query, value)")
        else:
            xs = [query, value] + ([key] if key is not None else [])
        symbolic = any(_is_symbolic(t) for t in xs)
        given = [query_mask, value_mask, key_mask]
        if symbolic and (attention_mask is not None or any(m is not None for m in given)):
            raise TypeError(
                "MultiHeadAttention in a model takes its inputs' masks from the layers before it "
                "(Masking, Embedding(mask_zero=True)); attention_mask and explicit masks are taken on "
                "arrays only"
            )
        call = {
            "return_attention_scores": bool(return_attention_scores),
            "use_causal_mask": bool(use_causal_mask),
        }
        call = {k: v for k, v in call.items() if v}
        if symbolic:
            return super().__call__(xs, training=training, **call)
        if any(m is not None for m in given):
            mask = given[: len(xs)]
        if attention_mask is not None:
            call["attention_mask"] = attention_mask
        return super().__call__(xs, training=training, mask=mask, **call)

    def forward(
        self,
        x,
        training=False,
        mask=None,
        return_attention_scores=False,
        use_causal_mask=False,
        attention_mask=None,
    ):
        q, v, k = _sequences("MultiHeadAttention", x)
        B, T, S = q.shape[0], q.shape[1], v.shape[1]
        P = self.params
        dtype = P["query/kernel"].dtype

        def project(a, name):  # (B, T, d) @ (d, N, w) -> (B, T, N, w)
            kernel = P[f"{name}/kernel"]
            out = matmul(a, kernel.reshape(kernel.shape[0], -1)).reshape(*a.shape[:2], *kernel.shape[1:])
            return out + P[f"{name}/bias"] if self.use_bias else out

        scale = dtype.type(1.0 / np.sqrt(float(self.key_dim)))
        Qs = project(q, "query") * scale  # (B, T, N, kd)
        K, V = project(k, "key"), project(v, "value")
        S_ = _bmm(Qs.transpose(0, 2, 1, 3), K.transpose(0, 2, 3, 1))  # (B, N, T, S)
        keep = None  # (B, T, S): the query's, value's and key's masks, causal, attention_mask
        q_mask, v_mask = _input_mask(mask, 0, (B, T)), _input_mask(mask, 1, (B, S))
        k_mask = _input_mask(mask, 2, (B, S)) if len(x) == 3 else None
        for m in (None if q_mask is None else q_mask[:, :, None], v_mask, k_mask):
            if m is not None:
                keep = _kept(keep, m if m.ndim == 3 else m[:, None, :])
        if use_causal_mask:
            keep = _kept(keep, _causal(T, S))
        if attention_mask is not None:
            am = np.asarray(attention_mask)
            if am.shape != (B, T, S):
                raise ValueError(f"attention_mask must have shape {(B, T, S)}, got {am.shape}")
            keep = _kept(keep, am.astype(bool))
        if keep is not None:  # Keras's masked softmax: -1e9 in, and 0 out (a row with no key left)
            keep = keep[:, None]
            W_soft = softmax_rows(np.where(keep, S_, dtype.type(-_MASKED)))
            W = np.where(keep, W_soft, dtype.type(0))
        else:
            W = W_soft = softmax_rows(S_)
        drop = None
        Wd = W
        if training and self.dropout > 0:
            drop = _dropout_mask(self._rng, W.shape, self.dropout, dtype)
            Wd = W * drop
        O = _heads(Wd, V.transpose(0, 2, 1, 3))  # (B, T, N, vd)
        Wo = P["attention_output/kernel"]
        out = matmul(O.reshape(B, T, -1), Wo.reshape(-1, Wo.shape[-1]))
        if self.use_bias:
            out = out + P["attention_output/bias"]
        if training:
            inputs = (q, v, k, len(x) == 3)
            self._cache = (inputs, Qs, K, V, W_soft, keep, Wd, drop, O, scale, bool(return_attention_scores))
        return (out, W) if return_attention_scores else out

    def backward(self, dy):
        (q, v, k, has_key), Qs, K, V, W, keep, Wd, drop, O, scale, scores = _cached(self, self._cache)
        self._cache = None
        P, G = self.params, self.grads
        d_scores = None
        if scores:
            dy, d_scores = dy
        out_shape = (*O.shape[:2], P["attention_output/kernel"].shape[-1])
        dy = _gradient(self, dy, out_shape, W.dtype, "output")
        if d_scores is not None:
            d_scores = _gradient(self, d_scores, W.shape, W.dtype, "scores")
        Wo = P["attention_output/kernel"]
        O2 = O.reshape(-1, Wo.shape[0] * Wo.shape[1])  # (B*T, N*vd)
        G["attention_output/kernel"][...] = matmul(O2.T, dy.reshape(-1, Wo.shape[-1])).reshape(Wo.shape)
        if self.use_bias:
            G["attention_output/bias"][...] = dy.sum(axis=(0, 1))
        dO = matmul(dy, Wo.reshape(-1, Wo.shape[-1]).T).reshape(O.shape)  # (B, T, N, vd)
        dWd = _bmm(dO.transpose(0, 2, 1, 3), V.transpose(0, 2, 3, 1))  # (B, N, T, S)
        dV = _heads(Wd.transpose(0, 1, 3, 2), dO.transpose(0, 2, 1, 3))
        dW = dWd * drop if drop is not None else dWd
        if d_scores is not None:
            dW = dW + d_scores
        if keep is not None:
            dW = np.where(keep, dW, W.dtype.type(0))
        dS = softmax_rows_backward(W, dW)  # W: the softmax's, before the 0s
        dQ = _heads(dS, K.transpose(0, 2, 1, 3))  # (B, T, N, kd)
        dQ *= scale
        dK = _heads(dS.transpose(0, 1, 3, 2), Qs.transpose(0, 2, 1, 3))

        def back(a, d, name):  # the gradients of a projection: its kernel's, bias's and input's
            kernel = P[f"{name}/kernel"]
            d2 = d.reshape(-1, kernel.shape[1] * kernel.shape[2])  # (B*T, N*w), d contiguous
            G[f"{name}/kernel"][...] = matmul(a.reshape(-1, a.shape[-1]).T, d2).reshape(kernel.shape)
            if self.use_bias:
                G[f"{name}/bias"][...] = d.sum(axis=(0, 1))
            return matmul(d2, kernel.reshape(kernel.shape[0], -1).T).reshape(a.shape)

        dq, dv, dk = back(q, dQ, "query"), back(v, dV, "value"), back(k, dK, "key")
        return [dq, dv, dk] if has_key else [dq, dv + dk]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            dropout=self.dropout,
            use_bias=self.use_bias,
            output_shape=None if self.output_shape_arg is None else list(self.output_shape_arg),
            attention_axes=self.attention_axes,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            seed=self.seed,
        )
        return config
