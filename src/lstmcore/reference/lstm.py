"""Pure-NumPy LSTM cell and sequence: the readable twin of the compiled ``lstmcore.engine._lstm``.

Same function names, same arguments, same checks, same cache; written to be read, not to be fast.
It computes in the dtype of ``x`` (float32 or float64) with the formulas of ``csrc/activations.h``.

Notation (thinc style): x inputs, h hidden states, c cell states, z pre-activations, gates the
activated gates i, f, g, o, each a block of H columns of the G = 4H gate columns. Derivatives are
written from outputs: dsigmoid(y) = y * (1 - y), dtanh(y) = 1 - y * y.

The LSTM options (peepholes, proj, clip, input_forget, output_activation, activations with
parameters; checked by ``lstmcore.engine._lstm_options``) have their own gate maths,
:func:`gates_forward_options` / :func:`gates_backward_options`. The plain LSTM (no options, Keras's
activations) keeps :func:`gates_forward` / :func:`gates_backward`, the twins of the tuned kernels,
so that its results do not change. With proj, h has P columns: h = m @ proj with m = o * phi(c).

Recurrent dropout (``lstm_forward``'s ``recurrent_mask`` (B, P), Keras's semantics: one mask per
sequence) multiplies h_prev where it enters the recurrent product only:
z = x @ w_x + (h_prev * mask) @ w_h + b; c and the gate maths do not see it. A masked call runs
the gate maths of the options, as the compiled engine runs it on its generic cell.
"""

from __future__ import annotations

import numpy as np

from ..engine import _lstm_options, _validate
from ..engine._cache import LSTMCache
from . import _sequence as seqs
from . import activations
from ._stepper import Stepper
from .activations import ACT, RACT

__all__ = [
    "LSTMCache",
    "LSTMStepper",
    "gates_backward",
    "gates_backward_options",
    "gates_forward",
    "gates_forward_options",
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


def _clipped(pre, clip):
    """``pre`` clipped to [-clip, clip] (clip in the dtype of pre), or pre itself when clip is None."""
    if clip is None:
        return pre
    bound = pre.dtype.type(clip)
    return np.clip(pre, -bound, bound)


def _passes(dpre, pre, clip):
    """Clip's gradient: ``dpre`` where the stored, clipped ``pre`` lies strictly inside
    (-clip, clip), 0 where it was clipped (a pre-activation exactly at ±clip counts as clipped)."""
    if clip is None:
        return dpre
    return np.where(np.abs(pre) < pre.dtype.type(clip), dpre, 0).astype(dpre.dtype)


def gates_forward_options(z, c_prev, opts):
    """The gate maths with the options ``opts`` (an ``_lstm_options.LSTMOptions``).

    z (B, G) = x @ w_x + h_prev @ w_h + b | c_prev (B, H)
    -> pre (B, G) the clipped pre-activations [pre_i | pre_f | pre_g | pre_o], gates (B, G)
       activated [i | f | g | o], c (B, H), m (B, H) = o * out_act(c) (h = m @ proj with proj).
    """
    z_i, z_f, z_g, z_o = _split(z)
    p_i, p_f, p_o = (0, 0, 0) if opts.peepholes is None else opts.peepholes
    pre_i = _clipped(z_i + p_i * c_prev, opts.clip)  # 1. gates i, f, g
    pre_f = _clipped(z_f + p_f * c_prev, opts.clip)
    pre_g = _clipped(z_g, opts.clip)
    i = activations.apply(opts.ract, pre_i)
    f = 1 - i if opts.input_forget else activations.apply(opts.ract, pre_f)
    g = activations.apply(opts.act, pre_g)
    c = f * c_prev + i * g  # 2. cell
    pre_o = _clipped(z_o + p_o * c, opts.clip)  # 3. gate o, peeping at the new c
    o = activations.apply(opts.ract, pre_o)
    m = o * activations.apply(opts.out_act, c)  # 4. output
    pre = np.concatenate([pre_i, pre_f, pre_g, pre_o], axis=-1)
    return pre, np.concatenate([i, f, g, o], axis=-1), c, m


def gates_backward_options(dm, dc, gates, c_prev, c, opts, pre=None):
    """Backward of :func:`gates_forward_options` for one step.

    dm (B, H) into m = o * out_act(c) (dh @ proj.T with proj, else dh) | dc (B, H) into c |
    gates (B, G) | c_prev, c (B, H) | pre (B, G) the clipped pre-activations, needed when clip is set
    -> dz (B, G) the gradient of the pre-activations (that of z, as pre = z + p * c), dc_prev (B, H).
    With input_forget the f block of dz is 0.
    """
    i, f, g, o = _split(gates)
    pre_i, pre_f, pre_g, pre_o = (None,) * 4 if pre is None else _split(pre)
    p_i, p_f, p_o = (0, 0, 0) if opts.peepholes is None else opts.peepholes
    phi_c = activations.apply(opts.out_act, c)  # recomputed, not cached
    do = dm * phi_c  # 4b. m = o * out_act(c)
    dc = dc + dm * o * activations.derivative(opts.out_act, phi_c)
    dpre_o = _passes(do * activations.derivative(opts.ract, o), pre_o, opts.clip)  # 3b. o
    dc = dc + dpre_o * p_o
    di = dc * g  # 2b. c = f * c_prev + i * g
    dg = dc * i
    df = dc * c_prev
    dc_prev = dc * f
    if opts.input_forget:  # f = 1 - i
        di = di - df
        dpre_f = np.zeros_like(df)
    else:
        dpre_f = _passes(df * activations.derivative(opts.ract, f), pre_f, opts.clip)  # 1b. i, f, g
    dpre_i = _passes(di * activations.derivative(opts.ract, i), pre_i, opts.clip)
    dpre_g = _passes(dg * activations.derivative(opts.act, g), pre_g, opts.clip)
    dc_prev = dc_prev + dpre_i * p_i + dpre_f * p_f
    return np.concatenate([dpre_i, dpre_f, dpre_g, dpre_o], axis=-1), dc_prev


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
    output_activation=None,
    peepholes=None,
    proj=None,
    clip=None,
    input_forget=False,
    recurrent_mask=None,
    reverse=False,
    lengths=None,
    mask=None,
    zero_output_for_mask=False,
    return_cache=False,
    check_finite=True,
):
    """LSTM over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, G) | w_h (P, G) | b (G) | h0 (B, P), c0 (B, H) or None (zeros)
    | peepholes (3, H) | proj (H, P); P = H without proj | recurrent_mask (B, P) or None
    -> y (B, T, P), h_n (B, P), c_n (B, H) [, cache]

    recurrent_mask multiplies h_prev in the recurrent product at every step:
    z = x @ w_x + (h_prev * recurrent_mask) @ w_h + b.

    reverse, lengths (B,), mask (B, T), zero_output_for_mask: directions, variable lengths and
    masks, as ``lstmcore.engine._sequence`` states them; a masked step keeps h and c.

    See :func:`lstmcore.lstm_forward` for the full contract and ``lstmcore.engine._lstm_options`` for
    the options.
    """
    x, w_x, w_h, b, h0, c0, opts = _lstm_options.check_forward(
        x,
        w_x,
        w_h,
        b,
        h0,
        c0,
        check_finite,
        activation=activation,
        recurrent_activation=recurrent_activation,
        output_activation=output_activation,
        peepholes=peepholes,
        proj=proj,
        clip=clip,
        input_forget=input_forget,
        recurrent_mask=recurrent_mask,
    )
    B, T, I = x.shape
    seq = seqs.plan(B, T, reverse, lengths, mask, zero_output_for_mask)
    x, h0, c0, mask = seqs.in_order(seq, x, h0, c0, opts.recurrent_mask)
    H = w_x.shape[1] // 4
    P = w_h.shape[0]
    x_tm = np.array(x.transpose(1, 0, 2), order="C")  # (T, B, I), a copy the cache owns
    z_x = x_tm @ w_x  # (T, B, G): one product for every step
    gates = np.empty((T, B, 4 * H), dtype=x.dtype)
    h = np.empty((T + 1, B, P), dtype=x.dtype)
    c = np.empty((T + 1, B, H), dtype=x.dtype)
    pre = np.empty((T, B, 4 * H), dtype=x.dtype) if opts.clip is not None else None
    m = np.empty((T, B, H), dtype=x.dtype) if opts.proj is not None else None
    h[0], c[0] = h0, c0
    for t in range(T):
        h_in = h[t] if mask is None else h[t] * mask  # recurrent dropout
        z = z_x[t] + h_in @ w_h + b
        if opts.plain:
            gates[t], c[t + 1], h[t + 1] = gates_forward(z, c[t], *opts.codes)
        else:
            pre_t, gates[t], c[t + 1], m_t = gates_forward_options(z, c[t], opts)
            h[t + 1] = m_t if opts.proj is None else m_t @ opts.proj
            if pre is not None:
                pre[t] = pre_t
            if m is not None:
                m[t] = m_t
        seqs.keep_masked(seq, t, h, c)
    y, h_n, c_n = seqs.outputs(seq, h, c)
    if not return_cache:
        return y, h_n, c_n
    cache = LSTMCache(
        x_tm,
        w_x,
        w_h,
        gates,
        h,
        c,
        activation,
        recurrent_activation,
        peepholes=opts.peepholes,
        proj=opts.proj,
        clip=opts.clip,
        input_forget=opts.input_forget,
        output_activation=output_activation,
        z=pre,
        m=m,
        recurrent_mask=mask,
        sequence=seq,
    )
    return y, h_n, c_n, cache


def lstm_backward(dy, cache, dh_n=None, dc_n=None, *, check_finite=True):
    """Backward through time of :func:`lstm_forward`.

    dy (B, T, P) or None | cache | dh_n (B, P), dc_n (B, H) or None
    -> dict dx (B, T, I), dw_x (I, G), dw_h (P, G), db (G), dh0 (B, P), dc0 (B, H),
       and dpeepholes (3, H) when the forward had peepholes, dproj (H, P) when it had proj.
    """
    dy, dh, dc, opts = _lstm_options.check_backward(dy, cache, dh_n, dc_n, check_finite)
    seq = cache.sequence
    dy, dh, dc = seqs.grads_in_order(seq, dy, dh, dc)
    mask = opts.recurrent_mask
    T, B, G = cache.gates.shape
    H = G // 4
    P = cache.w_h.shape[0]
    dz = np.empty((T, B, G), dtype=cache.gates.dtype)
    dhs = np.empty((T, B, P), dtype=cache.gates.dtype) if opts.proj is not None else None
    for t in reversed(range(T)):
        if dy is not None:
            dh = dh + dy[:, t]
        kept = seqs.masked_grads(seq, t, dh, dc)
        if opts.plain:
            dz[t], dc = gates_backward(dh, dc, cache.gates[t], cache.c[t], cache.c[t + 1], *opts.codes)
        else:
            if dhs is not None:
                dhs[t] = dh
            dm = dh if opts.proj is None else dh @ opts.proj.T  # 5b. h = m @ proj
            pre = None if cache.z is None else cache.z[t]
            dz[t], dc = gates_backward_options(dm, dc, cache.gates[t], cache.c[t], cache.c[t + 1], opts, pre)
        dh = dz[t] @ cache.w_h.T  # dh_prev; 0b. z = x @ w_x + (h_prev * mask) @ w_h + b
        if mask is not None:
            dh = dh * mask
        seqs.pass_masked(kept, dz[t], dh, dc, dhs[t] if dhs is not None else None)
    dz2 = dz.reshape(T * B, G)
    I = cache.x.shape[2]
    h_in = cache.h[:T] if mask is None else cache.h[:T] * mask  # what w_h multiplied
    grads = {
        "dx": seqs.dx(seq, (dz2 @ cache.w_x.T).reshape(T, B, I)),
        "dw_x": cache.x.reshape(T * B, I).T @ dz2,
        "dw_h": h_in.reshape(T * B, P).T @ dz2,
        "db": dz2.sum(axis=0),
        "dh0": seqs.rows_back(seq, dh),
        "dc0": seqs.rows_back(seq, dc),
    }
    if opts.peepholes is not None:
        # pre_i = z_i + p_i * c_prev, pre_f = z_f + p_f * c_prev, pre_o = z_o + p_o * c
        dz_i, dz_f, _, dz_o = _split(dz)
        grads["dpeepholes"] = np.stack(
            [
                (dz_i * cache.c[:T]).sum(axis=(0, 1)),
                (dz_f * cache.c[:T]).sum(axis=(0, 1)),
                (dz_o * cache.c[1:]).sum(axis=(0, 1)),
            ]
        )
    if opts.proj is not None:
        grads["dproj"] = cache.m.reshape(T * B, H).T @ dhs.reshape(T * B, P)  # h = m @ proj
    return grads


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
    output_activation=None,
    peepholes=None,
    proj=None,
    clip=None,
    input_forget=False,
    check_finite=True,
):
    """One LSTM step, for streaming inference.

    x_t (B, I) | w_x (I, G) | w_h (P, G) | b (G) | h_prev (B, P), c_prev (B, H) or None
    -> h (B, P), c (B, H). Options as :func:`lstm_forward`.
    """
    x_t, w_x, w_h, b, h_prev, c_prev, opts = _lstm_options.check_cell(
        x_t,
        w_x,
        w_h,
        b,
        h_prev,
        c_prev,
        check_finite,
        activation=activation,
        recurrent_activation=recurrent_activation,
        output_activation=output_activation,
        peepholes=peepholes,
        proj=proj,
        clip=clip,
        input_forget=input_forget,
    )
    z = x_t @ w_x + h_prev @ w_h + b
    return _step(z, c_prev, opts)


def _step(z, c_prev, opts):
    """h (B, P), c (B, H) of one step from z (B, G) = x @ w_x + h_prev @ w_h + b."""
    if opts.plain:
        _, c, h = gates_forward(z, c_prev, *opts.codes)
        return h, c
    _, _, c, m = gates_forward_options(z, c_prev, opts)
    return (m if opts.proj is None else m @ opts.proj), c


class LSTMStepper(Stepper):
    """Streaming inference with the state carried: the twin of the compiled ``LSTMStepper``.

    w_x (I, G) | w_h (P, G) | b (G) | peepholes (3, H) | proj (H, P), copied at construction;
    options as :func:`lstm_forward`. ``step(x_t)`` -> h (B, P) as :class:`._stepper.Stepper`;
    ``reset(h=None, c=None)`` starts over: h (B, P), c (B, H). ``units`` is H.
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
        output_activation=None,
        peepholes=None,
        proj=None,
        clip=None,
        input_forget=False,
        check_finite=True,
    ):
        self._lock()
        self.dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b, opts = _lstm_options.check_weights(
            w_x,
            w_h,
            b,
            self.dtype,
            check_finite,
            activation=activation,
            recurrent_activation=recurrent_activation,
            output_activation=output_activation,
            peepholes=peepholes,
            proj=proj,
            clip=clip,
            input_forget=input_forget,
        )
        self._P = w_h.shape[0]
        self._start(batch_size, w_x.shape[0], w_x.shape[1] // 4, check_finite, self._P)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.output_activation = output_activation
        self._w_x, self._w_h, self._b = w_x.copy(), w_h.copy(), b.copy()
        self._opts = opts._replace(
            peepholes=None if opts.peepholes is None else opts.peepholes.copy(),
            proj=None if opts.proj is None else opts.proj.copy(),
        )
        self._c = np.zeros((self.batch_size, self.units), dtype=self.dtype)

    def _next_h(self, x, h_prev):
        z = x @ self._w_x + h_prev @ self._w_h + self._b
        h, c = _step(z, self._c, self._opts)
        self._c[...] = c
        return h

    @property
    def c(self):
        return self._c.copy()

    def reset(self, h=None, c=None):
        with self._entered("reset"):
            h = self._state("h", h, self._P)
            c = self._state("c", c, self.units)
            self._hbuf[self._cur] = h
            self._c[...] = c

    def _repr_options(self):
        opts = self._opts
        return "".join(
            [
                f", activation={self.activation!r}, recurrent_activation={self.recurrent_activation!r}",
                f", output_activation={self.output_activation!r}"
                if self.output_activation is not None
                else "",
                ", peepholes=True" if opts.peepholes is not None else "",
                f", proj_size={self._P}" if opts.proj is not None else "",
                f", clip={opts.clip!r}" if opts.clip is not None else "",
                ", input_forget=True" if opts.input_forget else "",
            ]
        )
