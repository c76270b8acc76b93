"""What every reference cell does with a sequence plan (``lstmcore.engine._sequence``, whose
``plan`` this module passes on): inputs into processing order, masked steps that keep the state,
outputs back in the caller's order. The cells call these as ``seqs.<name>``.

Every row runs every step here (the compiled engine skips the padding rows of sorted lengths);
a masked step's maths: h_t = h_prev, c_t = c_prev; backward dz = 0, dh_prev = dh (dy_t included
for a CARRY step), dc_prev = dc.
"""

from __future__ import annotations

import numpy as np

from ..engine._sequence import VALID, plan  # noqa: F401 - plan: the cells reach it from here


def in_order(seq, x, h0, c0, recurrent_mask):
    """x (B, T, I), h0, c0 and the recurrent dropout mask, in processing order."""
    if seq is None:
        return x, h0, c0, recurrent_mask
    return seq.gather(x), seq.rows(h0), seq.rows(c0), seq.rows(recurrent_mask)


def _masked(seq, t):
    """Step t's rows that do not run (bool (B,)), or None when all do."""
    if seq is None or seq.codes is None:
        return None
    keep = seq.codes[t] != VALID
    return keep if keep.any() else None


def keep_masked(seq, t, h, c=None):
    """Masked steps keep the state: h[t+1], c[t+1] = h[t], c[t] on step t's masked rows."""
    keep = _masked(seq, t)
    if keep is not None:
        h[t + 1][keep] = h[t][keep]
        if c is not None:
            c[t + 1][keep] = c[t][keep]


def outputs(seq, h, c=None):
    """From the states h (T+1, B, P), c (T+1, B, H) or None: y (B, T, P), h_n, c_n in the
    caller's order."""
    T = h.shape[0] - 1
    y = np.ascontiguousarray(h[1:].transpose(1, 0, 2))
    h_n, c_n = h[T].copy(), None if c is None else c[T].copy()
    if seq is None:
        return y, h_n, c_n
    return seq.scatter(y, outputs=True), seq.rows_back(h_n), seq.rows_back(c_n)


def grads_in_order(seq, dy, dh, dc=None):
    """dy (B, T, P), dh_n, dc_n in processing order (dy 0 on steps that output 0)."""
    if seq is None:
        return dy, dh, dc
    return (None if dy is None else seq.gather_grad(dy)), seq.rows(dh), seq.rows(dc)


def masked_grads(seq, t, dh, dc=None):
    """Before step t's backward: its masked rows with their dh (dy_t included) and dc, or None."""
    keep = _masked(seq, t)
    if keep is None:
        return None
    return keep, dh[keep].copy(), None if dc is None else dc[keep].copy()


def pass_masked(kept, dz, dh, dc=None, *more):
    """After step t's backward: on its masked rows dz = 0 (and each of ``more``), dh_prev = dh,
    dc_prev = dc, as saved by :func:`masked_grads`."""
    if kept is None:
        return
    keep, dh_kept, dc_kept = kept
    dz[keep] = 0
    dh[keep] = dh_kept
    if dc is not None:
        dc[keep] = dc_kept
    for a in more:
        if a is not None:
            a[keep] = 0


def dx(seq, dx_tm):
    """dx (T, B, I) in processing order -> (B, T, I) in the caller's order."""
    dx = np.ascontiguousarray(dx_tm.transpose(1, 0, 2))
    return dx if seq is None else seq.scatter(dx)


def rows_back(seq, a):
    return a if seq is None else seq.rows_back(a)
