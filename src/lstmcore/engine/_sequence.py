"""Sequences as users have them: a direction, variable lengths and masks, turned into one plan
that both backends run (DESIGN.md section 6).

A call with ``reverse``, ``lengths`` or ``mask`` runs its cell over the sequence in *processing
order*: row j of the plan is row ``perm[j]`` of the caller's batch, and its step s reads input
time ``src[j, s]`` (-1: a padding step past the row's length). Each step of each row has a code:

- ``VALID`` (1): the cell runs;
- ``CARRY`` (0): a masked step; the state passes unchanged and the step outputs the state
  (Keras: the previous output);
- ``ZERO`` (2): a masked or padding step; the state passes unchanged and the step outputs 0
  (PyTorch's and ONNX's padding, Keras's ``zero_output_for_mask``, and Keras's masked steps
  before a row's first valid step, whose "previous output" is the zeros it starts from).

The maths of a masked step (both backends): h_t = h_prev, c_t = c_prev; backward: dz = 0,
dh_prev = dh (+ dy_t for a CARRY step), dc_prev = dc.

Rules:
- ``reverse`` runs each row from its last valid time to time 0: from T-1 with a mask (Keras's
  ``go_backwards``: the whole time axis flipped, the mask with it), from ``lengths[b] - 1`` with
  lengths (PyTorch's bidirectional packed sequences, ONNX's ``direction=reverse`` with
  ``sequence_lens``). Outputs keep the input's time order: y[:, t] is the state after reading
  input t (PyTorch's and ONNX's convention, and the backward half of a Keras ``Bidirectional``).
- ``lengths`` (B,) integers in [1, T]: steps at or past a row's length are padding: outputs 0,
  no work. Rows are sorted by length (longest first, stable) so that step s runs on the first
  ``nact[s]`` rows only: the work is the sum of the lengths, not B*T. The final states are each
  row's state at its own last step.
- ``mask`` (B, T) bool, False anywhere: masked steps carry the state (Keras 3's ``Masking`` and
  ``mask_zero``). With lengths too, a step counts when both say so.
"""

from __future__ import annotations

import numpy as np

ZERO, VALID, CARRY = 2, 1, 0

__all__ = ["CARRY", "VALID", "ZERO", "Plan", "lengths_plan", "plan"]


def _check_lengths(lengths, B: int, T: int) -> np.ndarray:
    a = np.asarray(lengths)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        hint = " (pass lengths.astype(int))" if np.issubdtype(a.dtype, np.floating) else ""
        raise TypeError(f"lengths must be an integer array of shape ({B},), got dtype {a.dtype}{hint}")
    if a.shape != (B,):
        raise ValueError(f"lengths must have shape ({B},) (one length per batch row), got {a.shape}")
    a = a.astype(np.int64)
    bad = (a < 1) | (a > T)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"lengths must lie in [1, {T}] (1 <= length <= T), got lengths[{j}] = {a[j]}")
    return a


def _check_mask(mask, B: int, T: int) -> np.ndarray:
    a = np.asarray(mask)
    if a.dtype != bool:
        raise TypeError(
            f"mask must be a bool array of shape ({B}, {T}), got dtype {a.dtype} "
            "(True marks the steps that count: pass mask.astype(bool))"
        )
    if a.shape != (B, T):
        raise ValueError(f"mask must have shape ({B}, {T}) (batch, time), got {a.shape}")
    return a


class Plan:
    """How one call runs its rows (module docstring). Built by :func:`plan`; kept in the cache.

    B, T | reverse, zero_output_for_mask: the call's flags | lengths (B,) or None, mask (B, T) or
    None: the call's, checked | perm (B,) int or None (identity) | src (B, T) int or None (each row
    reads time s, or T-1-s when reverse) | codes (T, B) uint8 in processing order, or None (every
    step valid) | nact (T,) int32 or None: rows of step s that run, a prefix (lengths without a
    mask) | last (B,) int: each plan row's last step (its length - 1, or T - 1) | src_back,
    zero_back (B, T): src and the ZERO steps per caller's row and time (each row's time map is
    its own inverse: the identity, a flip, or t -> length - 1 - t) | zero_steps (B, T) bool or
    None: the ZERO steps per plan row, in processing order.
    """

    __slots__ = (
        "B",
        "T",
        "reverse",
        "zero_output_for_mask",
        "lengths",
        "mask",
        "perm",
        "inv",
        "src",
        "_codes",
        "nact",
        "_offsets",
        "last",
        "src_back",
        "zero_steps",
        "zero_back",
    )

    @property
    def codes(self):
        """(T, B) uint8 or None (above). Lengths without a mask: built when first read (the
        compiled kernels run such a plan from ``nact`` and never read it)."""
        if self._codes is None and self.nact is not None:
            self._codes = np.ascontiguousarray(np.where(self.src >= 0, VALID, ZERO).astype(np.uint8).T)
        return self._codes

    @property
    def step_offsets(self):
        """(T + 1,) intp or None (no ``nact``): the rows that ran before step s, so that step s's
        rows start at row offsets[s] of the arrays that hold the rows that ran, step after step
        (the backward's dz, the products' inputs), and offsets[T] is their number. Built once."""
        if self._offsets is None and self.nact is not None:
            off = np.zeros(self.T + 1, dtype=np.intp)
            np.cumsum(self.nact, out=off[1:])
            self._offsets = off
        return self._offsets

    def gather(self, a, out=None):
        """a (B, T, F) in the caller's order -> (B, T, F) in processing order (padding: 0);
        ``out``: where to write it (compiled backend: scratch kept between calls)."""
        return _take_steps(a, self.perm, self.src, self.reverse, None, out)

    def scatter(self, a, outputs=False, out=None):
        """The inverse of :meth:`gather`: a (B, T, F) in processing order -> the caller's order,
        0 where no step reads. ``outputs``: a holds the states, and the steps that output 0 do.
        ``out``: where to write it, or None (a new array)."""
        zero = self.zero_back if outputs else None
        return _take_steps(a, self.inv, self.src_back, self.reverse, zero, out)

    def gather_tm(self, a, out_tm):
        """As :meth:`gather`, written time-major: out_tm (T, B, F)[s, j] = gather(a)[j, s], in
        one pass (the training paths' cached input)."""
        _take_steps(a, self.perm, self.src, self.reverse, None, out_tm.transpose(1, 0, 2))
        return out_tm

    def put(self, a, out):
        """a (S, F): the rows that ran (a plan with ``nact``), each step's after the previous
        step's (S = nact.sum()) -> out (B, T, F) in the caller's order, 0 past each row's length,
        in one pass (the backward's dx)."""
        if _put_compiled is not None and isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64):
            return _put_compiled(a, self.nact, self.perm, self.src, self.reverse, out)
        ends = np.cumsum(self.nact)
        full = np.zeros((self.T, self.B, a.shape[1]), dtype=a.dtype)
        for s, n in enumerate(self.nact):
            full[s, :n] = a[ends[s] - n : ends[s]]
        out[...] = _take_numpy(full.transpose(1, 0, 2), self.inv, self.src_back, self.reverse, None)
        return out

    def gather_grad(self, dy, out=None, pad=True):
        """dy (B, T, F) of the outputs -> processing order, 0 on ZERO steps (their output is 0);
        not ``pad`` (with ``out``): those steps of out left as they were, for a reader that never
        reads them (the compiled backward with ``nact``)."""
        return _take_steps(dy, self.perm, self.src, self.reverse, self.zero_steps, out, pad)

    def rows(self, a):
        """a (B, ...) per caller's row -> per plan row."""
        return a if self.perm is None or a is None else np.ascontiguousarray(a[self.perm])

    def rows_back(self, a):
        """a (B, ...) per plan row -> per caller's row."""
        return a if self.inv is None or a is None else np.ascontiguousarray(a[self.inv])

    def __repr__(self):
        return (
            f"Plan(B={self.B}, T={self.T}, reverse={self.reverse}, lengths={self.lengths is not None}, "
            f"mask={self.mask is not None}, zero_output_for_mask={self.zero_output_for_mask})"
        )


def plan(B: int, T: int, reverse=False, lengths=None, mask=None, zero_output_for_mask=False):
    """The :class:`Plan` of a call on x (B, T, .), or None when it runs as a plain sequence
    (forward, every step valid). Bad arguments: TypeError/ValueError naming what was expected."""
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(f"reverse must be True or False, got {reverse!r}")
    if not isinstance(zero_output_for_mask, (bool, np.bool_)):
        raise TypeError(f"zero_output_for_mask must be True or False, got {zero_output_for_mask!r}")
    if lengths is not None:
        lengths = _check_lengths(lengths, B, T)
    if mask is not None:
        mask = _check_mask(mask, B, T)
    if not reverse and lengths is None and mask is None:
        return None
    if lengths is not None and mask is None and _lengths_compiled is not None:
        # the same arrays as below, in one compiled pass
        arrays = _lengths_compiled(lengths, T, bool(reverse))
        return lengths_plan(B, T, bool(reverse), lengths, arrays, bool(zero_output_for_mask))
    p = Plan()
    p.B, p.T, p.reverse = B, T, bool(reverse)
    p.zero_output_for_mask = bool(zero_output_for_mask)
    p.lengths, p.mask = lengths, mask
    p.perm = p.inv = p.src = p._codes = p.nact = p._offsets = None
    p.last = np.full(B, T - 1, dtype=np.int64)
    steps = np.arange(T)
    if lengths is not None:
        if mask is None:  # longest first, so that step s runs on a prefix of the rows
            p.perm = np.argsort(-lengths, kind="stable")
            if np.array_equal(p.perm, np.arange(B)):
                p.perm = None
            else:
                p.inv = np.argsort(p.perm)
        lens = lengths if p.perm is None else lengths[p.perm]
        p.last = lens - 1
        src = (lens[:, None] - 1 - steps) if reverse else steps
        p.src = np.where(steps < lens[:, None], src, -1)
        if mask is None:  # rows of step s: those with lens > s, a prefix
            p.nact = (B - np.cumsum(np.bincount(lens, minlength=T + 1))[:T]).astype(np.int32)
    if mask is not None:
        valid = p.src >= 0 if p.src is not None else True
        m = mask if p.perm is None else mask[p.perm]
        if p.src is not None:
            m = np.take_along_axis(m, np.maximum(p.src, 0), axis=1) & valid
        elif reverse:
            m = m[:, ::-1]
        valid = m
    p.zero_steps = p.zero_back = None
    p.src_back = p.src if p.inv is None or p.src is None else np.ascontiguousarray(p.src[p.inv])
    if mask is not None:
        seen = np.cumsum(valid, axis=1) > 0  # a valid step at or before s
        carry = seen & ~valid  # masked after a valid step: outputs the carried state ...
        if p.zero_output_for_mask:
            carry[:] = False
        elif p.src is not None:
            carry &= p.src >= 0  # ... but never a padding step
        codes = np.where(valid, VALID, np.where(carry, CARRY, ZERO)).astype(np.uint8)
        p._codes = np.ascontiguousarray(codes.T)
        zero = codes == ZERO  # (B, T) per plan row, processing order
        p.zero_steps = zero
        if p.src is not None:  # per caller's time: the step that reads it
            at = np.take_along_axis(zero, np.maximum(p.src, 0), axis=1)
        else:
            at = zero[:, ::-1] if reverse else zero
        p.zero_back = np.ascontiguousarray(at if p.inv is None else at[p.inv])
    return p


def lengths_plan(B: int, T: int, reverse: bool, lengths, arrays, zero_output_for_mask=False) -> Plan:
    """The :class:`Plan` of lengths (B,) int64, checked, without a mask, from the arrays of the
    compiled ``_checks.lengths_plan``: (perm, inv, src, src_back, nact, last), src and src_back
    None for a plan that only infers (the kernels read the rows' times from their lengths)."""
    p = Plan()
    p.B, p.T, p.reverse, p.zero_output_for_mask = B, T, reverse, zero_output_for_mask
    p.lengths, p.mask = lengths, None
    p.perm, p.inv, p.src, p.src_back, p.nact, p.last = arrays
    p._codes = p._offsets = p.zero_steps = p.zero_back = None
    return p


def _take_numpy(a, rows, src, reverse, zero):
    """NumPy twin of lstmcore.engine._checks.take_steps: out[j, t] = a[rows[j], src[j, t]],
    0 where src < 0 or zero."""
    if rows is not None:
        a = a[rows]
    if src is None:
        out = np.array(a[:, ::-1] if reverse else a, order="C")
    else:
        out = np.take_along_axis(a, np.maximum(src, 0)[:, :, None], axis=1)
        out[src < 0] = 0
    if zero is not None:
        out[zero] = 0
    return out


try:
    from ._checks import lengths_plan as _lengths_compiled
    from ._checks import put_steps as _put_compiled
    from ._checks import take_steps as _take_compiled
except ImportError:  # pragma: no cover - the reference backend without a compiler
    _take_compiled = _put_compiled = _lengths_compiled = None


_take_threaded = None  # lstmcore.engine._cells.take_steps, found on first use (it imports this module)


def _take_steps(a, rows, src, reverse, zero, out=None, pad=True):
    global _take_threaded
    if _take_compiled is not None and isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64):
        if _take_threaded is None:
            try:
                from ._cells import take_steps as _take_threaded
            except ImportError:  # pragma: no cover - _checks built, the kernels not
                _take_threaded = _take_compiled
        return _take_threaded(a, rows, src, reverse, zero, out, pad)
    result = _take_numpy(a, rows, src, reverse, zero)
    if out is None:
        return result
    out[...] = result
    return out
