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

from .base import Layer, _cached, _layer_rng, _rate, _seed_arg

_MASKED = 1.0e9  # Keras's bias on the scores of masked value steps


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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
        name = type(self).__name__
        if not isinstance(xs, (list, tuple)) or len(xs) not in (2, 3):
            raise ValueError(f"{name} takes a list [query, value] or [query, value, key] of arrays")
        xs = [np.asarray(a) for a in xs]
        if any(a.ndim != 3 for a in xs):
            raise ValueError(
                f"{name} takes arrays (batch, steps, features), got shapes {[a.shape for a in xs]}"
            )
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        if (
            not (q.shape[0] == v.shape[0] == k.shape[0])
            or q.shape[2] != k.shape[2]
            or k.shape[1] != v.shape[1]
        ):
            raise ValueError(
                f"{name}: query (B, Tq, d), value (B, Tv, dv) and key (B, Tv, d) needed, got "
                f"{q.shape}, {v.shape}, {k.shape}"
            )
        return q, v, k

    @staticmethod
    def _mask(mask, k: int, shape) -> np.ndarray | None:
        if mask is None or len(mask) <= k or mask[k] is None:
            return None
        m = np.asarray(mask[k])
        if m.shape != shape or m.dtype.kind not in "biu":
            raise ValueError(
                f"the mask of input {k} must be a bool array of shape {shape}, got {m.dtype} {m.shape}"
            )
        return m.astype(bool, copy=False)

    def forward(self, x, training=False, mask=None, return_attention_scores=False, use_causal_mask=False):
        q, v, k = self._arrays(x)
        dtype = q.dtype
        B, Tq, Tv = q.shape[0], q.shape[1], v.shape[1]
        if mask is not None and not isinstance(mask, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__}'s mask is a list [query_mask, value_mask], got one array"
            )
        q_mask, v_mask = self._mask(mask, 0, (B, Tq)), self._mask(mask, 1, (B, Tv))
        S, parts = self._scores(q, k)  # (B, Tq, Tv)
        keep = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            causal = np.tril(np.ones((Tq, Tv), dtype=bool))[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:
            S = np.where(keep, S, S - dtype.type(_MASKED))
        W = _softmax(S)
        drop = None
        if training and self.dropout > 0:
            drop = (self._rng.random(W.shape) >= self.dropout).astype(dtype) / dtype.type(1 - self.dropout)
            W_out = W * drop
        else:
            W_out = W
        out = W_out @ v
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
        if dy is None:
            dy = np.zeros((W.shape[0], W.shape[1], v.shape[2]), dtype=W.dtype)
        if q_mask is not None:
            dy = np.where(q_mask[..., None], dy, W.dtype.type(0))
        dW = dy @ v.transpose(0, 2, 1)  # (B, Tq, Tv)
        if d_scores is not None:
            dW = dW + d_scores
        dv = W_out.transpose(0, 2, 1) @ dy
        if drop is not None:
            dW = dW * drop
        dS = W * (dW - (dW * W).sum(axis=-1, keepdims=True))  # the softmax's backward
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
            S = q @ k.transpose(0, 2, 1)
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
            return dS @ k, dS.transpose(0, 2, 1) @ q
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
