"""Pure-NumPy simple (Elman) RNN cell and sequence: the readable twin of the compiled simple RNN.

Same arguments, checks and cache as the compiled engine; written to be read, not to be fast. It
computes in the dtype of ``x`` (float32 or float64) with the activations of ``activations.apply``.

    h = act(x_t @ w_x + h_prev @ w_h + b)      x (B, T, I) | w_x (I, H) | w_h (H, H) | b (H)

The derivative of act is written from its output, so the backward needs only h.

Recurrent dropout (``rnn_forward``'s ``recurrent_mask`` (B, H), Keras's semantics: one mask per
sequence) multiplies h_prev in the recurrent product: h = act(x_t @ w_x + (h_prev * mask) @ w_h + b).
"""

from __future__ import annotations

import numpy as np

from ..engine import _validate
from ..engine._cache import RNNCache
from . import _sequence as seqs
from ._stepper import Stepper
from .activations import apply, derivative

__all__ = [
    "RNNCache",
    "RNNStepper",
    "rnn_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_gates_backward",
    "rnn_gates_forward",
]


# Maths of one step over B rows, the twins of the compiled simple-RNN kernels ----------------------


def rnn_gates_forward(z, act):
    """z (B, H) = x_t @ w_x + h_prev @ w_h + b | act: activation spec -> h (B, H)."""
    return apply(act, z)  # 1. h = act(z)


def rnn_gates_backward(dh, h, act):
    """dh (B, H) into step t | h (B, H) the step's output -> dz (B, H)."""
    return dh * derivative(act, h)  # 1b. h = act(z)


# Public functions --------------------------------------------------------------------------------


def rnn_forward(
    x,
    w_x,
    w_h,
    b,
    h0=None,
    *,
    activation="tanh",
    recurrent_mask=None,
    reverse=False,
    lengths=None,
    mask=None,
    zero_output_for_mask=False,
    return_cache=False,
    check_finite=True,
):
    """Simple RNN over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, H) | w_h (H, H) | b (H) | h0 (B, H) or None (zeros) |
    recurrent_mask (B, H) or None -> y (B, T, H), h_n (B, H) [, RNNCache]
    reverse, lengths (B,), mask (B, T), zero_output_for_mask: as ``lstmcore.engine._sequence``.
    """
    x, w_x, w_h, b, h0, act, rmask = _validate.check_rnn_forward(
        x, w_x, w_h, b, h0, activation, check_finite, recurrent_mask
    )
    B, T, I = x.shape
    seq = seqs.plan(B, T, reverse, lengths, mask, zero_output_for_mask)
    x, h0, _, mask = seqs.in_order(seq, x, h0, None, rmask)
    H = w_h.shape[0]
    x_tm = np.array(x.transpose(1, 0, 2), order="C")  # (T, B, I), a copy the cache owns
    zx = x_tm @ w_x + b  # (T, B, H): one product for every step
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    h[0] = h0
    for t in range(T):
        h_in = h[t] if mask is None else h[t] * mask  # recurrent dropout
        h[t + 1] = rnn_gates_forward(zx[t] + h_in @ w_h, act)
        seqs.keep_masked(seq, t, h)
    y, h_n, _ = seqs.outputs(seq, h)
    if not return_cache:
        return y, h_n
    return y, h_n, RNNCache(x_tm, w_x, w_h, h, activation, recurrent_mask=mask, sequence=seq)


def rnn_backward(dy, cache, dh_n=None, *, check_finite=True):
    """Backward through time of :func:`rnn_forward`.

    dy (B, T, H) or None | cache | dh_n (B, H) or None
    -> dict dx (B, T, I), dw_x (I, H), dw_h (H, H), db (H), dh0 (B, H)
    """
    dy, dh, act = _validate.check_rnn_backward(dy, cache, dh_n, check_finite)
    seq = cache.sequence
    dy, dh, _ = seqs.grads_in_order(seq, dy, dh)
    T1, B, H = cache.h.shape
    T, I = T1 - 1, cache.x.shape[2]
    mask = cache.recurrent_mask
    dz = np.empty((T, B, H), dtype=cache.h.dtype)
    for t in reversed(range(T)):
        if dy is not None:
            dh = dh + dy[:, t]
        kept = seqs.masked_grads(seq, t, dh)
        dz[t] = rnn_gates_backward(dh, cache.h[t + 1], act)
        dh = dz[t] @ cache.w_h.T  # dh_prev; 0b. z = x_t @ w_x + (h_prev * mask) @ w_h + b
        if mask is not None:
            dh = dh * mask
        seqs.pass_masked(kept, dz[t], dh)
    dz2 = dz.reshape(T * B, H)
    h_in = cache.h[:T] if mask is None else cache.h[:T] * mask  # what w_h multiplied
    return {
        "dx": seqs.dx(seq, (dz2 @ cache.w_x.T).reshape(T, B, I)),
        "dw_x": cache.x.reshape(T * B, I).T @ dz2,
        "dw_h": h_in.reshape(T * B, H).T @ dz2,
        "db": dz2.sum(axis=0),
        "dh0": seqs.rows_back(seq, dh),
    }


def rnn_cell_forward(x_t, w_x, w_h, b, h_prev=None, *, activation="tanh", check_finite=True):
    """One simple-RNN step: x_t (B, I) | w_x (I, H) | w_h (H, H) | b (H) | h_prev (B, H) or None
    -> h (B, H)."""
    x_t, w_x, w_h, b, h_prev, act = _validate.check_rnn_cell(
        x_t, w_x, w_h, b, h_prev, activation, check_finite
    )
    return rnn_gates_forward(x_t @ w_x + h_prev @ w_h + b, act)


class RNNStepper(Stepper):
    """Streaming inference with the state carried: the twin of the compiled ``RNNStepper``.

    w_x (I, H) | w_h (H, H) | b (H), copied at construction. ``step(x_t)`` -> h (B, H) and
    ``reset(h=None)`` as :class:`._stepper.Stepper`.
    """

    def __init__(self, w_x, w_h, b, batch_size=1, *, activation="tanh", check_finite=True):
        self._lock()
        self._act = _validate.activation_spec(activation, "activation")
        self.dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b = _validate.check_rnn_weights(w_x, w_h, b, self.dtype, check_finite)
        self._start(batch_size, w_x.shape[0], w_h.shape[0], check_finite)
        self.activation = activation
        self._w_x, self._w_h, self._b = w_x.copy(), w_h.copy(), b.copy()

    def _next_h(self, x, h_prev):
        return rnn_gates_forward(x @ self._w_x + h_prev @ self._w_h + self._b, self._act)

    def _repr_options(self):
        return f", activation={self.activation!r}"
