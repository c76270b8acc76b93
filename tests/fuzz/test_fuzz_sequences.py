"""Fuzz of sequences (reverse, lengths, masks) and stacks, for every cell: the compiled engine
against ``lstmcore.reference``, whatever the arguments.

1. ``test_sequences_match_reference``: a drawn cell (LSTM with or without options, GRU with
   reset_after True or False, simple RNN), float32 or float64, B, T, I, H, any mix of
   ``reverse``, ``lengths`` (any order, ties, 1 and T), ``mask`` (any pattern, rows with no valid
   step) and ``zero_output_for_mask``, packed or BLAS products, one or two threads: the forward
   (inference and training) and every gradient equal the reference's;
2. ``test_invalid_sequence_arguments_agree``: lengths and masks of wrong shape, dtype, range or
   kind (lists, scalars, None, strings, floats, bools): both backends raise the same ValueError
   or TypeError, or both give the same answer;
3. ``test_stacks_match_reference``: 1-3 layers, one or two directions, every merge mode, with
   lengths or a mask: outputs, final states and every gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import CELL_GATES, close_to_reference, make_stack_weights
from hypothesis import given
from hypothesis import strategies as st

import lstmcore
import lstmcore.reference as reference

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="compares the compiled engine")

if lstmcore.backend == "compiled":
    from lstmcore.engine import _cells

CELLS = ("lstm", "lstm-options", "lstm-peepholes", "gru", "gru-reset_before", "rnn")


@st.composite
def sequence_problems(draw):
    cell = draw(st.sampled_from(CELLS))
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    B, T = draw(st.integers(1, 12)), draw(st.integers(1, 16))
    # H of 30-40: two panels of gate columns or more, which a units split shares between threads
    I, H = draw(st.integers(1, 8)), draw(st.one_of(st.integers(1, 12), st.integers(30, 40)))
    seed = draw(st.integers(0, 2**31 - 1))
    kw = {"reverse": draw(st.booleans())}
    if draw(st.booleans()):
        kw["lengths"] = np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    if draw(st.booleans()):
        kw["mask"] = np.array(draw(st.lists(st.booleans(), min_size=B * T, max_size=B * T))).reshape(B, T)
        kw["zero_output_for_mask"] = draw(st.booleans())
    plan = draw(st.sampled_from(["packed", "blas"]))
    threads = draw(st.sampled_from([1, 2]))
    train = draw(st.booleans())
    units = draw(st.sampled_from(["auto", "on"]))  # the units split forced where it applies
    return cell, dtype, (B, T, I, H), seed, kw, (plan, units), threads, train


def _arrays(cell, dtype, sizes, seed):
    B, T, I, H = sizes
    rng = np.random.default_rng(seed)
    name, _, variant = cell.partition("-")
    K = CELL_GATES[name]
    opts = {}
    P = H
    if variant == "options":
        P = max(1, H - 1) if H > 1 else H
        if P < H:
            opts["proj"] = (rng.standard_normal((H, P)) * H**-0.5).astype(dtype)
        opts["peepholes"] = (rng.standard_normal((3, H)) * 0.5).astype(dtype)
        opts["clip"] = 1.5
    if variant == "peepholes":  # the cell engine's LSTM without a projection
        opts["peepholes"] = (rng.standard_normal((3, H)) * 0.5).astype(dtype)
        opts["clip"] = 1.5
    if variant == "reset_before":
        opts["reset_after"] = False
    bias = (2, K * H) if name == "gru" and variant != "reset_before" else (K * H,)

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    args = [f(1, B, T, I), f(I**-0.5, I, K * H), f(P**-0.5, P, K * H), f(0.3, *bias), f(0.5, B, P)]
    grads = [f(1, B, T, P), f(1, B, P)]
    if name == "lstm":
        args.append(f(0.5, B, H))
        grads.append(f(1, B, H))
    return name, args, opts, grads


@given(sequence_problems())
def test_sequences_match_reference(problem):
    cell, dtype, sizes, seed, kw, (plan, units), threads, train = problem
    name, args, opts, grads = _arrays(cell, dtype, sizes, seed)
    before_plan = _cells._set_plan(recurrent=plan, gemm_par_min=0 if threads > 1 else None, units=units)
    before_threads = lstmcore.get_num_threads()
    lstmcore.set_num_threads(threads)
    try:
        want = getattr(reference, f"{name}_forward")(*args, **opts, **kw, return_cache=train)
        got = getattr(lstmcore, f"{name}_forward")(*args, **opts, **kw, return_cache=train)
        n = len(want) - (1 if train else 0)
        for k in range(n):
            close_to_reference(got[k], want[k], dtype, f"output {k}")
        if train:
            g_want = getattr(reference, f"{name}_backward")(grads[0], want[-1], *grads[1:])
            g_got = getattr(lstmcore, f"{name}_backward")(grads[0], got[-1], *grads[1:])
            assert sorted(g_got) == sorted(g_want)
            for key in g_want:
                close_to_reference(g_got[key], g_want[key], dtype, key, scale=float(sizes[1] * sizes[0]))
    finally:
        _cells._set_plan(**before_plan)
        lstmcore.set_num_threads(before_threads)


BAD_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 20),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.lists(st.integers(-2, 8), max_size=6),
    st.lists(st.booleans(), max_size=6),
    st.lists(st.floats(0, 8), max_size=6),
    st.lists(st.lists(st.booleans(), max_size=5), max_size=5),
)


@st.composite
def invalid_sequence_calls(draw):
    cell = draw(st.sampled_from(["lstm", "gru", "rnn"]))
    B, T = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    key = draw(st.sampled_from(["lengths", "mask", "reverse", "zero_output_for_mask"]))
    kind = draw(st.sampled_from(["value", "array"]))
    if kind == "value":
        value = draw(BAD_VALUES)
    else:
        shape = draw(st.sampled_from([(B,), (B, T), (T,), (B + 1,), (B, T + 1), (0,), ()]))
        dtype = draw(st.sampled_from([np.int32, np.int64, np.uint8, np.float32, bool, np.float64, object]))
        value = np.asarray(
            draw(st.lists(st.integers(-1, T + 1), min_size=1, max_size=1))[0] * np.ones(shape)
        ).astype(dtype)
    return cell, B, T, key, value


@given(invalid_sequence_calls())
def test_invalid_sequence_arguments_agree(case):
    cell, B, T, key, value = case
    name, args, opts, _ = _arrays(cell, np.dtype(np.float64), (B, T, 2, 3), 0)
    outcomes = []
    for mod in (lstmcore, reference):
        try:
            out = getattr(mod, f"{name}_forward")(*args, **opts, **{key: value})
            outcomes.append(("ok", out))
        except (ValueError, TypeError) as exc:
            outcomes.append((type(exc).__name__, None))
    assert outcomes[0][0] == outcomes[1][0], (outcomes[0][0], outcomes[1][0])
    if outcomes[0][0] == "ok":
        for a, b in zip(outcomes[0][1], outcomes[1][1], strict=True):
            close_to_reference(a, b, np.float64, "output")


@st.composite
def stack_problems(draw):
    cell = draw(st.sampled_from(["lstm", "gru", "rnn"]))
    L, D = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2]))
    merge = draw(st.sampled_from(["concat", "sum", "mul", "ave"])) if D == 2 else "concat"
    B, T, I, H = (
        draw(st.integers(1, 6)),
        draw(st.integers(1, 8)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 6)),
    )
    which = draw(st.sampled_from(["none", "lengths", "mask"]))
    seed = draw(st.integers(0, 2**31 - 1))
    return cell, L, D, merge, (B, T, I, H), which, seed


@given(stack_problems())
def test_stacks_match_reference(problem):
    cell, L, D, merge, (B, T, I, H), which, seed = problem
    rng = np.random.default_rng(seed)
    weights = make_stack_weights(rng, cell, L, D, I, H, merge)
    x = rng.standard_normal((B, T, I))
    kw = {"bidirectional": D == 2, "merge_mode": merge}
    if which == "lengths":
        kw["lengths"] = rng.integers(1, T + 1, B)
    elif which == "mask":
        kw["mask"] = rng.random((B, T)) > 0.3
    want = reference.stack_forward(cell, x, weights, **kw, return_cache=True)
    got = lstmcore.stack_forward(cell, x, weights, **kw, return_cache=True)
    for k in range(len(want) - 1):
        close_to_reference(got[k], want[k], np.float64, f"output {k}")
    dy = rng.standard_normal(want[0].shape)
    g_want = reference.stack_backward(dy, want[-1])
    g_got = lstmcore.stack_backward(dy, got[-1])
    for k, (a, b) in enumerate(zip(g_got, g_want, strict=True)):
        assert sorted(a) == sorted(b)
        for key in b:
            close_to_reference(a[key], b[key], np.float64, f"{key} of {k}", scale=float(B * T))
