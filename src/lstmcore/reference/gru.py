"""Pure-NumPy GRU cell and sequence: the readable twin of the compiled GRU, name for name.

Same arguments, checks and cache as the compiled engine; written to be read, not to be fast. It
computes in the dtype of ``x`` (float32 or float64) with the activations of ``activations.apply``.

Notation: x inputs, h hidden states, zx = x @ w_x + b_x and zh = h_prev @ w_h + b_h the input and
recurrent pre-activations, gates the activated z (update), r (reset) and n (candidate), each a
block of H columns of the 3H gate columns [z | r | n] (Keras's and ONNX's order). act is the
activation (of n), ract the recurrent activation (of z and r); derivatives are written from outputs.

    reset_after=True  (Keras, PyTorch; ONNX linear_before_reset=1), b (2, 3H) = [b_x, b_h]:
        z = ract(zx_z + zh_z);  r = ract(zx_r + zh_r);  n = act(zx_n + r * zh_n)
    reset_after=False (ONNX's default), b (3H,):
        z = ract(zx_z + h_prev @ w_hz);  r = ract(zx_r + h_prev @ w_hr)
        n = act(zx_n + (r * h_prev) @ w_hn)
    h = z * h_prev + (1 - z) * n

Recurrent dropout (``gru_forward``'s ``recurrent_mask`` (B, H), Keras's semantics: one mask per
sequence) multiplies h_prev wherever it enters a recurrent product: h_prev @ w_h becomes
(h_prev * mask) @ w_h, and with reset_after=False (r * h_prev) @ w_hn becomes
(r * h_prev * mask) @ w_hn. The mixing h = z * h_prev + (1 - z) * n keeps the unmasked h_prev.
"""

from __future__ import annotations

import numpy as np

from ..engine import _validate
from ..engine._cache import GRUCache
from . import _sequence as seqs
from ._stepper import Stepper
from .activations import apply, derivative

__all__ = [
    "GRUCache",
    "GRUStepper",
    "gru_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_gates_backward",
    "gru_gates_forward",
]


# Gate maths of one step over B rows, the twins of the compiled GRU kernels ------------------------
# The recurrent product is part of the step: with reset_after=False the n block multiplies r * h_prev,
# so it cannot be formed before r is known.


def _split(a):
    H = a.shape[-1] // 3
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]


def gru_gates_forward(zx, h_prev, w_h, b_h, act, ract, reset_after, mask=None):
    """One GRU step.

    zx (B, 3H) = x_t @ w_x + b_x | h_prev (B, H) | w_h (H, 3H) | b_h (3H) the recurrent bias when
    reset_after, else None | act, ract: activation specs | mask (B, H) the recurrent dropout mask
    or None
    -> gates (B, 3H) activated [z | r | n], extra (B, H), h (B, H), where extra is what the
    backward of n needs: zh_n = h_in @ w_hn + b_h_n when reset_after, r * h_in when not, with
    h_in = h_prev * mask (h_prev without a mask).
    """
    H = h_prev.shape[1]
    zx_z, zx_r, zx_n = _split(zx)
    h_in = h_prev if mask is None else h_prev * mask  # 0. recurrent dropout: what w_h multiplies
    if reset_after:
        zh_z, zh_r, zh_n = _split(h_in @ w_h + b_h)  # 1. recurrent pre-activations
        z = apply(ract, zx_z + zh_z)  # 2. update and reset gates
        r = apply(ract, zx_r + zh_r)
        n = apply(act, zx_n + r * zh_n)  # 3. candidate, reset after the product
        extra = zh_n
    else:
        zh_zr = h_in @ w_h[:, : 2 * H]  # 1. recurrent pre-activations of z and r
        z = apply(ract, zx_z + zh_zr[:, :H])  # 2. update and reset gates
        r = apply(ract, zx_r + zh_zr[:, H:])
        extra = r * h_in  # 3. candidate, reset before the product
        n = apply(act, zx_n + extra @ w_h[:, 2 * H :])
    h = z * h_prev + (1 - z) * n  # 4. new state, from the unmasked h_prev
    return np.concatenate([z, r, n], axis=-1), extra, h


def gru_gates_backward(dh, gates, extra, h_prev, w_h, act, ract, reset_after, mask=None):
    """Backward of :func:`gru_gates_forward`.

    dh (B, H) into step t | gates (B, 3H) | extra (B, H) | h_prev (B, H) | w_h (H, 3H) |
    mask (B, H) the recurrent dropout mask or None
    -> dzx (B, 3H), dzh (B, 3H), dh_prev (B, H).
    dzx is the gradient of the input pre-activations zx (so of x_t @ w_x and b_x). dzh is that of
    the recurrent ones: of zh = h_in @ w_h + b_h when reset_after (there dzh_n = dan * r, not dan);
    when not, dzh = dzx, whose n block multiplies extra = r * h_in, not h_in, in dw_h. h_in is
    h_prev * mask (h_prev without a mask): w_h's gradient multiplies h_in, not h_prev.
    """
    H = h_prev.shape[1]
    h_in = h_prev if mask is None else h_prev * mask
    z, r, n = _split(gates)
    dz = dh * (h_prev - n)  # 4b. h = z * h_prev + (1 - z) * n
    dn = dh * (1 - z)
    dh_prev = dh * z
    dan = dn * derivative(act, n)  # 3b. n = act(an)
    daz = dz * derivative(ract, z)  # 2b. z = ract(az)
    if reset_after:
        dr = dan * extra  # 3b. an = zx_n + r * zh_n
        dar = dr * derivative(ract, r)  # 2b. r = ract(ar)
        dzx = np.concatenate([daz, dar, dan], axis=-1)
        dzh = np.concatenate([daz, dar, dan * r], axis=-1)
        dh_in = dzh @ w_h.T  # 1b. zh = h_in @ w_h + b_h
    else:
        drh = dan @ w_h[:, 2 * H :].T  # 3b. an = zx_n + (r * h_in) @ w_hn
        dr = drh * h_in
        dar = dr * derivative(ract, r)  # 2b. r = ract(ar)
        dzx = dzh = np.concatenate([daz, dar, dan], axis=-1)
        dh_in = drh * r + dzx[:, : 2 * H] @ w_h[:, : 2 * H].T  # 1b.
    dh_prev = dh_prev + (dh_in if mask is None else dh_in * mask)  # 0b. h_in = h_prev * mask
    return dzx, dzh, dh_prev


def _biases(b, reset_after):
    """b_x (3H), b_h (3H) or None."""
    return (b[0], b[1]) if reset_after else (b, None)


# Public functions --------------------------------------------------------------------------------


def gru_forward(
    x,
    w_x,
    w_h,
    b,
    h0=None,
    *,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
    recurrent_mask=None,
    reverse=False,
    lengths=None,
    mask=None,
    zero_output_for_mask=False,
    return_cache=False,
    check_finite=True,
):
    """GRU over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, 3H) | w_h (H, 3H) | b (2, 3H) if reset_after else (3H,) | h0 (B, H) or
    None (zeros) | recurrent_mask (B, H) or None -> y (B, T, H), h_n (B, H) [, GRUCache]

    recurrent_mask multiplies h_prev wherever it enters a recurrent product (module docstring).
    reverse, lengths (B,), mask (B, T), zero_output_for_mask: as ``lstmcore.engine._sequence``.
    """
    x, w_x, w_h, b, h0, act, ract, rmask = _validate.check_gru_forward(
        x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation, check_finite, recurrent_mask
    )
    B, T, I = x.shape
    seq = seqs.plan(B, T, reverse, lengths, mask, zero_output_for_mask)
    x, h0, _, mask = seqs.in_order(seq, x, h0, None, rmask)
    H = w_h.shape[0]
    b_x, b_h = _biases(b, reset_after)
    x_tm = np.array(x.transpose(1, 0, 2), order="C")  # (T, B, I), a copy the cache owns
    zx = x_tm @ w_x + b_x  # (T, B, 3H): one product for every step
    gates = np.empty((T, B, 3 * H), dtype=x.dtype)
    extra = np.empty((T, B, H), dtype=x.dtype)
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    h[0] = h0
    for t in range(T):
        gates[t], extra[t], h[t + 1] = gru_gates_forward(zx[t], h[t], w_h, b_h, act, ract, reset_after, mask)
        seqs.keep_masked(seq, t, h)
    y, h_n, _ = seqs.outputs(seq, h)
    if not return_cache:
        return y, h_n
    cache = GRUCache(
        x_tm,
        w_x,
        w_h,
        gates,
        h,
        extra,
        reset_after,
        activation,
        recurrent_activation,
        recurrent_mask=mask,
        sequence=seq,
    )
    return y, h_n, cache


def gru_backward(dy, cache, dh_n=None, *, check_finite=True):
    """Backward through time of :func:`gru_forward`.

    dy (B, T, H) or None | cache | dh_n (B, H) or None
    -> dict dx (B, T, I), dw_x (I, 3H), dw_h (H, 3H), db (b's shape), dh0 (B, H)
    """
    dy, dh, act, ract = _validate.check_gru_backward(dy, cache, dh_n, check_finite)
    seq = cache.sequence
    dy, dh, _ = seqs.grads_in_order(seq, dy, dh)
    T, B, G = cache.gates.shape
    H, I = G // 3, cache.x.shape[2]
    reset_after, mask = cache.reset_after, cache.recurrent_mask
    dzx = np.empty((T, B, G), dtype=cache.gates.dtype)
    dzh = np.empty((T, B, G), dtype=cache.gates.dtype) if reset_after else dzx
    for t in reversed(range(T)):
        if dy is not None:
            dh = dh + dy[:, t]
        kept = seqs.masked_grads(seq, t, dh)
        dzx[t], dzh[t], dh = gru_gates_backward(
            dh, cache.gates[t], cache.extra[t], cache.h[t], cache.w_h, act, ract, reset_after, mask
        )
        seqs.pass_masked(kept, dzx[t], dh, None, dzh[t])
    dzx2, dzh2 = dzx.reshape(T * B, G), dzh.reshape(T * B, G)
    h_in = cache.h[:T] if mask is None else cache.h[:T] * mask  # what w_h multiplied
    h_in = h_in.reshape(T * B, H)
    if reset_after:
        dw_h = h_in.T @ dzh2
        db = np.stack([dzx2.sum(axis=0), dzh2.sum(axis=0)])
    else:  # the n block's recurrent input is extra = r * h_in
        dw_h = np.concatenate(
            [h_in.T @ dzx2[:, : 2 * H], cache.extra.reshape(T * B, H).T @ dzx2[:, 2 * H :]], axis=1
        )
        db = dzx2.sum(axis=0)
    return {
        "dx": seqs.dx(seq, (dzx2 @ cache.w_x.T).reshape(T, B, I)),
        "dw_x": cache.x.reshape(T * B, I).T @ dzx2,
        "dw_h": dw_h,
        "db": db,
        "dh0": seqs.rows_back(seq, dh),
    }


def gru_cell_forward(
    x_t,
    w_x,
    w_h,
    b,
    h_prev=None,
    *,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
    check_finite=True,
):
    """One GRU step, for streaming inference.

    x_t (B, I) | w_x (I, 3H) | w_h (H, 3H) | b (2, 3H) or (3H,) | h_prev (B, H) or None -> h (B, H)
    """
    x_t, w_x, w_h, b, h_prev, act, ract = _validate.check_gru_cell(
        x_t, w_x, w_h, b, h_prev, reset_after, activation, recurrent_activation, check_finite
    )
    b_x, b_h = _biases(b, reset_after)
    _, _, h = gru_gates_forward(x_t @ w_x + b_x, h_prev, w_h, b_h, act, ract, reset_after)
    return h


class GRUStepper(Stepper):
    """Streaming inference with the state carried: the twin of the compiled ``GRUStepper``.

    w_x (I, 3H) | w_h (H, 3H) | b (2, 3H) or (3H,), copied at construction. ``step(x_t)`` -> h (B, H)
    and ``reset(h=None)`` as :class:`._stepper.Stepper`.
    """

    def __init__(
        self,
        w_x,
        w_h,
        b,
        batch_size=1,
        *,
        reset_after=True,
        activation="tanh",
        recurrent_activation="sigmoid",
        check_finite=True,
    ):
        self._lock()
        self._act, self._ract, self.reset_after = _validate.gru_specs(
            activation, recurrent_activation, reset_after
        )
        self.dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b = _validate.check_gru_weights(w_x, w_h, b, self.dtype, self.reset_after, check_finite)
        self._start(batch_size, w_x.shape[0], w_h.shape[0], check_finite)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self._w_x, self._w_h = w_x.copy(), w_h.copy()
        self._b_x, self._b_h = _biases(b.copy(), self.reset_after)

    def _next_h(self, x, h_prev):
        zx = x @ self._w_x + self._b_x
        _, _, h = gru_gates_forward(zx, h_prev, self._w_h, self._b_h, self._act, self._ract, self.reset_after)
        return h

    def _repr_options(self):
        return (
            f", reset_after={self.reset_after}, activation={self.activation!r}, "
            f"recurrent_activation={self.recurrent_activation!r}"
        )
