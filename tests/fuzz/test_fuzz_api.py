"""Fuzz of the functional API: the compiled engine against ``lstmcore.reference``, whatever the input.

No crash, no hang, no silent wrong answer. tests/fuzz/README.md says how to run the short and the
long profile and what each property checks; in short:

1. valid inputs (float32 and float64, B, T, I, H from 1 to 40, every activation, with and without
   h0/c0, every instruction set and loop path of the kernels): ``lstm_forward`` (inference and
   ``return_cache``), ``lstm_backward``, ``lstm_cell_forward`` and ``LSTMStepper`` equal the
   reference within the tolerance table of tests/helpers.py;
2. large finite values and NaN/inf with ``check_finite=False``: the compiled result has the
   reference's pattern of NaN, +inf, -inf and finite values, and close finite values;
3. invalid inputs (shapes, dtypes, views, non-finite values, lists, None, scalars, strings, bad
   options, tampered caches): both backends succeed with the same answer, or both raise the same
   ``ValueError`` or ``TypeError``; conversions (views, byte order) give the native answer;
4. huge declared shapes, and a batch of random cases of 3, in subprocesses under a memory limit,
   so that a crash or a hang is reported, not fatal to the suite.

The cases are built from a few drawn numbers (sizes, a seed, the list of changes), so a failing
example prints as a short ``Problem(...)`` or ``Plan(...)`` that rebuilds the arrays.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import lstmcore.engine._lstm as compiled
import numpy as np
import pytest
from helpers import ACTIVATIONS, RECURRENT_ACTIVATIONS, TOL, strided
from hypothesis import event as _event
from hypothesis import example, given, settings
from hypothesis import note as _note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

import lstmcore
import lstmcore.reference as reference

BACKENDS = {"compiled": compiled, "reference": reference}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
ISAS = tuple(compiled._available_isas())
# How the compiled time loop runs (tests/engine/test_kernels.py's loop_path): its default rule, a BLAS
# product per step, the packed kernel, the packed kernel on two threads with rows or panels split,
# and on two threads a measured plan (lstmcore tune's) for the problem's shape, drawn from the
# tuner's candidates by the problem's seed.
PATHS = ("default", "blas", "packed", "packed-2-threads-rows", "packed-2-threads-panels", "tuned-2-threads")
ENGINES = tuple((isa, path) for path in PATHS for isa in reversed(ISAS))  # the default first
ERRORS = (ValueError, TypeError)
PROFILE = os.environ.get("LSTMCORE_FUZZ", "ci").strip().lower() or "ci"


def note(text):
    """hypothesis.note, a no-op outside a test (the subprocess batches)."""
    with contextlib.suppress(InvalidArgument):
        _note(text)


def event(text):
    with contextlib.suppress(InvalidArgument):
        _event(text)


def _measured_plan(isa, p):
    """A plan lstmcore tune may keep for problem p on two threads, drawn by p's seed."""
    from lstmcore.benchmark.tune import candidates

    plans = candidates(isa, 2)
    plan = dict(plans[p.seed % len(plans)])
    if plan["path"] == "packed":
        plan["grads"] = ("auto", "packed", "blas", "blocked")[p.seed // len(plans) % 4]
    return {"isa": isa, "dtype": p.dtype.name, "threads": 2, "B": p.B, "I": p.I, "H": p.H, "plan": plan}


@contextlib.contextmanager
def engine(config, p=None):
    """Run the compiled kernels with ``config`` = (instruction set, loop path), then restore; p:
    the problem, whose shape the tuned path installs a measured plan for."""
    from lstmcore.engine import _tuned

    isa, path = config
    lc = compiled
    saved = (
        lc._kernel_isa(),
        lc._packed_limits(),
        lc._seq_par_min(),
        lc._row_split_bytes(),
        lstmcore.get_num_threads(),
    )
    try:
        lc._set_kernel_isa(isa)
        if path == "blas":
            lc._set_packed_limits(1 << 30, 1 << 30, 1 << 30)
        elif path.startswith("packed"):
            lc._set_packed_limits(1, 1 << 30, 1)
        if "2-threads" in path:
            lstmcore.set_num_threads(2)
            lc._set_seq_par_min(0)
        if path.startswith("packed-2"):
            lc._set_row_split_bytes(1 << 40 if path.endswith("rows") else 0)
        if path.startswith("tuned") and p is not None:
            note(f"measured plan {_measured_plan(isa, p)}")
            _tuned.install([_measured_plan(isa, p)])
        yield
    finally:
        _tuned.install([])
        lc._set_kernel_isa(saved[0])
        lc._set_packed_limits(*saved[1])
        lc._set_seq_par_min(saved[2])
        lc._set_row_split_bytes(saved[3])
        lstmcore.set_num_threads(saved[4])


# Comparisons -------------------------------------------------------------------------------------


def assert_same(got, want, dtype, name, scale=1.0, nearby=()):
    """``got`` (compiled) equals ``want`` (reference) within the tolerance table.

    The absolute tolerance grows with the largest value of ``want``: a relu or linear cell can
    grow over T steps, and the rounding of its large entries then reaches its small ones (the
    error is bounded norm-wise, not element-wise). ``scale`` multiplies it further (sums of T*B
    terms in the weight gradients, as tests/engine/test_kernels.py). ``nearby`` are the reference's
    answers to the same problem with every input moved by up to one unit in the last place, and
    for float32 in float64 (:meth:`Problem.neighbours`): where a growing cell amplifies rounding
    (a linear cell over 40 steps turns 1e-16 into 1e-9, 1e-7 into 1e-3), the compiled answer may be
    off by up to 4 times their largest distance from ``want``.
    """
    got, want = np.asarray(got), np.asarray(want)
    dtype = np.dtype(dtype)
    assert got.dtype == dtype, f"{name}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    slack = 0.0
    with quiet():
        for other in nearby:
            diff = np.abs(want.astype(np.float64) - np.asarray(other, np.float64))
            slack = max(slack, 4 * float(np.nan_to_num(diff).max(initial=0)))
    assert_same_pattern(got, want, dtype, name, scale, slack)


def _classes(a):
    return np.select([np.isnan(a), np.isposinf(a), np.isneginf(a)], [0, 1, 2], 3)


def assert_same_pattern(got, want, dtype, name, scale=1.0, slack=0.0):
    """Same NaN / +inf / -inf / finite class at every index, finite values close."""
    tol = TOL[np.dtype(dtype)]
    cg, cw = _classes(got), _classes(want)
    if (cg != cw).any():
        first = tuple(int(i) for i in np.argwhere(cg != cw)[0])
        raise AssertionError(
            f"{name}: {int((cg != cw).sum())} of {cg.size} differ in class (nan/inf/finite); "
            f"first at {first}: compiled {got[first]!r}, reference {want[first]!r}"
        )
    fin = cw == 3
    if not fin.any():
        return
    g, w = got[fin].astype(np.float64), want[fin].astype(np.float64)
    big = float(np.abs(w).max())
    atol = max(tol["atol"] * scale * max(1.0, big if math.isfinite(big) else 1.0), slack)
    ok = np.abs(g - w) <= atol + tol["rtol"] * np.abs(w)
    if not ok.all():
        k = int(np.argmax(~ok))
        raise AssertionError(
            f"{name}: {int((~ok).sum())} of {ok.size} finite values differ; largest abs diff "
            f"{np.abs(g - w).max():.3e}; first: compiled {g[k]!r} vs reference {w[k]!r} "
            f"(rtol {tol['rtol']}, atol {atol:.3g})"
        )


def assert_same_grads(got, want, dtype, T, B, pattern=False, nearby=()):
    assert sorted(got) == sorted(want) == ["db", "dc0", "dh0", "dw_h", "dw_x", "dx"]
    for k in want:
        scale = T * B if k in ("dw_x", "dw_h", "db") else 1
        if pattern:
            assert got[k].dtype == np.dtype(dtype) and got[k].shape == want[k].shape, k
            assert_same_pattern(got[k], want[k], dtype, k, scale)
        else:
            assert_same(got[k], want[k], dtype, k, scale, [n[k] for n in nearby])


def quiet():
    """NumPy's floating-point warnings off (the reference on inf and NaN warns; pytest's
    filterwarnings = error would turn that into an exception)."""
    return np.errstate(all="ignore")


# Valid problems ----------------------------------------------------------------------------------


class Problem:
    """One LSTM layer's inputs, rebuilt from a seed: short to print, exact to reproduce.

    Weights at the scale of a Glorot initialisation (tests/helpers.py's make_lstm), so that relu
    and linear cells stay finite over 40 steps.
    """

    def __init__(self, dtype, B, T, I, H, seed, h0, c0, activation, recurrent_activation):
        self.dtype, self.B, self.T, self.I, self.H, self.seed = np.dtype(dtype), B, T, I, H, seed
        self.has_h0, self.has_c0 = h0, c0
        self.opts = {"activation": activation, "recurrent_activation": recurrent_activation}
        rng = np.random.default_rng(seed)

        def f(scale, *shape):
            return (rng.standard_normal(shape) * scale).astype(self.dtype)

        self.x = f(1.0, B, T, I)
        self.w_x, self.w_h, self.b = f(I**-0.5, I, 4 * H), f(H**-0.5, H, 4 * H), f(0.3, 4 * H)
        self.h0 = f(0.5, B, H) if h0 else None
        self.c0 = f(0.5, B, H) if c0 else None
        self.dy, self.dh_n, self.dc_n = f(1.0, B, T, H), f(1.0, B, H), f(1.0, B, H)

    @property
    def args(self):
        return self.x, self.w_x, self.w_h, self.b, self.h0, self.c0

    def _copy(self, dtype, change):
        p = object.__new__(Problem)
        p.__dict__.update(self.__dict__)
        p.dtype = np.dtype(dtype)
        for k in ("x", "w_x", "w_h", "b", "h0", "c0", "dy", "dh_n", "dc_n"):
            a = getattr(self, k)
            setattr(p, k, None if a is None else change(a).astype(dtype))
        return p

    def neighbours(self):
        """The same problem with every input moved by a random relative change in [-eps, eps],
        twice, and for float32 the same values in float64: see :func:`assert_same`."""
        eps = np.finfo(self.dtype).eps
        out = []
        for k in (1, 2):
            rng = np.random.default_rng(self.seed + k)
            out.append(self._copy(self.dtype, lambda a, rng=rng: a * (1 + eps * rng.uniform(-1, 1, a.shape))))
        if self.dtype == np.float32:
            out.append(self._copy(np.float64, lambda a: a))
        return out

    def __repr__(self):
        return (
            f"Problem({self.dtype.name!r}, B={self.B}, T={self.T}, I={self.I}, H={self.H}, "
            f"seed={self.seed}, h0={self.has_h0}, c0={self.has_c0}, **{self.opts})"
        )


@st.composite
def problems(draw, max_size=40):
    size = st.integers(1, max_size)
    return Problem(
        draw(st.sampled_from(DTYPES)),
        draw(size),
        draw(size),
        draw(size),
        draw(size),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.sampled_from(ACTIVATIONS)),
        draw(st.sampled_from(RECURRENT_ACTIVATIONS)),
    )


engines = st.sampled_from(ENGINES)


def pinned(examples):
    """``hypothesis.example`` for each of ``examples`` (dicts of arguments): cases of bugs found
    before, run on every run whatever the profile draws."""

    def decorate(test):
        for kwargs in reversed(examples):
            test = example(**kwargs)(test)
        return test

    return decorate


def _on_every_isa(**kwargs):
    return [dict(kwargs, config=(isa, "default")) for isa in ISAS]


# 1. Valid inputs: equal to the reference -------------------------------------------------------


def _forward(mod, p, **kw):
    return mod.lstm_forward(*p.args, **p.opts, **kw)


@given(p=problems(), config=engines, return_cache=st.booleans())
def test_forward_matches_reference(no_known_crash, p, config, return_cache):
    want = _forward(reference, p, return_cache=True)
    nearby = [_forward(reference, q, return_cache=True) for q in p.neighbours()]
    with engine(config, p):
        got = _forward(compiled, p, return_cache=return_cache)
    assert len(got) == (4 if return_cache else 3)
    for i, (name, g, w) in enumerate(zip(("y", "h_n", "c_n"), got, want, strict=False)):
        assert_same(g, w, p.dtype, name, nearby=[n[i] for n in nearby])
    if return_cache:
        cache, ref = got[3], want[3]
        assert type(cache) is type(ref)
        assert (cache.activation, cache.recurrent_activation) == (ref.activation, ref.recurrent_activation)
        for name in ("x", "w_x", "w_h", "gates", "h", "c"):
            assert_same(
                getattr(cache, name),
                getattr(ref, name),
                p.dtype,
                f"cache.{name}",
                nearby=[getattr(n[3], name) for n in nearby],
            )


@given(p=problems(), config=engines, dy=st.booleans(), dh_n=st.booleans(), dc_n=st.booleans())
def test_backward_matches_reference(no_known_crash, p, config, dy, dh_n, dc_n):
    def backward(mod, q, cache):
        return mod.lstm_backward(
            q.dy if dy else None, cache, q.dh_n if dh_n else None, q.dc_n if dc_n else None
        )

    ref_cache = _forward(reference, p, return_cache=True)[3]
    want = backward(reference, p, ref_cache)
    nearby = [backward(reference, q, _forward(reference, q, return_cache=True)[3]) for q in p.neighbours()]
    with engine(config, p):
        cache = _forward(compiled, p, return_cache=True)[3]
        on_ref_cache = backward(compiled, p, ref_cache)
        end_to_end = backward(compiled, p, cache)
    assert_same_grads(on_ref_cache, want, p.dtype, p.T, p.B, nearby=nearby)
    assert_same_grads(end_to_end, want, p.dtype, p.T, p.B, nearby=nearby)


@given(p=problems(), config=engines, t=st.integers(0, 39))
def test_cell_matches_reference(no_known_crash, p, config, t):
    x_t = np.ascontiguousarray(p.x[:, t % p.T])
    want = reference.lstm_cell_forward(x_t, p.w_x, p.w_h, p.b, p.h0, p.c0, **p.opts)
    with engine(config, p):
        got = compiled.lstm_cell_forward(x_t, p.w_x, p.w_h, p.b, p.h0, p.c0, **p.opts)
    assert len(got) == 2
    assert_same(got[0], want[0], p.dtype, "h")
    assert_same(got[1], want[1], p.dtype, "c")


STEP_FORMS = ("(B, I)", "(B, 1, I)", "(I,)")


def step_input(x_t, form):
    """x_t (B, I) in one of the forms LSTMStepper.step takes."""
    if form == "(B, 1, I)":
        return np.ascontiguousarray(x_t[:, None])
    if form == "(I,)" and x_t.shape[0] == 1:
        return np.ascontiguousarray(x_t[0])
    return np.ascontiguousarray(x_t)


@given(p=problems(), config=engines, form=st.sampled_from(STEP_FORMS), reset=st.booleans())
def test_stepper_matches_reference(no_known_crash, p, config, form, reset):
    """A stepper stepped T times equals lstm_forward on those T steps (each step's h compared
    once all are done, so that the tolerance sees the whole sequence's scale)."""
    want = _forward(reference, p)
    nearby = [_forward(reference, q) for q in p.neighbours()]
    with engine(config):
        steppers = {
            name: m.LSTMStepper(p.w_x, p.w_h, p.b, batch_size=p.B, **p.opts) for name, m in BACKENDS.items()
        }
        ys = {name: [] for name in steppers}
        for s in steppers.values():
            if reset:
                s.step(step_input(p.x[:, 0], form))  # a step, then back to the given state
            s.reset(p.h0, p.c0)
        for t in range(p.T):
            x_t = step_input(p.x[:, t], form)
            for name, s in steppers.items():
                ys[name].append(np.reshape(s.step(x_t), (p.B, p.H)).copy())
    for name, s in steppers.items():
        assert_same(
            np.stack(ys[name], axis=1),
            want[0],
            p.dtype,
            f"{name} stepper, h of each step",
            nearby=[n[0] for n in nearby],
        )
        assert_same(s.h, want[1], p.dtype, f"{name} stepper h", nearby=[n[1] for n in nearby])
        assert_same(s.c, want[2], p.dtype, f"{name} stepper c", nearby=[n[2] for n in nearby])


# 2. Large finite values and non-finite values: the reference's pattern --------------------------

# Overflow with values of both signs is not a property of the formulas alone: x @ w_x + h @ w_h
# summed in another order, or with fused multiply-adds, can give inf where the reference gives a
# large finite value, or -inf where it gives NaN (fma(a, b, inf) is inf even where a * b rounds
# to -inf), and any cancellation of large terms leaves a different finite value. With values of
# one sign no sum cancels and no two infinities of opposite sign meet, so every order gives the
# same class and close finite values: any disagreement there is the kernels' (or the reference's).
_BIG = {np.dtype(np.float32): float(np.float32(1e30)), np.dtype(np.float64): 1e300}


@st.composite
def large_problems(draw, signed=False):
    dtype = draw(st.sampled_from(DTYPES))
    B, T, I, H = (draw(st.integers(1, 5)) for _ in range(4))
    big = _BIG[dtype]
    width = 8 * dtype.itemsize
    elements = st.floats(-big if signed else 0.0, big, width=width, allow_nan=False, allow_infinity=False)

    def arr(*shape):
        return draw(hnp.arrays(dtype, shape, elements=elements))

    x, w_x, w_h, b = arr(B, T, I), arr(I, 4 * H), arr(H, 4 * H), arr(4 * H)
    h0 = arr(B, H) if draw(st.booleans()) else None
    c0 = arr(B, H) if draw(st.booleans()) else None
    opts = {
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "recurrent_activation": draw(st.sampled_from(RECURRENT_ACTIVATIONS)),
    }
    return dtype, (x, w_x, w_h, b, h0, c0), opts


def _pattern_of_all(dtype, args, opts, config, check_finite=True):
    """Forward (both kinds), cell and stepper of both backends on ``args``: same pattern."""
    x, w_x, w_h, b, h0, c0 = args
    B, T = x.shape[:2]
    kw = dict(opts, check_finite=check_finite)
    with quiet():
        want = reference.lstm_forward(*args, **kw, return_cache=True)
        ref_step = reference.LSTMStepper(w_x, w_h, b, batch_size=B, **kw)
        ref_step.reset(h0, c0)
        ref_y = np.stack([ref_step.step(np.ascontiguousarray(x[:, t])).copy() for t in range(T)], 1)
        want_cell = reference.lstm_cell_forward(np.ascontiguousarray(x[:, 0]), w_x, w_h, b, h0, c0, **kw)
    with engine(config), quiet():
        infer = compiled.lstm_forward(*args, **kw)
        train = compiled.lstm_forward(*args, **kw, return_cache=True)
        cell = compiled.lstm_cell_forward(np.ascontiguousarray(x[:, 0]), w_x, w_h, b, h0, c0, **kw)
        stepper = compiled.LSTMStepper(w_x, w_h, b, batch_size=B, **kw)
        stepper.reset(h0, c0)
        y = np.stack([stepper.step(np.ascontiguousarray(x[:, t])).copy() for t in range(T)], 1)
    for name, g, w in zip(("y", "h_n", "c_n"), infer, want, strict=False):
        assert_same_pattern(g, w, dtype, f"inference {name}")
    for name, g, w in zip(("y", "h_n", "c_n"), train, want, strict=False):
        assert_same_pattern(g, w, dtype, f"training {name}")
    for name in ("gates", "h", "c"):
        assert_same_pattern(getattr(train[3], name), getattr(want[3], name), dtype, f"cache.{name}")
    assert_same_pattern(cell[0], want_cell[0], dtype, "cell h")
    assert_same_pattern(cell[1], want_cell[1], dtype, "cell c")
    assert_same_pattern(ref_y, want[0], dtype, "reference stepper y")
    assert_same_pattern(y, want[0], dtype, "stepper y")
    assert_same_pattern(stepper.c, want[2], dtype, "stepper c")
    return want


def _count_nonfinite(*arrays):
    n = sum(int((~np.isfinite(a)).sum()) for a in arrays)
    event("outputs: some non-finite" if n else "outputs: all finite")


def _large(dtype, value, activation):
    """float32 inputs near 2e36 gave 0.0 (generic, AVX2), inf (AVX-512) and NaN (reference)."""
    one = np.ones
    args = (
        np.full((1, 2, 1), value, dtype),
        one((1, 4), dtype),
        one((1, 4), dtype),
        one(4, dtype),
        None,
        None,
    )
    return np.dtype(dtype), args, {"activation": activation, "recurrent_activation": "sigmoid"}


@pinned(
    [ex for act in ACTIVATIONS for v in (2e36, 3e38) for ex in _on_every_isa(case=_large(np.float32, v, act))]
)
# at most 1000 examples, whatever the profile: hypothesis's own search over these arrays slows past
# that (6.170: 1000 examples in 84 s, 5000 not done in 15 minutes, most of it in its DataTree)
@settings(max_examples=min(settings().max_examples, 1000))
@given(case=large_problems(), config=engines)
def test_large_values_of_one_sign_give_the_reference_pattern(no_known_crash, case, config):
    """Inputs and weights in [0, 1e30] (float32) or [0, 1e300] (float64): sums overflow to inf,
    inf * 0 is NaN, relu and linear pass inf on; the compiled result has the same NaN/inf/finite
    pattern as the reference at every index, and close finite values."""
    dtype, args, opts = case
    want = _pattern_of_all(dtype, args, opts, config)
    _count_nonfinite(*want[:3])


@given(case=large_problems(signed=True), config=engines)
def test_large_values_of_both_signs_do_not_crash(no_known_crash, case, config):
    """Values in [-1e30, 1e30] (float32) or [-1e300, 1e300]: the sums' order decides overflow and
    cancellation (see above), so only shapes and dtypes are checked, for every function,
    backward included; how often the patterns still agree is recorded as an event."""
    dtype, args, opts = case
    B, T = args[0].shape[:2]
    H = args[2].shape[0]
    with quiet():
        want = reference.lstm_forward(*args, **opts, return_cache=True)
    with engine(config), quiet():
        got = compiled.lstm_forward(*args, **opts, return_cache=True)
        grads = compiled.lstm_backward(np.ones((B, T, H), dtype), got[3], check_finite=False)
        h, c = compiled.lstm_cell_forward(np.ascontiguousarray(args[0][:, 0]), *args[1:], **opts)
        stepper = compiled.LSTMStepper(*args[1:4], batch_size=B, **opts)
        stepper.reset(*args[4:])
        h_t = stepper.step(np.ascontiguousarray(args[0][:, 0]))
    assert [a.shape for a in got[:3]] == [(B, T, H), (B, H), (B, H)]
    assert h.shape == c.shape == h_t.shape == (B, H)
    assert all(a.dtype == dtype for a in (*got[:3], h, c, h_t, *grads.values()))
    assert {k: v.shape for k, v in grads.items()} == {
        "dx": args[0].shape,
        "dw_x": args[1].shape,
        "dw_h": args[2].shape,
        "db": args[3].shape,
        "dh0": (B, H),
        "dc0": (B, H),
    }
    same = all((_classes(g) == _classes(w)).all() for g, w in zip(got[:3], want[:3], strict=True))
    event("pattern agrees" if same else "pattern differs (order of sums)")


_NONFINITE = (np.nan, np.inf, -np.inf)


@st.composite
def nonfinite_problems(draw):
    """A small valid problem with 1 to 3 entries of its inputs set to NaN, inf or -inf."""
    p = draw(problems(max_size=6))
    names = ["x", "w_x", "w_h", "b", "dy", "dh_n", "dc_n"]
    names += [n for n, present in (("h0", p.has_h0), ("c0", p.has_c0)) if present]
    places = draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.floats(0, 1, exclude_max=True), st.sampled_from(_NONFINITE)),
            min_size=1,
            max_size=3,
        )
    )
    for name, where, value in places:
        a = getattr(p, name)
        a.flat[int(where * a.size)] = value
    note(f"non-finite entries (name, place in a.flat / a.size, value): {places}")
    return p


def _nan_in_x(dtype, activation):
    """relu used to turn NaN into 0 in the compiled kernels (max(NaN, 0) is 0 in SIMD)."""
    p = Problem(dtype, 2, 3, 2, 3, 0, True, True, activation, "sigmoid")
    p.x[0, 1, 0] = np.nan
    return p


@pinned(
    [ex for dt in DTYPES for act in ("relu", "linear") for ex in _on_every_isa(p=_nan_in_x(dt, act), dy=True)]
)
@given(p=nonfinite_problems(), config=engines, dy=st.booleans())
def test_nonfinite_inputs_unchecked_give_the_reference_pattern(no_known_crash, p, config, dy):
    """check_finite=False with NaN/inf among normal-sized inputs: every function gives the
    reference's NaN/inf/finite pattern (no sum of finite terms overflows here, so the order of
    sums does not matter) and close finite values; the backward runs on the reference's cache."""
    want = _pattern_of_all(p.dtype, p.args, p.opts, config, check_finite=False)
    with quiet():
        ref_grads = reference.lstm_backward(p.dy if dy else None, want[3], p.dh_n, p.dc_n, check_finite=False)
    with engine(config), quiet():
        grads = compiled.lstm_backward(p.dy if dy else None, want[3], p.dh_n, p.dc_n, check_finite=False)
    assert_same_grads(grads, ref_grads, p.dtype, p.T, p.B, pattern=True)


# 3. Invalid inputs: ValueError or TypeError, the same from both backends --------------------------


class Draws:
    """The choices of a case builder, from hypothesis (examples shrink) or from a NumPy rng
    (the subprocess batches, which do not need hypothesis)."""

    def __init__(self, draw=None, rng=None):
        self._draw, self._rng = draw, rng

    def pick(self, options):
        options = list(options)
        if self._draw is not None:
            return self._draw(st.sampled_from(options))
        return options[int(self._rng.integers(len(options)))]

    def int(self, lo, hi):
        if self._draw is not None:
            return self._draw(st.integers(lo, hi))
        return int(self._rng.integers(lo, hi + 1))

    def chance(self, n):
        """True once in ``n`` (hypothesis: shrinks to False)."""
        return self.int(0, n - 1) == n - 1


BAD_DTYPES = (
    "int8",
    "int32",
    "int64",
    "uint8",
    "bool",
    "float16",
    "complex64",
    "complex128",
    "object",
    "longdouble",
    ">f4",
    ">f8",
    "<f4",
    "<f8",
    "U3",
    "datetime64[s]",
)
# Changes that keep the values (the call must give the answer of the plain array).
SAME_VALUES = ("strided", "transposed", "fortran", "misaligned", "readonly", "byteswapped")
CHANGES = SAME_VALUES + (
    "dtype",
    "reversed",
    "broadcast",
    "shape",
    "drop_dim",
    "add_dim",
    "zero_dim",
    "nonfinite",
    "list",
    "none",
    "scalar",
    "string",
    "object",
)
SCALARS = (0, 1.5, -2, True, np.float32(1.0), np.float64(0.5), np.array(1.0), np.array(1.0, np.float32), 1j)
STRINGS = ("abc", "1.0", "", b"\x00\x01", "nan")
OBJECTS = ({}, (), object(), [[]], [[1.0], [1.0, 2.0]], slice(1), ...)


def _misaligned(a):
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def change(a, kind, d):
    """``a`` (an ndarray of the valid call) changed by ``kind``; the parameters drawn from ``d``.
    A change that NumPy cannot make on an earlier change (NaN into a string array, a misaligned
    object array) leaves the array as it is."""
    try:
        return _change(a, kind, d)
    except (ValueError, TypeError, OverflowError):
        if a.dtype.kind in "fc":
            raise  # a float array takes every change: that is the harness's bug
        return a


def _change(a, kind, d):
    ax = d.int(0, a.ndim - 1) if a.ndim else 0
    if a.ndim == 0 and kind in ("strided", "reversed", "broadcast", "drop_dim"):
        return a.copy()
    if kind == "strided":
        return strided(a, ax)
    if kind == "transposed":
        return np.ascontiguousarray(a.T).T
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "misaligned":
        return _misaligned(a)
    if kind == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    if kind == "byteswapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if kind == "dtype":
        to = d.pick(BAD_DTYPES)
        try:
            return a.astype(to)
        except (TypeError, ValueError, RuntimeError):
            # NumPy converts not every pair (a second change from datetime64 to a 3-byte string
            # raises RuntimeError in NumPy 2.4): the array keeps its first bad dtype
            return a
    if kind.startswith("astype:"):  # a given dtype (the pinned examples)
        return a.astype(kind[7:])
    if kind == "reversed":
        idx = [slice(None)] * a.ndim
        idx[ax] = slice(None, None, -1)
        return a[tuple(idx)]
    if kind == "broadcast":  # a zero stride: the first entry along an axis repeated
        idx = [slice(None)] * a.ndim
        idx[ax] = slice(0, 1)
        return np.broadcast_to(a[tuple(idx)], a.shape)
    if kind in ("shape", "zero_dim"):
        shape = list(a.shape)
        if not shape:
            return np.zeros(d.int(0, 3), a.dtype)
        shape[ax] = 0 if kind == "zero_dim" else d.pick([n for n in range(0, 8) if n != shape[ax]])
        return np.resize(a, shape) if a.size and all(shape) else np.zeros(shape, a.dtype)
    if kind == "drop_dim":
        return a[(slice(None),) * ax + (0,)] if a.shape[ax] else a.sum(axis=ax)
    if kind == "add_dim":
        return np.expand_dims(a, d.int(0, a.ndim))
    if kind == "nonfinite":
        a = a.copy()
        if a.size:
            a.flat[d.int(0, a.size - 1)] = d.pick(_NONFINITE)
        return a
    if kind == "list":
        return a.tolist()
    if kind == "none":
        return None
    if kind == "scalar":
        return d.pick(SCALARS)
    if kind == "string":
        return d.pick(STRINGS)
    assert kind == "object"
    return d.pick(OBJECTS)


BAD_OPTIONS = {
    "activation": ("nope", "Tanh", "", None, 0, np.tanh, b"tanh", "tanh ", "hard_sigmoid"),
    "recurrent_activation": ("tanh", "Sigmoid", None, 1, "relu"),
    "check_finite": (False, 0, 1, None, "no", np.bool_(False)),
}
FORWARD_ARGS = ("x", "w_x", "w_h", "b", "h0", "c0")
CELL_ARGS = ("x_t", "w_x", "w_h", "b", "h_prev", "c_prev")
CACHE_FIELDS = ("x", "w_x", "w_h", "gates", "h", "c", "activation", "recurrent_activation")
BACKWARD_TARGETS = ("dy", "dh_n", "dc_n") + tuple(f"cache.{n}" for n in CACHE_FIELDS) + ("cache",)


class Plan:
    """One call with changed inputs: a function, a valid problem (from a seed) and its changes.

    ``build()`` gives fresh arrays each time, so each backend gets its own (a buggy call that
    writes into its inputs cannot change the other backend's).
    """

    def __init__(self, func, dtype, sizes, seed, opts, changes):
        self.func, self.dtype, self.sizes, self.seed = func, np.dtype(dtype), sizes, seed
        self.opts, self.changes = opts, changes  # changes: [(target, kind, sub-seed)]

    def __repr__(self):
        return (
            f"Plan({self.func!r}, {self.dtype.name!r}, sizes={self.sizes}, seed={self.seed}, "
            f"opts={self.opts}, changes={self.changes})"
        )

    @property
    def same_values(self):
        return all(kind in SAME_VALUES for _, kind, _ in self.changes)

    @property
    def unchecked_nonfinite(self):
        """NaN or inf reach the kernels: with check_finite off, or in a cache (never checked)."""
        unchecked = not self.opts.get("check_finite", True)
        return any(k == "nonfinite" and (unchecked or t.startswith("cache.")) for t, k, _ in self.changes)

    def valid_inputs(self):
        B, T, I, H = self.sizes
        p = Problem(self.dtype, B, T, I, H, self.seed, True, True, "tanh", "sigmoid")
        v = dict(zip(FORWARD_ARGS, p.args, strict=True))
        v.update(
            x_t=np.ascontiguousarray(p.x[:, 0]),
            h_prev=p.h0.copy(),
            c_prev=p.c0.copy(),
            dy=p.dy,
            dh_n=p.dh_n,
            dc_n=p.dc_n,
        )
        return v

    def build(self, mod, changed=True):
        """The call of ``mod``'s function on the inputs, as (function, args, kwargs)."""
        v = self.valid_inputs()
        changes = self.changes if changed else []
        tampered, replace = {}, None
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # casts of NaN to int, complex to float...
            for target, kind, sub in changes:
                d = Draws(rng=np.random.default_rng(sub))
                if target == "cache":
                    replace = d.pick(["none", "dict", "array", "other"])
                elif target.startswith("cache."):
                    tampered[target[6:]] = (kind, sub)
                elif target in BAD_OPTIONS:
                    continue
                else:
                    v[target] = change(v[target], kind, d) if isinstance(v[target], np.ndarray) else None
        opts = dict(self.opts) if changed else {}
        if self.func == "forward":
            return mod.lstm_forward, [v[n] for n in FORWARD_ARGS], opts
        if self.func == "cell":
            return mod.lstm_cell_forward, [v[n] for n in CELL_ARGS], opts
        v0 = self.valid_inputs()
        cache = mod.lstm_forward(*(v0[n] for n in FORWARD_ARGS), return_cache=True)[3]
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for field, (kind, sub) in tampered.items():
                d = Draws(rng=np.random.default_rng(sub))
                old = getattr(cache, field)
                if isinstance(old, str):
                    setattr(cache, field, d.pick(BAD_OPTIONS["activation"] + ("relu", "sigmoid")))
                else:
                    setattr(cache, field, change(old, kind, d))
        if replace is not None:
            cache = {"none": None, "dict": {}, "array": np.zeros((2, 2)), "other": (cache.x, cache.gates)}[
                replace
            ]
        return mod.lstm_backward, [v["dy"], cache, v["dh_n"], v["dc_n"]], opts


def plan_case(d, funcs=("forward", "cell", "backward"), max_changes=3):
    func = d.pick(funcs)
    dtype = d.pick(DTYPES)
    sizes = tuple(d.int(1, 5) for _ in range(4))
    seed = d.int(0, 2**16)
    targets = {"forward": FORWARD_ARGS, "cell": CELL_ARGS, "backward": BACKWARD_TARGETS}[func]
    changes, opts = [], {}
    for _ in range(d.int(0, max_changes)):
        target = d.pick(targets + tuple(BAD_OPTIONS) if func != "backward" else targets + ("check_finite",))
        if target in BAD_OPTIONS:
            opts[target] = d.pick(BAD_OPTIONS[target])
            changes.append((target, "option", 0))
            continue
        if target in ("cache.activation", "cache.recurrent_activation"):
            changes.append((target, "option", d.int(0, 2**16)))
        else:
            changes.append((target, d.pick(CHANGES), d.int(0, 2**16)))
    return Plan(func, dtype, sizes, seed, opts, changes)


def outcome(func, args, kwargs):
    """('ok', result) or ('raised', exception) of one call, NumPy's float warnings off."""
    try:
        with quiet():
            return "ok", func(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any exception is an outcome to compare
        return "raised", e


def _arrays_of(result):
    if isinstance(result, dict):
        return sorted(result.items())
    if isinstance(result, tuple) and len(result) == 4:  # the cache: not compared, the rest is
        result = result[:3]
    return [(str(i), a) for i, a in enumerate(result)]


def check_plan(plan, config=ENGINES[0]):
    """Both backends on the same changed inputs: same exception type (ValueError or TypeError),
    or both succeed with the same answer (the plain array's answer for value-keeping changes)."""
    note(repr(plan))
    got = {}
    for name, mod in BACKENDS.items():
        with engine(config) if name == "compiled" else contextlib.nullcontext():
            func, args, kwargs = plan.build(mod)
            got[name] = outcome(func, args, kwargs)
    (ck, cv), (rk, rv) = got["compiled"], got["reference"]
    for name, (k, v) in got.items():
        if k == "raised" and not isinstance(v, ERRORS):
            raise AssertionError(f"{name} raised {type(v).__name__}: {v}") from v
    if ck == rk == "raised":
        assert type(cv) is type(rv), (
            f"compiled raised {type(cv).__name__}: {cv}; reference {type(rv).__name__}: {rv}"
        )
        event(f"{plan.func}: both raise {type(cv).__name__}")
        return "error"
    assert ck == rk, f"compiled {ck} {cv!r}; reference {rk} {rv!r}"
    event(f"{plan.func}: both succeed")
    unchecked = plan.unchecked_nonfinite
    T, B = plan.sizes[1], plan.sizes[0]
    for (name, g), (_, w) in zip(_arrays_of(cv), _arrays_of(rv), strict=True):
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype == plan.dtype and g.shape == w.shape, name
        if not unchecked:  # values with NaN/inf inputs: the nonfinite property's job
            assert_same(g, w, plan.dtype, name, T * B if name in ("dw_x", "dw_h", "db") else 1)
    if plan.same_values:
        func, args, kwargs = plan.build(reference, changed=False)
        kwargs.update({k: v for k, v in plan.opts.items()})
        plain = outcome(func, args, kwargs)
        assert plain[0] == "ok", plain
        for (name, g), (_, w) in zip(_arrays_of(cv), _arrays_of(plain[1]), strict=True):
            assert_same(
                g,
                w,
                plan.dtype,
                f"{name} (changed input vs plain input)",
                T * B if name in ("dw_x", "dw_h", "db") else 1,
            )
    return "ok"


@st.composite
def plans(draw, funcs=("forward", "cell", "backward")):
    return plan_case(Draws(draw=draw), funcs)


@given(plan=plans(("forward",)), config=engines)
def test_invalid_forward(no_known_crash, plan, config):
    check_plan(plan, config)


@given(plan=plans(("cell",)), config=engines)
def test_invalid_cell(no_known_crash, plan, config):
    check_plan(plan, config)


@given(plan=plans(("backward",)), config=engines)
def test_invalid_backward(no_known_crash, plan, config):
    check_plan(plan, config)


# The stepper: outcome of lstm_cell_forward on the same array ------------------------------------

STEPPER_ARGS = ("w_x", "w_h", "b", "batch_size", "activation", "recurrent_activation", "check_finite")
BAD_BATCH = (0, -1, 1.5, True, "2", None, np.int64(2), np.int32(1), 2.0, [2])


def plan_stepper(d):
    dtype = d.pick(DTYPES)
    sizes = tuple(d.int(1, 5) for _ in range(4))
    seed = d.int(0, 2**16)
    ctor = []  # changes of the constructor's arguments
    if d.chance(3):
        target = d.pick(STEPPER_ARGS)
        if target in ("w_x", "w_h", "b"):
            ctor.append((target, d.pick(CHANGES), d.int(0, 2**16)))
        elif target == "batch_size":
            ctor.append((target, "value", d.pick(BAD_BATCH)))
        else:
            ctor.append((target, "value", d.pick(BAD_OPTIONS[target])))
    steps = []  # (number of valid steps before, change of x_t or None, form)
    for _ in range(d.int(1, 3)):
        steps.append((d.int(0, 2), d.pick(CHANGES + ("form", "form")), d.int(0, 2**16), d.pick(STEP_FORMS)))
    return dtype, sizes, seed, ctor, steps


def _expected_step(x, dtype, B, I, w_x, w_h, b, h, c, opts):
    """What step(x) must do, as (rule, outcome of lstm_cell_forward):

    - an ndarray ("same"): what lstm_cell_forward does on the same array seen as (B, I) (another
      dtype is an error there too), with the stepper's state as h_prev and c_prev;
    - anything else (lists, scalars, strings, None: no dtype to respect) is converted as
      np.asarray does. A list of numbers of an accepted shape must give the answer of that list in
      the stepper's dtype ("must", tests/engine/test_stepper.py steps [1, 2, 3]); other inputs of B*I
      numbers may ("may"); the rest must raise ValueError or TypeError ("either").
    """
    forms = ((B, I), (B, 1, I), (I,) if B == 1 else (B, I))
    if isinstance(x, np.ndarray):
        if x.shape in forms:
            x = x.reshape(B, I)
        return "same", outcome(reference.lstm_cell_forward, (x, w_x, w_h, b, h, c), opts)
    try:
        a = np.asarray(x)
    except ValueError as e:  # a ragged list
        return "same", ("raised", e)
    if a.dtype.kind not in "iuf" or a.size != B * I:
        return "either", None
    want = outcome(reference.lstm_cell_forward, (a.reshape(B, I).astype(dtype), w_x, w_h, b, h, c), opts)
    return ("must" if isinstance(x, list) and a.shape in forms else "may"), want


@st.composite
def stepper_plans(draw):
    return plan_stepper(Draws(draw=draw))


def check_stepper_plan(splan, config=ENGINES[0]):
    dtype, (B, T, I, H), seed, ctor, steps = splan
    note(f"stepper plan: {splan!r}")
    p = Problem(dtype, B, T, I, H, seed, True, True, "tanh", "sigmoid")
    kwargs = {"batch_size": B}
    w = {"w_x": p.w_x, "w_h": p.w_h, "b": p.b}
    for target, kind, value in ctor:
        if kind == "value":
            kwargs[target] = value
        else:
            with quiet(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w[target] = change(w[target], kind, Draws(rng=np.random.default_rng(value)))
    made = {}
    for name, mod in BACKENDS.items():
        with engine(config) if name == "compiled" else contextlib.nullcontext():
            made[name] = outcome(mod.LSTMStepper, (w["w_x"], w["w_h"], w["b"]), kwargs)
    for name, (k, v) in made.items():
        if k == "raised" and not isinstance(v, ERRORS):
            raise AssertionError(f"{name} LSTMStepper() raised {type(v).__name__}: {v}") from v
    kinds = {name: (k, type(v) if k == "raised" else None) for name, (k, v) in made.items()}
    assert kinds["compiled"] == kinds["reference"], f"LSTMStepper(): {made}"
    if made["compiled"][0] == "raised":
        event("stepper: constructor raises")
        return
    s = {name: v for name, (_, v) in made.items()}
    ref = s["reference"]
    B, I, H = ref.batch_size, ref.input_size, ref.units
    opts = {
        "activation": ref.activation,
        "recurrent_activation": ref.recurrent_activation,
        "check_finite": ref.check_finite,
    }
    w_x, w_h, b = (np.asarray(w[n], dtype=ref.dtype) for n in ("w_x", "w_h", "b"))
    h, c = np.zeros((B, H), ref.dtype), np.zeros((B, H), ref.dtype)
    rng = np.random.default_rng(seed + 1)
    for n_valid, kind, sub, form in steps:
        for _ in range(n_valid):
            x = (rng.standard_normal((B, I))).astype(ref.dtype)
            h, c = reference.lstm_cell_forward(x, w_x, w_h, b, h, c, **opts)
            for name, st_ in s.items():
                with engine(config) if name == "compiled" else contextlib.nullcontext():
                    out = st_.step(step_input(x, form))
                assert_same(np.reshape(out, (B, H)), h, ref.dtype, f"{name} valid step")
        x = step_input(rng.standard_normal((B, I)).astype(ref.dtype), form)
        if kind != "form":
            with quiet(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x = change(x, kind, Draws(rng=np.random.default_rng(sub)))
        note(f"x_t = {x!r}" if not isinstance(x, np.ndarray) else f"x_t: {x.dtype} {x.shape} {x.strides}")
        rule, want = _expected_step(x, ref.dtype, B, I, w_x, w_h, b, h, c, opts)
        if want is not None and want[0] == "raised" and not isinstance(want[1], ERRORS):
            raise AssertionError(f"lstm_cell_forward raised {type(want[1]).__name__}: {want[1]}")
        got = {}
        for name, st_ in s.items():
            with engine(config) if name == "compiled" else contextlib.nullcontext():
                got[name] = outcome(st_.step, (x,), {})
        kinds = {name: (k, type(v) if k == "raised" else None) for name, (k, v) in got.items()}
        assert kinds["compiled"] == kinds["reference"], f"the steppers disagree: {got}"
        for name, (k, v) in got.items():
            if k == "raised":
                assert isinstance(v, ERRORS), f"{name} stepper raised {type(v).__name__}: {v}"
            if rule == "either":
                assert k == "raised", f"{name} stepper accepted {x!r}"
            elif want[0] == "raised":
                assert k == "raised", f"{name} stepper accepted {x!r}; lstm_cell_forward raised {want[1]!r}"
                # Where x_t has another dtype than the stepper's, lstm_cell_forward's dtype (that
                # of x_t) checks x_t's shape before the weights' dtype: either error will do.
                same_dtype = (
                    isinstance(x, np.ndarray)
                    and x.dtype.kind == "f"
                    and x.dtype.itemsize == ref.dtype.itemsize
                )
                assert rule == "may" or not same_dtype or type(v) is type(want[1]), (
                    f"{name} stepper raised {type(v).__name__}: {v}; lstm_cell_forward on the same "
                    f"array raised {type(want[1]).__name__}: {want[1]}"
                )
            elif rule in ("same", "must"):
                assert k == "ok", (
                    f"{name} stepper raised {v!r}; lstm_cell_forward on the same array succeeded"
                )
            if k == "ok" and np.isfinite(want[1][0]).all():
                assert_same(np.reshape(v, (B, H)), want[1][0], ref.dtype, f"{name} stepper h")
            # after an error the state is the one before; after a success the new one
            new_h, new_c = want[1] if k == "ok" else (h, c)
            if np.isfinite(new_h).all() and np.isfinite(new_c).all():
                assert_same(s[name].h, new_h, ref.dtype, f"{name} stepper state h")
                assert_same(s[name].c, new_c, ref.dtype, f"{name} stepper state c")
        if got["reference"][0] == "ok":
            h, c = want[1]
            if not (np.isfinite(h).all() and np.isfinite(c).all()):
                return  # unchecked NaN in the state: the nonfinite property's job
        event(f"stepper: step {got['reference'][0]} ({rule})")


# The steppers used to read byte-swapped x_t as native bytes and to accept int and bool arrays
# that lstm_cell_forward refuses.
_STEPPER_PINNED = [
    dict(splan=(dt, (2, 1, 3, 4), 0, [], [(1, kind, 0, "(B, I)")]), config=ENGINES[0])
    for dt in DTYPES
    for kind in ("byteswapped", "astype:int64", "astype:int32", "astype:bool", "astype:float16")
]


@pinned(_STEPPER_PINNED)
@given(splan=stepper_plans(), config=engines)
def test_invalid_stepper(no_known_crash, splan, config):
    check_stepper_plan(splan, config)


# 4. Crashes and hangs: in a subprocess ------------------------------------------------------------

HUGE = 2**40  # elements: 8 TiB of float64, never allocated unless a check comes after a copy
_B, _T, _I, _H = 2, 3, 4, 5


def _big(*shape):
    """A zero-stride view of the declared ``shape``: no memory however large."""
    return np.broadcast_to(np.zeros(()), shape)


def _small():
    rng = np.random.default_rng(0)
    x, w_x = rng.standard_normal((_B, _T, _I)), rng.standard_normal((_I, 4 * _H))
    return x, w_x, rng.standard_normal((_H, 4 * _H)), rng.standard_normal(4 * _H)


def _huge_forward(mod, which):
    x, w_x, w_h, b = _small()
    args = {
        "x": (_big(_B, _T, HUGE), w_x, w_h, b),
        "T*B": (_big(2**31, 2**16, _I), w_x, w_h, b),
        "x I": (_big(2**15, 2**15, 2**10), w_x, w_h, b),
        "w_x": (x, _big(HUGE, 4 * _H), w_h, b),
        "w_h 2**28": (x, w_x, _big(2**28, 2**30), b),
        "w_h 2**20": (x, w_x, _big(2**20, 2**22), b),
        "b": (x, w_x, w_h, _big(HUGE)),
        "T*4H": (_big(1, 2**20, _I), _big(_I, 2**12), _big(2**10, 2**12), _big(2**12)),
        "x then h0": (_big(2**15, 2**15, _I), w_x, w_h, b, np.zeros((_B, _H))),
        "h0": (x, w_x, w_h, b, _big(HUGE, _H)),
    }[which]
    return mod.lstm_forward, args


def _huge_other(mod, which):
    x, w_x, w_h, b = _small()
    if which == "cell x_t":
        return mod.lstm_cell_forward, (_big(HUGE, _I), w_x, w_h, b)
    if which == "cell c_prev":
        return mod.lstm_cell_forward, (x[:, 0].copy(), w_x, w_h, b, None, _big(_B, HUGE))
    if which.startswith("backward"):
        cache = mod.lstm_forward(x, w_x, w_h, b, return_cache=True)[3]
        args = (_big(_B, HUGE, _H), cache) if which == "backward dy" else (None, cache, _big(HUGE, _H))
        return mod.lstm_backward, args
    if which.startswith("step"):
        shape = (HUGE,) if which == "step x_t" else (1, HUGE)
        return mod.LSTMStepper(w_x, w_h, b).step, (_big(*shape),)
    return mod.LSTMStepper, (w_x, w_h, b, {"batch_size 2**31": 2**31, "batch_size 2**40": 2**40}[which])


def _none_for(mod, which):
    """``which`` = "function argument": that required argument None, the others valid."""
    x, w_x, w_h, b = _small()
    func, arg = which.split()
    if func == "forward":
        args = dict(x=x, w_x=w_x, w_h=w_h, b=b)
        return mod.lstm_forward, tuple(None if k == arg else v for k, v in args.items())
    if func == "cell":
        args = dict(x_t=x[:, 0].copy(), w_x=w_x, w_h=w_h, b=b)
        return mod.lstm_cell_forward, tuple(None if k == arg else v for k, v in args.items())
    if func == "stepper":
        args = dict(w_x=w_x, w_h=w_h, b=b)
        return mod.LSTMStepper, tuple(None if k == arg else v for k, v in args.items())
    if func == "step":
        return mod.LSTMStepper(w_x, w_h, b).step, (None,)
    assert func == "backward"
    return mod.lstm_backward, (np.zeros((_B, _T, _H)), None)


NONE_CASES = {
    f"{func} {arg}=None": (f"{func} {arg}", _none_for)
    for func, args in (
        ("forward", ("x", "w_x", "w_h", "b")),
        ("cell", ("x_t", "w_x", "w_h", "b")),
        ("stepper", ("w_x", "w_h", "b")),
        ("step", ("x_t",)),
        ("backward", ("cache",)),
    )
    for arg in args
}

# name: (what is huge, case builder); every case has a shape that does not match, or sizes over
# the C int limits: the checks must refuse it (ValueError or TypeError) before any copy.
HUGE_CASES = {
    "forward x (B, T, 2**40)": ("x", _huge_forward),
    "forward x with T*B over 2**31": ("T*B", _huge_forward),
    "forward x with I = 2**10, w_x's I = 4": ("x I", _huge_forward),
    "forward w_x (2**40, G)": ("w_x", _huge_forward),
    "forward w_h (2**28, 2**30)": ("w_h 2**28", _huge_forward),
    "forward w_h (2**20, 2**22), w_x small": ("w_h 2**20", _huge_forward),
    "forward b (2**40,)": ("b", _huge_forward),
    "forward T * 4H over 2**31, shapes that match": ("T*4H", _huge_forward),
    "forward x of 2**30 rows (32 GiB if copied), h0 of the wrong shape": ("x then h0", _huge_forward),
    "forward h0 (2**40, H)": ("h0", _huge_forward),
    "cell x_t (2**40, I)": ("cell x_t", _huge_other),
    "cell c_prev (B, 2**40)": ("cell c_prev", _huge_other),
    "backward dy (B, 2**40, H)": ("backward dy", _huge_other),
    "backward dh_n (2**40, H)": ("backward dh_n", _huge_other),
    "stepper step x_t (2**40,)": ("step x_t", _huge_other),
    "stepper step x_t (1, 2**40)": ("step x_t 2-D", _huge_other),
    "stepper batch_size 2**31": ("batch_size 2**31", _huge_other),
    "stepper batch_size 2**40": ("batch_size 2**40", _huge_other),
}


def _limit_memory(extra_bytes=2 << 30):
    """Address space of this process capped at what it uses now plus ``extra_bytes``: a huge
    allocation fails (MemoryError) instead of taking the machine's memory."""
    import resource

    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _child_setup():
    warnings.simplefilter("error")  # as pytest's filterwarnings = error
    with contextlib.suppress(ImportError, OSError, StopIteration, ValueError):  # not Linux
        _limit_memory()


CHILD_CASES = {**HUGE_CASES, **NONE_CASES}
CHILD_JOBS = [(name, backend) for name in CHILD_CASES for backend in ("reference", "compiled")]


def run_cases(start=0):
    """What the subprocess of the explicit cases runs: ``CHILD_JOBS[start:]``, each with a line
    before it runs (a crash names its job) and one with its outcome."""
    _child_setup()
    for k in range(start, len(CHILD_JOBS)):
        name, backend = CHILD_JOBS[k]
        which, build = CHILD_CASES[name]
        print(f"start {k}", flush=True)
        kind, value = outcome(*build(BACKENDS[backend], which), {})
        result = f"{type(value).__name__}: {value}" if kind == "raised" else "returned"
        print(f"outcome {backend}: {name} -> {result}"[:400], flush=True)
    return 0


def run_batch(seed, n):
    """What the batch subprocess runs: ``n`` random plans of properties 3 (both backends, random
    engine configuration). Prints one line per case before running it (flushed), so the last line
    names the case of a crash; exits 0 with a summary, 1 if some case broke a rule."""
    _child_setup()
    failures, counts = [], {}
    rng = np.random.default_rng(seed)
    for i in range(n):
        d = Draws(rng=rng)
        config = d.pick(ENGINES)
        stepper = d.chance(5)
        case = plan_stepper(d) if stepper else plan_case(d)
        print(f"case {i}: seed {seed} engine {config} {case!r}", flush=True)
        try:
            if stepper:
                check_stepper_plan(case, config)
                result = "stepper"
            else:
                result = check_plan(case, config)
            counts[result] = counts.get(result, 0) + 1
        except AssertionError as e:
            counts["failed"] = counts.get("failed", 0) + 1
            failures.append(f"case {i} {config} {case!r}: {e}"[:600])
    print(f"summary: {n} random cases, counts {counts}, {len(failures)} broke a rule", flush=True)
    for f in failures:
        print("FAILED", f, flush=True)
    return 1 if failures else 0


def run_child(call, timeout, crash_ok=False):
    """``test_fuzz_api.<call>`` in a new interpreter: (exit status, stdout lines, stderr). A hang
    (the timeout) fails the calling test, and so does a crash (death by a signal) unless
    ``crash_ok``; both with the last line the child printed."""
    here = Path(__file__).resolve().parent
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(here)!r}, {str(here.parent)!r}]
        import test_fuzz_api
        sys.exit(test_fuzz_api.{call})
    """)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=here
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"hang: {call} did not exit in {timeout} s; last line: {out.strip().splitlines()[-1:]}")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode < 0 and not crash_ok:
        pytest.fail(
            f"crash: {call} died of signal {-proc.returncode}; last line: {lines[-1:]}\n{proc.stderr[-2000:]}"
        )
    return proc.returncode, lines, proc.stderr


@pytest.fixture(scope="module")
def child_outcomes():
    """The outcome of every explicit case, "<backend>: <name>" -> "ValueError: ..." etc., run in
    child processes whose memory is capped; after a crash a new child goes on with the next job."""
    outcomes, start = {}, 0
    while True:
        rc, lines, err = run_child(f"run_cases({start})", 120, crash_ok=True)
        outcomes.update(
            line[len("outcome ") :].split(" -> ", 1) for line in lines if line.startswith("outcome ")
        )
        if rc == 0:
            return outcomes
        starts = [int(line.split()[1]) for line in lines if line.startswith("start ")]
        assert rc < 0 and starts, f"the child failed before any case (exit {rc}): {err[-3000:]}"
        name, backend = CHILD_JOBS[starts[-1]]
        outcomes[f"{backend}: {name}"] = f"crash: the child process died of signal {-rc}"
        start = starts[-1] + 1


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize(
    "name",
    HUGE_CASES,
)
def test_huge_declared_shapes_are_refused_before_any_copy(child_outcomes, name, backend):
    """Zero-stride views declaring up to 2**40 elements, run in a child process whose address
    space is capped (so that a copy fails instead of taking the machine's memory): each call
    raises ValueError or TypeError, not MemoryError (a copy before the check) or anything else."""
    result = child_outcomes[f"{backend}: {name}"]
    assert result.startswith(("ValueError:", "TypeError:")), result


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("name", list(NONE_CASES))
def test_none_for_a_required_argument_is_refused(child_outcomes, name, backend):
    """None where an array (or the cache) is required: ValueError or TypeError, never a crash
    (run in a child process, like the huge cases)."""
    result = child_outcomes[f"{backend}: {name}"]
    assert result.startswith(("ValueError:", "TypeError:")), result


BATCH = {"ci": (300, 120), "long": (50000, 3600)}  # (cases, timeout in seconds)


@pytest.fixture(scope="module")
def batch_run():
    """The random batch, run once in a child process: (seed, exit status, stdout lines, stderr)."""
    n, timeout = BATCH[PROFILE]
    # ci: always the same batch; long: a new one each run unless LSTMCORE_FUZZ_SEED says which
    seed = int(
        os.environ.get("LSTMCORE_FUZZ_SEED", "0" if PROFILE == "ci" else int.from_bytes(os.urandom(4), "big"))
    )
    return (seed, *run_child(f"run_batch({seed}, {n})", timeout, crash_ok=True))


def test_random_batch_in_a_subprocess_does_not_crash_or_hang(batch_run):
    """Random invalid calls (property 3, random engine configuration) in a child process: it must
    exit cleanly (a signal is a crash, the timeout a hang) with every case within the rules."""
    seed, rc, lines, err = batch_run
    if rc < 0:
        pytest.fail(f"crash: signal {-rc} (batch seed {seed}) in the case {lines[-1:]}\n{err[-2000:]}")
    summary = [line for line in lines if line.startswith(("summary", "FAILED"))]
    assert rc == 0, f"batch seed {seed}\n" + "\n".join(summary) + "\n" + err[-3000:]


@pytest.fixture(scope="module")
def no_known_crash(child_outcomes, batch_run):
    """Skips the in-process properties where a child process has crashed already: the crash is
    reported by the tests above, and running on would kill the whole test run."""
    crashed = [k for k, v in child_outcomes.items() if v.startswith("crash")]
    if batch_run[1] < 0:
        crashed.append("the random batch")
    if crashed:
        pytest.skip(
            f"not run in-process: the compiled engine crashed in a child ({', '.join(crashed)})"[:200]
        )
