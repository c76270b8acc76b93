"""Pure-NumPy LSTM cell and sequence: the readable twin of the compiled ``lstmcore._lstm``.

Same function names, same arguments, same checks, same cache; written to be read, not to be fast.
It computes in the dtype of ``x`` (float32 or float64) with the formulas of ``csrc/activations.h``.

Notation (thinc style): x inputs, h hidden states, c cell states, z pre-activations, gates the
activated gates i, f, g, o, each a block of H columns of the G = 4H gate columns. Derivatives are
written from outputs: dsigmoid(y) = y * (1 - y), dtanh(y) = 1 - y * y.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .. import _validate
from .._cache import LSTMCache
from .activations import ACT, RACT

__all__ = [
    "LSTMCache",
    "LSTMStepper",
    "gates_backward",
    "gates_forward",
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_forward",
]


# Gate maths of one step, the twins of csrc/lstm_gates.c -----------------------------------------


def _split(a):
    H = a.shape[-1] // 4
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H :]


def gates_forward(z, c_prev, act, ract):
    """z (B, G) pre-activations with bias | c_prev (B, H) -> gates (B, G), c (B, H), h (B, H)."""
    phi, _ = ACT[act]
    sig, _ = RACT[ract]
    z_i, z_f, z_g, z_o = _split(z)
    i, f, g, o = sig(z_i), sig(z_f), phi(z_g), sig(z_o)  # 1. gates
    c = f * c_prev + i * g  # 2. cell
    h = o * phi(c)  # 3. hidden
    return np.concatenate([i, f, g, o], axis=-1), c, h


def gates_backward(dh, dc, gates, c_prev, c, act, ract):
    """dh, dc (B, H) into step t | gates (B, G) | c_prev, c (B, H) -> dz (B, G), dc_prev (B, H)."""
    phi, dphi = ACT[act]
    _, dsig = RACT[ract]
    i, f, g, o = _split(gates)
    phi_c = phi(c)  # recomputed, not cached
    do = dh * phi_c  # 3b. h = o * phi(c)
    dc = dc + dh * o * dphi(phi_c)
    di = dc * g  # 2b. c = f * c_prev + i * g
    dg = dc * i
    df = dc * c_prev
    dc_prev = dc * f
    dz = np.concatenate([di * dsig(i), df * dsig(f), dg * dphi(g), do * dsig(o)], axis=-1)  # 1b.
    return dz, dc_prev


# Public functions --------------------------------------------------------------------------------


def lstm_forward(
    x,
    w_x,
    w_h,
    b,
    h0=None,
    c0=None,
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    return_cache=False,
    check_finite=True,
):
    """LSTM over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, G) | w_h (H, G) | b (G) | h0, c0 (B, H) or None (zeros)
    -> y (B, T, H), h_n (B, H), c_n (B, H) [, cache]

    See :func:`lstmcore.lstm_forward` for the full contract.
    """
    x, w_x, w_h, b, h0, c0, act, ract = _validate.check_forward(
        x, w_x, w_h, b, h0, c0, activation, recurrent_activation, check_finite
    )
    B, T, I = x.shape
    H = w_h.shape[0]
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, I)
    z_x = x_tm @ w_x  # (T, B, G): one product for every step
    gates = np.empty((T, B, 4 * H), dtype=x.dtype)
    h = np.empty((T + 1, B, H), dtype=x.dtype)
    c = np.empty((T + 1, B, H), dtype=x.dtype)
    h[0], c[0] = h0, c0
    for t in range(T):
        z = z_x[t] + h[t] @ w_h + b
        gates[t], c[t + 1], h[t + 1] = gates_forward(z, c[t], act, ract)
    y = np.ascontiguousarray(h[1:].transpose(1, 0, 2))
    h_n, c_n = h[T].copy(), c[T].copy()
    if not return_cache:
        return y, h_n, c_n
    return y, h_n, c_n, LSTMCache(x_tm, w_x, w_h, gates, h, c, activation, recurrent_activation)


def lstm_backward(dy, cache, dh_n=None, dc_n=None, *, check_finite=True):
    """Backward through time of :func:`lstm_forward`.

    dy (B, T, H) or None | cache | dh_n, dc_n (B, H) or None
    -> dict dx (B, T, I), dw_x (I, G), dw_h (H, G), db (G), dh0 (B, H), dc0 (B, H)
    """
    dy, dh, dc = _validate.check_backward(dy, cache, dh_n, dc_n, check_finite)
    act = _validate.ACTIVATIONS[cache.activation]
    ract = _validate.RECURRENT_ACTIVATIONS[cache.recurrent_activation]
    T, B, G = cache.gates.shape
    dz = np.empty((T, B, G), dtype=cache.gates.dtype)
    for t in reversed(range(T)):
        if dy is not None:
            dh = dh + dy[:, t]
        dz[t], dc = gates_backward(dh, dc, cache.gates[t], cache.c[t], cache.c[t + 1], act, ract)
        dh = dz[t] @ cache.w_h.T  # dh_prev
    dz2 = dz.reshape(T * B, G)
    I = cache.x.shape[2]
    H = G // 4
    return {
        "dx": np.ascontiguousarray((dz2 @ cache.w_x.T).reshape(T, B, I).transpose(1, 0, 2)),
        "dw_x": cache.x.reshape(T * B, I).T @ dz2,
        "dw_h": cache.h[:T].reshape(T * B, H).T @ dz2,
        "db": dz2.sum(axis=0),
        "dh0": dh,
        "dc0": dc,
    }


def lstm_cell_forward(
    x_t,
    w_x,
    w_h,
    b,
    h_prev=None,
    c_prev=None,
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    check_finite=True,
):
    """One LSTM step, for streaming inference.

    x_t (B, I) | w_x (I, G) | w_h (H, G) | b (G) | h_prev, c_prev (B, H) or None -> h, c (B, H)
    """
    x_t, w_x, w_h, b, h_prev, c_prev, act, ract = _validate.check_cell(
        x_t, w_x, w_h, b, h_prev, c_prev, activation, recurrent_activation, check_finite
    )
    z = x_t @ w_x + h_prev @ w_h + b
    _, c, h = gates_forward(z, c_prev, act, ract)
    return h, c


class LSTMStepper:
    """Streaming inference with the state carried: the twin of the compiled ``LSTMStepper``.

    w_x (I, G) | w_h (H, G) | b (G), copied at construction. ``step(x_t)``: x_t (B, I), (B, 1, I)
    or, for batch_size=1, (I,) -> h (B, H) ((H,) for a 1-D x_t), in a buffer the stepper owns and
    overwrites two steps later. ``reset(h=None, c=None)`` starts over.
    """

    def __init__(
        self,
        w_x,
        w_h,
        b,
        batch_size=1,
        *,
        activation="tanh",
        recurrent_activation="sigmoid",
        check_finite=True,
    ):
        if getattr(self, "_busy", None) is not None and self._busy.locked():
            raise RuntimeError(
                "LSTMStepper.__init__ called on a stepper that another thread is stepping: "
                "make a new stepper instead"
            )
        self._busy = threading.Lock()  # held while a step or a reset runs
        self._act = _validate.activation_code(activation, _validate.ACTIVATIONS, "activation")
        self._ract = _validate.activation_code(
            recurrent_activation, _validate.RECURRENT_ACTIVATIONS, "recurrent_activation"
        )
        self.dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b = _validate.check_weights(w_x, w_h, b, self.dtype, check_finite)
        self.input_size, self.units = w_x.shape[0], w_h.shape[0]
        self.batch_size = _validate.check_stepper(batch_size, self.input_size, self.units)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.check_finite = bool(check_finite)
        self._w_x, self._w_h, self._b = w_x.copy(), w_h.copy(), b.copy()
        self._hbuf = np.zeros((2, self.batch_size, self.units), dtype=self.dtype)
        self._c = np.zeros((self.batch_size, self.units), dtype=self.dtype)
        self._cur = 0

    @contextlib.contextmanager
    def _entered(self, what):
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                f"LSTMStepper.{what} called while another thread is stepping the same stepper: "
                "a stepper carries one state; use one per thread"
            )
        try:
            yield
        finally:
            self._busy.release()

    def step(self, x_t):
        with self._entered("step"):
            return self._step(x_t)

    def _step(self, x_t):
        B, I = self.batch_size, self.input_size
        a = _validate.as_step_input(x_t, self.dtype, B, I)
        x = a.reshape(B, I)
        if self.check_finite and not np.isfinite(x).all():
            raise ValueError(f"x_t must be finite, got {x[~np.isfinite(x)][0]}")
        z = x @ self._w_x + self._hbuf[self._cur] @ self._w_h + self._b
        _, c, h = gates_forward(z, self._c, self._act, self._ract)
        nxt = 1 - self._cur
        self._hbuf[nxt] = h
        self._c[...] = c
        self._cur = nxt
        return self._hbuf[nxt, 0] if a.ndim == 1 else self._hbuf[nxt]

    @property
    def h(self):
        return self._hbuf[self._cur].copy()

    @property
    def c(self):
        return self._c.copy()

    def reset(self, h=None, c=None):
        B, H = self.batch_size, self.units
        with self._entered("reset"):
            h = _validate._state("h", h, self.dtype, B, H, self.check_finite)
            c = _validate._state("c", c, self.dtype, B, H, self.check_finite)
            self._hbuf[self._cur] = h
            self._c[...] = c

    def __repr__(self):
        return (
            f"LSTMStepper(batch_size={self.batch_size}, input_size={self.input_size}, "
            f"units={self.units}, dtype={self.dtype.name}, activation={self.activation!r}, "
            f"recurrent_activation={self.recurrent_activation!r})"
        )
