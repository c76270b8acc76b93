"""Sequences as users have them (lstmcore.engine._sequence, _stack): reverse, lengths, masks and
stacks, for every cell.

- the compiled drivers against the reference, on every instruction set, one and two threads,
  packed and BLAS products, float32 and float64, forward (inference and training) and backward;
- lengths against each row run alone on its own steps, masks against the steps removed, reverse
  against the flipped input (both backends);
- finite differences through each new path (both backends);
- stacks against layer-by-layer calls, dropout between layers in training only, the stack stepper
  against the stack, and the errors for bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import CELL_GATES, DTYPES, assert_close, check_grad, make_stack_weights, stepped

import lstmcore
from lstmcore import reference

if lstmcore.backend == "compiled":
    pass

MODULES = [pytest.param(lstmcore, id="backend"), pytest.param(reference, id="reference")]

CONFIGS = [
    ("lstm", {}),
    ("lstm", {"peepholes": True, "proj": True, "clip": 0.9}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("rnn", {"activation": "tanh"}),
]
CONFIG_IDS = ["lstm", "lstm-options", "gru", "gru-reset_before", "rnn"]

SEQS = {
    "reverse": {"reverse": True},
    "lengths": {"lengths": True},
    "lengths-reverse": {"lengths": True, "reverse": True},
    "mask": {"mask": True},
    "mask-reverse": {"mask": True, "reverse": True},
    "mask-zero": {"mask": True, "zero_output_for_mask": True},
    "mask-lengths-reverse": {"mask": True, "lengths": True, "reverse": True},
}


def _f(rng, dtype, scale, *shape):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _problem(rng, cell, options, dtype, B=5, T=6, I=3, H=4):
    """Positional arguments (x, w_x, w_h, b, h0[, c0]), keywords, and the gradients flowing in."""
    K = CELL_GATES[cell]
    kw = dict(options)
    P = H
    if cell == "lstm" and kw.pop("proj", False):
        P = H - 1
        kw["proj"] = _f(rng, dtype, H**-0.5, H, P)
    if cell == "lstm" and kw.pop("peepholes", False):
        kw["peepholes"] = _f(rng, dtype, 0.5, 3, H)
    bias = (2, K * H) if cell == "gru" and kw.get("reset_after", True) else (K * H,)
    args = [
        _f(rng, dtype, 1.0, B, T, I),
        _f(rng, dtype, I**-0.5, I, K * H),
        _f(rng, dtype, P**-0.5, P, K * H),
        _f(rng, dtype, 0.3, *bias),
        _f(rng, dtype, 0.5, B, P),
    ]
    grads = [_f(rng, dtype, 1.0, B, T, P), _f(rng, dtype, 1.0, B, P)]
    if cell == "lstm":
        args.append(_f(rng, dtype, 0.5, B, H))
        grads.append(_f(rng, dtype, 1.0, B, H))
    return args, kw, grads


def _seq_kw(rng, which, B, T):
    """The sequence keywords of SEQS[which], drawn: unsorted lengths with T and 1 among them; a
    mask with front padding, back padding, holes and a row with no valid step."""
    out = {}
    for key, value in SEQS[which].items():
        if key == "lengths":
            lengths = rng.integers(1, T + 1, B)
            lengths[0], lengths[1], lengths[-1] = max(1, T // 2), T, 1
            out["lengths"] = lengths
        elif key == "mask":
            mask = rng.random((B, T)) > 0.35
            mask[0, :2] = False
            mask[1, -2:] = False
            mask[2 % B] = False
            out["mask"] = mask
        else:
            out[key] = value
    return out


def _forward(mod, cell, args, kw, train):
    return getattr(mod, f"{cell}_forward")(*args, return_cache=train, **kw)


def _backward(mod, cell, cache, grads):
    return getattr(mod, f"{cell}_backward")(grads[0], cache, *grads[1:])


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("which", list(SEQS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_matches_the_reference(isa, threads, plan, rng, cell, options, which, dtype):
    args, kw, grads = _problem(rng, cell, options, dtype)
    kw.update(_seq_kw(rng, which, *args[0].shape[:2]))
    want = _forward(reference, cell, args, kw, True)
    infer = _forward(lstmcore, cell, args, kw, False)
    train = _forward(lstmcore, cell, args, kw, True)
    for k, ref in enumerate(want[:-1]):
        assert infer[k].dtype == train[k].dtype == dtype
        assert_close(infer[k], ref, dtype, name=f"output {k} (inference)")
        assert_close(train[k], ref, dtype, name=f"output {k} (training)")
    have = _backward(lstmcore, cell, train[-1], grads)
    expect = _backward(reference, cell, want[-1], grads)
    assert sorted(have) == sorted(expect)
    for name in expect:
        assert have[name].dtype == dtype
        assert_close(have[name], expect[name], dtype, name=name, scale=6.0)
    have = getattr(lstmcore, f"{cell}_backward")(None, train[-1])  # no gradient flowing in
    expect = getattr(reference, f"{cell}_backward")(None, want[-1])
    for name in expect:
        assert_close(have[name], expect[name], dtype, name=f"{name} (no dy)")


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("path", ["packed", "packed-2-threads-rows", "packed-2-threads-panels", "blas"])
@pytest.mark.parametrize("which", ["reverse", "lengths", "lengths-reverse", "mask"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_lstm_plans_on_every_loop_path(isa, rng, path, which, dtype):
    """The plain LSTM runs reverse and lengths on its tuned kernels, packed by segments of rows
    (one or two threads, rows or panels split between them) or as BLAS products of the running
    rows, and masks on the generic cell: each against the reference."""
    from lstmcore.engine import _lstm, _sequence

    saved = (
        _lstm._packed_limits(),
        _lstm._seq_par_min(),
        _lstm._row_split_bytes(),
        lstmcore.get_num_threads(),
    )
    try:
        if path == "blas":
            _lstm._set_packed_limits(1 << 30, 1 << 30, 1 << 30)
        else:
            _lstm._set_packed_limits(1, 1 << 30, 1)
        if "2-threads" in path:
            lstmcore.set_num_threads(2)
            _lstm._set_seq_par_min(0)
            _lstm._set_row_split_bytes(1 << 40 if path.endswith("rows") else 0)
        args, kw, grads = _problem(rng, "lstm", {}, dtype, B=9, T=7, I=3, H=20)
        kw.update(_seq_kw(rng, which, 9, 7))
        seq = _sequence.plan(9, 7, **{k: v for k, v in kw.items()})
        assert _lstm._plan_is_tuned(seq) == (which != "mask")
        want = _forward(reference, "lstm", args, kw, True)
        for train in (False, True):
            got = _forward(lstmcore, "lstm", args, kw, train)
            for k in range(3):
                assert_close(got[k], want[k], dtype, name=f"output {k} (train={train})")
        have = _backward(lstmcore, "lstm", got[-1], grads)
        expect = _backward(reference, "lstm", want[-1], grads)
        for name in expect:
            assert_close(have[name], expect[name], dtype, name=name, scale=7.0)
    finally:
        _lstm._set_packed_limits(*saved[0])
        _lstm._set_seq_par_min(saved[1])
        _lstm._set_row_split_bytes(saved[2])
        lstmcore.set_num_threads(saved[3])


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lengths_inference_same_bits_on_every_plan_and_entry(isa, rng, reverse, dtype):
    """Inference with lengths on the packed kernels reads x and writes y in the caller's order
    (lc_lstm_seq_packed_rows): one thread, rows or panels split between two threads give the same
    bits, and so do lstm_forward's compiled plan (lengths an integer array) and the general one
    (lengths a list or np.int8, h0 not contiguous, reverse an np.bool_); outputs past each length
    are 0."""
    from lstmcore.engine import _lstm

    B, T, I, H = 13, 9, 5, 40
    x = rng.standard_normal((B, T, I)).astype(dtype)
    w_x = (rng.standard_normal((I, 4 * H)) / 3).astype(dtype)
    w_h = (rng.standard_normal((H, 4 * H)) / 7).astype(dtype)
    b = (rng.standard_normal(4 * H) / 5).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    c0 = rng.standard_normal((B, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, size=B)
    saved = (
        _lstm._packed_limits(),
        _lstm._seq_par_min(),
        _lstm._row_split_bytes(),
        lstmcore.get_num_threads(),
    )
    runs = {}
    try:
        _lstm._set_packed_limits(1, 1 << 30, 1)
        for plan in ("1", "rows", "panels"):
            lstmcore.set_num_threads(1 if plan == "1" else 2)
            _lstm._set_seq_par_min(0)
            _lstm._set_row_split_bytes(1 << 40 if plan == "rows" else 0)
            runs[plan] = lstmcore.lstm_forward(x, w_x, w_h, b, h0, c0, lengths=lengths, reverse=reverse)
            runs[plan + "-list"] = lstmcore.lstm_forward(
                x, w_x, w_h, b, np.asfortranarray(h0), c0, lengths=lengths.tolist(), reverse=reverse
            )
            runs[plan + "-int8"] = lstmcore.lstm_forward(
                x, w_x, w_h, b, h0, c0, lengths=lengths.astype(np.int8), reverse=np.bool_(reverse)
            )
    finally:
        _lstm._set_packed_limits(*saved[0])
        _lstm._set_seq_par_min(saved[1])
        _lstm._set_row_split_bytes(saved[2])
        lstmcore.set_num_threads(saved[3])
    for name, got in runs.items():
        for k, what in enumerate(("y", "h_n", "c_n")):
            np.testing.assert_array_equal(got[k], runs["1"][k], err_msg=f"{name}: {what}")
    y = runs["1"][0]
    for r in range(B):
        assert not y[r, lengths[r] :].any()
    want = reference.lstm_forward(
        *(a.astype(np.float64) for a in (x, w_x, w_h, b, h0, c0)), lengths=lengths, reverse=reverse
    )
    for k in range(3):
        assert_close(runs["1"][k], want[k], dtype, name=f"output {k}")


# Semantics, both backends ----------------------------------------------------------------------


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_the_backward_with_lengths_reads_no_step_past_a_length(rng, cell, options, reverse):
    """With lengths, the backward gathers dy into the plan's order without writing the steps past
    each row's length (its kernels never read them): the same gradients, bit for bit, after a
    masked call has left NaN in every step of the gather's workspace."""
    args, kw, grads = _problem(rng, cell, options, np.float64)
    B, T = args[0].shape[:2]
    lengths = np.array([3, T, 1, 5, T])
    *_, cache = _forward(lstmcore, cell, args, {**kw, "lengths": lengths, "reverse": reverse}, True)
    want = _backward(lstmcore, cell, cache, grads)
    mask = np.ones((B, T), dtype=bool)
    mask[0, 0] = False
    *_, masked = _forward(lstmcore, cell, args, {**kw, "mask": mask}, True)
    nan = np.full_like(grads[0], np.nan)
    getattr(lstmcore, f"{cell}_backward")(nan, masked, *grads[1:], check_finite=False)
    got = _backward(lstmcore, cell, cache, grads)
    for name, value in want.items():
        assert np.all(np.isfinite(got[name])), name
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize(
    "cell, options", [CONFIGS[k] for k in (0, 2, 3)], ids=[CONFIG_IDS[k] for k in (0, 2, 3)]
)
def test_the_weight_gradients_read_the_rows_that_ran_where_they_are(rng, cell, options, monkeypatch):
    """With lengths, lstmcore's kernels for the weight gradients read x's rows that ran (and the
    plain LSTM's h_prev's, the first form of the GRU's r * h_prev) in the forward's cache, step
    after step, with no copy of them first (_cells.compact_steps); BLAS reads them copied
    together. Either way the reference's gradients."""
    from lstmcore.engine import _cells, _lstm

    args, kw, grads = _problem(rng, cell, options, np.float64, B=7, T=9, I=3, H=5)
    lengths = np.array([3, 9, 1, 5, 9, 2, 7])
    want = _backward(
        reference, cell, _forward(reference, cell, args, {**kw, "lengths": lengths}, True)[-1], grads
    )
    copied = []

    def compact_steps(a, nact, out=None):
        copied.append(a.shape[2])
        return real(a, nact, out)

    real = _cells.compact_steps
    monkeypatch.setattr(_cells, "compact_steps", compact_steps)
    before = _lstm._set_grad_products("packed"), _cells._set_plan(recurrent="packed")
    limits = _lstm._packed_limits()
    _lstm._set_packed_limits(1, 1 << 30, 1)  # the plain LSTM's packed loop at any size
    try:
        for mode in ("packed", "blocked", "blas"):
            _lstm._set_grad_products(mode)
            copied.clear()
            *_, cache = _forward(lstmcore, cell, args, {**kw, "lengths": lengths}, True)
            got = _backward(lstmcore, cell, cache, grads)
            for name, value in want.items():
                assert_close(got[name], value, np.float64, name=f"{mode} {name}")
            I, H = args[0].shape[2], args[2].shape[0]
            if mode == "blas":  # x, and the plain LSTM's h_prev (the cell engine's loop copies
                # h); the GRU's first form r * h_prev
                first_form = cell == "gru" and not options["reset_after"]
                assert copied == ([I, H] if cell == "lstm" or first_form else [I])
            else:
                assert copied == []
    finally:
        _lstm._set_grad_products(before[0])
        _cells._set_plan(**before[1])
        _lstm._set_packed_limits(*limits)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_lengths_equal_each_row_alone(mod, rng, cell, options, reverse):
    """Each row: its steps up to its length, alone; outputs 0 past it; final states at its last
    step; gradients those of the row alone (weights: summed over the rows)."""
    args, kw, grads = _problem(rng, cell, options, np.float64)
    B, T = args[0].shape[:2]
    lengths = np.array([3, T, 1, 5, T])
    *out, cache = _forward(mod, cell, args, {**kw, "lengths": lengths, "reverse": reverse}, True)
    g = _backward(mod, cell, cache, grads)
    summed = {}
    for r in range(B):
        L = lengths[r]
        row = [args[0][r : r + 1, :L], *args[1:4], *(a[r : r + 1] for a in args[4:])]
        *alone, c1 = _forward(mod, cell, row, {**kw, "reverse": reverse}, True)
        assert_close(out[0][r, :L], alone[0][0], np.float64, name=f"y row {r}")
        assert not out[0][r, L:].any()
        for k in range(1, len(out)):
            assert_close(out[k][r], alone[k][0], np.float64, name=f"state {k} row {r}")
        g1 = _backward(mod, cell, c1, [grads[0][r : r + 1, :L], *(d[r : r + 1] for d in grads[1:])])
        assert_close(g["dx"][r, :L], g1["dx"][0], np.float64, name=f"dx row {r}")
        assert not g["dx"][r, L:].any()
        for name in ("dh0", "dc0"):
            if name in g1:
                assert_close(g[name][r], g1[name][0], np.float64, name=f"{name} row {r}")
        for name, value in g1.items():
            if name not in ("dx", "dh0", "dc0"):
                summed[name] = summed.get(name, 0) + value
    for name, value in summed.items():
        assert_close(g[name], value, np.float64, name=name)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
def test_masked_steps_keep_the_state(mod, rng, cell, options):
    """A row's masked steps removed give its final state; its outputs on masked steps are the
    state after its last valid step (0 before the first, 0 everywhere with
    zero_output_for_mask); an all-True mask changes nothing."""
    args, kw, _ = _problem(rng, cell, options, np.float64)
    B, T = args[0].shape[:2]
    mask = np.ones((B, T), dtype=bool)
    mask[0, :2] = mask[1, 3:] = mask[2, [1, 4]] = False
    mask[3] = False
    plain = _forward(mod, cell, args, kw, False)
    everything = _forward(mod, cell, args, {**kw, "mask": np.ones((B, T), bool)}, False)
    for k, (a, b) in enumerate(zip(everything, plain, strict=True)):
        assert_close(a, b, np.float64, name=f"output {k} (all-True mask)")
    for reverse in (False, True):
        out = _forward(mod, cell, args, {**kw, "mask": mask, "reverse": reverse}, False)
        zero = _forward(
            mod, cell, args, {**kw, "mask": mask, "reverse": reverse, "zero_output_for_mask": True}, False
        )
        for r in range(B):
            keep = np.flatnonzero(mask[r])
            row = [args[0][r : r + 1, keep], *args[1:4], *(a[r : r + 1] for a in args[4:])]
            if keep.size:
                alone = _forward(mod, cell, row, {**kw, "reverse": reverse}, False)
                for k in range(1, len(out)):
                    assert_close(out[k][r], alone[k][0], np.float64, name=f"state {k} row {r}")
                assert_close(out[0][r, keep], alone[0][0], np.float64, name=f"y row {r}")
            else:  # nothing valid: the initial state passes through, the outputs are 0
                for k in range(1, len(out)):
                    assert_close(out[k][r], args[4 + k - 1][r], np.float64, name=f"state {k} row {r}")
            order = range(T - 1, -1, -1) if reverse else range(T)
            last = None
            for t in order:
                if mask[r, t]:
                    last = out[0][r, t]
                else:
                    want = np.zeros_like(out[0][r, t]) if last is None else last
                    assert_close(out[0][r, t], want, np.float64, name=f"y row {r} step {t}")
                    assert not zero[0][r, t].any()


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
def test_reverse_is_the_flipped_sequence(mod, rng, cell, options):
    args, kw, _ = _problem(rng, cell, options, np.float64)
    rev = _forward(mod, cell, args, {**kw, "reverse": True}, False)
    flipped = _forward(mod, cell, [np.ascontiguousarray(args[0][:, ::-1]), *args[1:]], kw, False)
    assert_close(rev[0], flipped[0][:, ::-1], np.float64, name="y")
    for k in range(1, len(rev)):
        assert_close(rev[k], flipped[k], np.float64, name=f"state {k}")


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("which", ["lengths-reverse", "mask-reverse", "mask"])
def test_gradients_match_finite_differences(mod, rng, cell, options, which):
    args, kw, grads = _problem(rng, cell, options, np.float64, B=3, T=4, I=2, H=2)
    kw.update(_seq_kw(rng, which, 3, 4))
    fn = getattr(mod, f"{cell}_forward")

    def loss():
        out = fn(*args, **kw)
        return sum(float((o * g).sum()) for o, g in zip(out, grads, strict=True))

    *_, cache = fn(*args, return_cache=True, **kw)
    g = _backward(mod, cell, cache, grads)
    names = ["x", "w_x", "w_h", "b", "h0", "c0"]
    for name, a in zip(names, args, strict=False):
        check_grad(
            g[{"x": "dx", "w_x": "dw_x", "w_h": "dw_h", "b": "db", "h0": "dh0", "c0": "dc0"}[name]],
            loss,
            a,
            name,
        )
    for name, key in (("peepholes", "dpeepholes"), ("proj", "dproj")):
        if name in kw:
            check_grad(g[key], loss, kw[name], name)


# Bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_bad_lengths_and_masks_are_refused(mod, rng, cell):
    args, kw, _ = _problem(rng, cell, {}, np.float64, B=3, T=4)
    fn = getattr(mod, f"{cell}_forward")
    bad = [
        ({"lengths": [1, 5, 2]}, ValueError, r"lengths must lie in \[1, 4\].*lengths\[1\] = 5"),
        ({"lengths": [1, 0, 2]}, ValueError, r"lengths\[1\] = 0"),
        ({"lengths": [1, -1, 2]}, ValueError, r"lengths\[1\] = -1"),
        ({"lengths": [1.0, 2.0, 3.0]}, TypeError, r"integer.*float64.*astype\(int\)"),
        ({"lengths": [True, True, True]}, TypeError, "integer"),
        ({"lengths": [1, 2]}, ValueError, r"shape \(3,\).*\(2,\)"),
        ({"lengths": [[1, 2, 3]]}, ValueError, r"shape \(3,\)"),
        (
            {"mask": np.ones((3, 4))},
            TypeError,
            "mask must be a bool array of shape \\(3, 4\\), got dtype float64",
        ),
        ({"mask": np.ones((3, 5), bool)}, ValueError, r"mask must have shape \(3, 4\).*\(3, 5\)"),
        ({"mask": np.ones((2, 4), bool)}, ValueError, r"\(2, 4\)"),
        ({"reverse": 1}, TypeError, "reverse must be True or False"),
        ({"zero_output_for_mask": "yes"}, TypeError, "zero_output_for_mask"),
    ]
    for extra, exc, match in bad:
        with pytest.raises(exc, match=match):
            fn(*args, **kw, **extra)


# Stacks ------------------------------------------------------------------------------------------


def _stack_problem(rng, cell, L, D, dtype=np.float64, B=4, T=5, I=3, H=4, merge_mode="concat"):
    weights = make_stack_weights(rng, cell, L, D, I, H, merge_mode, dtype)
    x = _f(rng, dtype, 1.0, B, T, I)
    states = [_f(rng, dtype, 0.5, L * D, B, H)] + (
        [_f(rng, dtype, 0.5, L * D, B, H)] if cell == "lstm" else []
    )
    return x, weights, states


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_stack_is_the_layers_one_by_one(mod, rng, cell, merge_mode):
    """Two bidirectional layers: each direction's call by hand, merged, fed to the next; and the
    stack's gradients against finite differences."""
    L, D = 2, 2
    x, weights, states = _stack_problem(rng, cell, L, D, B=2, T=3, I=2, H=2, merge_mode=merge_mode)
    lengths = np.array([3, 1])
    y, *finals = mod.stack_forward(
        cell, x, weights, *states, bidirectional=True, merge_mode=merge_mode, lengths=lengths
    )
    fn = getattr(mod, f"{cell}_forward")
    inp = x
    for layer in range(L):
        ys = []
        for d in range(D):
            k = layer * D + d
            out = fn(inp, *weights[k], *(s[k] for s in states), reverse=d == 1, lengths=lengths)
            ys.append(out[0])
            for j, s in enumerate(out[1:]):
                assert_close(finals[j][k], s, np.float64, name=f"state {j} of {k}")
        inp = {
            "concat": lambda a, b: np.concatenate([a, b], -1),
            "sum": np.add,
            "mul": np.multiply,
            "ave": lambda a, b: (a + b) / 2,
        }[merge_mode](*ys)
    assert_close(y, inp, np.float64, name="y")

    dy = _f(rng, np.float64, 1.0, *y.shape)
    dfin = [_f(rng, np.float64, 1.0, *f.shape) for f in finals]

    def loss():
        out = mod.stack_forward(
            cell, x, weights, *states, bidirectional=True, merge_mode=merge_mode, lengths=lengths
        )
        return float((out[0] * dy).sum()) + sum(
            float((o * d).sum()) for o, d in zip(out[1:], dfin, strict=True)
        )

    *_, cache = mod.stack_forward(
        cell,
        x,
        weights,
        *states,
        bidirectional=True,
        merge_mode=merge_mode,
        lengths=lengths,
        return_cache=True,
    )
    grads = mod.stack_backward(dy, cache, *dfin)
    check_grad(grads[0]["dx"], loss, x, "x")
    for k in (0, 3):
        for name, a in zip(("dw_x", "dw_h", "db"), weights[k], strict=True):
            check_grad(grads[k][name], loss, a, f"{name} of {k}")
    for j, name in enumerate(("dh0", "dc0")[: len(states)]):
        got = np.stack([g[name] for g in grads])
        check_grad(got, loss, states[j], name)


@pytest.mark.parametrize("mod", MODULES)
def test_stack_dropout_between_layers_in_training_only(mod, rng):
    x, weights, states = _stack_problem(rng, "gru", 3, 1)
    plain = mod.stack_forward("gru", x, weights, *states)
    same = mod.stack_forward("gru", x, weights, *states, dropout=0.5)  # not training: no dropout
    np.testing.assert_array_equal(plain[0], same[0])
    a = mod.stack_forward("gru", x, weights, *states, dropout=0.5, training=True, seed=3, return_cache=True)
    b = mod.stack_forward("gru", x, weights, *states, dropout=0.5, training=True, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], plain[0])
    masks = a[-1].dropout_masks
    assert masks[0] is None and all(m is not None for m in masks[1:])
    assert set(np.unique(masks[1])) <= {0.0, 2.0}
    # the dropped inputs are what the layers saw: layer 2 by hand
    y1 = mod.gru_forward(x, *weights[0], states[0][0])[0]
    y2 = mod.gru_forward(y1 * masks[1], *weights[1], states[0][1])[0]
    y3 = mod.gru_forward(y2 * masks[2], *weights[2], states[0][2])[0]
    assert_close(a[0], y3, np.float64, name="y")
    g = mod.stack_backward(np.ones_like(a[0]), a[-1])
    assert g[0]["dx"].shape == x.shape and len(g) == 3


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_stack_stepper_steps_every_layer(mod, rng, cell):
    x, weights, states = _stack_problem(rng, cell, 3, 1)
    y, h_n, *rest = mod.stack_forward(cell, x, weights, *states)
    stepper = mod.StackStepper(cell, weights, batch_size=x.shape[0])
    stepper.reset(*states)
    assert_close(stepped(stepper, x), y, np.float64, name="y (stepped)")
    assert_close(stepper.h, h_n, np.float64, name="h")
    if cell == "lstm":
        assert_close(stepper.c, rest[0], np.float64, name="c")
    else:
        with pytest.raises(AttributeError):
            _ = stepper.c
    stepper.reset()
    assert not stepper.h.any()
    assert "layers=3" in repr(stepper)


@pytest.mark.parametrize("mod", MODULES)
def test_merge_mode_none_returns_both_directions(mod, rng):
    x, weights, states = _stack_problem(rng, "lstm", 1, 2)
    ys, h_n, c_n = mod.stack_forward("lstm", x, weights, *states, bidirectional=True, merge_mode=None)
    fwd = mod.lstm_forward(x, *weights[0], states[0][0], states[1][0])
    bwd = mod.lstm_forward(x, *weights[1], states[0][1], states[1][1], reverse=True)
    assert_close(ys[0], fwd[0], np.float64, name="forward")
    assert_close(ys[1], bwd[0], np.float64, name="backward")
    *_, cache = mod.stack_forward(
        "lstm", x, weights, *states, bidirectional=True, merge_mode=None, return_cache=True
    )
    with pytest.raises(ValueError, match="list of the two"):
        mod.stack_backward(ys[0], cache)


@pytest.mark.parametrize("mod", MODULES)
def test_bad_stacks_are_refused(mod, rng):
    x, weights, states = _stack_problem(rng, "lstm", 2, 2)
    cases = [
        (("tree", x, weights), {}, ValueError, "cell must be one of"),
        (("lstm", x, weights[:3]), {"bidirectional": True}, ValueError, "2 per layer"),
        (("lstm", x, []), {}, ValueError, "non-empty list"),
        (
            ("lstm", x, weights),
            {"bidirectional": True, "merge_mode": "max"},
            ValueError,
            "merge_mode must be",
        ),
        (
            ("lstm", x, weights),
            {"bidirectional": True, "merge_mode": None},
            ValueError,
            "one bidirectional layer",
        ),
        (
            ("lstm", x, weights),
            {"bidirectional": True, "dropout": 1.5},
            ValueError,
            r"dropout must be a number in \[0, 1\)",
        ),
        (("lstm", x, [(1, 2)] * 4), {"bidirectional": True}, TypeError, r"weights\[0\] must be a tuple"),
        (("lstm", x, [{"w_x": 1}] * 4), {"bidirectional": True}, ValueError, "keys w_x, w_h, b"),
        (
            ("lstm", x, weights, states[0][:3]),
            {"bidirectional": True},
            ValueError,
            r"h0 must be \(4, B, units\)",
        ),
        (("gru", x, weights, None, states[1]), {"bidirectional": True}, ValueError, "c0 is the LSTM's"),
    ]
    for args, kw, exc, match in cases:
        with pytest.raises(exc, match=match):
            mod.stack_forward(*args, **kw)
    with pytest.raises(TypeError, match="StackCache"):
        mod.stack_backward(np.zeros(1), object())


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("together", [True, False])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_two_directions_at_once_on_two_threads(rng, cell, together, monkeypatch):
    """With two threads a layer's directions run at once, one per thread, where they are large
    enough (_stack._set_pair_min, forced both ways here), else in turn on the caller's thread: the
    same answer as one thread, forward and backward (the backward as its forward did); an error
    in the second direction reaches the caller; the thread counts are restored."""
    import threading

    from lstmcore.engine import _backend, _lstm, _stack

    x, weights, states = _stack_problem(rng, cell, 2, 2, dtype=np.float32, B=6, T=9, I=5, H=16)
    lengths = np.array([9, 3, 5, 1, 9, 2])
    before = lstmcore.get_num_threads()
    previous = _stack._set_pair_min(0 if together else 1 << 62)
    ran_on = []
    backward = getattr(_backend, f"{cell}_backward")

    def recorded(*args, **kwargs):
        ran_on.append(threading.current_thread())
        return backward(*args, **kwargs)

    monkeypatch.setattr(_backend, f"{cell}_backward", recorded)
    try:
        out = {}
        for n in (1, 2):
            lstmcore.set_num_threads(n)
            *res, cache = lstmcore.stack_forward(
                cell, x, weights, *states, bidirectional=True, lengths=lengths, return_cache=True
            )
            assert cache.together == [together, together]
            ran_on.clear()
            grads = lstmcore.stack_backward(np.ones_like(res[0]), cache)
            out[n] = (res, grads)
            # one layer's two directions: on two threads at once, else both on this one
            at_once = n == 2 and together
            assert len(set(ran_on[:2])) == (2 if at_once else 1) and len(ran_on) == 4
        for a, b in zip(out[1][0], out[2][0], strict=True):
            assert_close(b, a, np.float32, name="forward")
        for g1, g2 in zip(out[1][1], out[2][1], strict=True):
            for key in g1:
                assert_close(g2[key], g1[key], np.float32, name=key, scale=9.0)
        bad = list(weights)
        bad[1] = (weights[1][0], weights[1][1][:, :-1], weights[1][2])  # the reverse direction's w_h
        with pytest.raises(ValueError, match="w_h"):
            lstmcore.stack_forward(cell, x, bad, *states, bidirectional=True)
        assert lstmcore.get_num_threads() == 2
        assert lstmcore.threadpool_info()["blas"] == [] or all(
            p["num_threads"] == 2 for p in lstmcore.threadpool_info()["blas"]
        )
        assert _lstm._kernel_context()[1] == 2
    finally:
        lstmcore.set_num_threads(before)
        _stack._set_pair_min(previous)


def test_directions_run_at_once_from_a_work_size():
    """_stack._together: a bidirectional layer's directions at once from _pair_min multiply-adds
    per direction (a training step's three times its forward's), here fixed at AVX2's float32
    count."""
    from lstmcore.engine import _stack

    def w(I, H, K):
        return (np.zeros((I, K * H)), np.zeros((H, K * H)), np.zeros(K * H))

    previous = _stack._set_pair_min(1 << 24)
    try:
        s1 = np.zeros((32, 30, 1))  # S1: 32 x 30 x (1 + 50) x 200 = 9.8 M for the LSTM
        assert not _stack._together(s1, [w(1, 50, 4)] * 2, 0, 2, "lstm", False)
        assert _stack._together(s1, [w(1, 50, 4)] * 2, 0, 2, "lstm", True)  # 29 M
        assert not _stack._together(s1, [w(1, 50, 1)] * 2, 0, 2, "rnn", True)  # 7.3 M
        assert _stack._together(np.zeros((64, 100, 32)), [w(32, 128, 3)] * 2, 0, 2, "gru", False)
        assert not _stack._together(np.zeros((64, 100, 32)), [w(32, 128, 3)], 0, 1, "gru", False)
        assert _stack._together(s1, [(1, 2, 3)] * 2, 0, 2, "lstm", False)  # sizes unread: at once
    finally:
        _stack._set_pair_min(previous)


def test_pair_threshold_counts_the_lanes_of_the_kernels_vectors():
    """_stack._pair_min: 2^21 multiply-adds per lane of the kernels' vectors in the call's dtype
    (AVX2 float32: 2^24), for every instruction set this CPU runs; x's dtype decides (float64's
    lanes are half as many); _set_pair_min fixes a count and None gives the rule back."""
    from lstmcore.engine import _stack

    assert _stack._set_pair_min(None) is None  # no test left a fixed count behind
    lanes = {"avx512": 16, "avx2": 8, "generic": 4}
    if lstmcore.backend != "compiled":
        assert _stack._pair_min(np.float32) == 1 << 24  # AVX2's count where no kernels run
        return
    from lstmcore.engine import _lstm

    before = _lstm._kernel_isa()
    try:
        for isa in _lstm._available_isas():
            _lstm._set_kernel_isa(isa)
            assert _stack._pair_min(np.float32) == (1 << 21) * lanes[isa]
            assert _stack._pair_min(np.float64) == (1 << 21) * lanes[isa] // 2
            least = _stack._pair_min(np.float32)
            # a direction of exactly the float32 threshold: float64 pairs it too, float32 at it
            H = 8
            T = least // (32 * (1 + H) * 4 * H)
            x32, x64 = np.zeros((32, T, 1), np.float32), np.zeros((32, T, 1))
            w_h = np.zeros((H, 4 * H))
            exact = 32 * T * (1 + H) * 4 * H
            assert _stack.pairs(x64, w_h, False) == (exact >= least // 2)
            assert _stack.pairs(x32, w_h, False) == (exact >= least)
            assert _stack.pairs(x32, w_h, True) == (3 * exact >= least)
        assert _stack._set_pair_min(0) is None
        assert _stack.pairs(np.zeros((1, 1, 1), np.float32), np.zeros((1, 4)), False)
        assert _stack._set_pair_min(None) == 0
    finally:
        _lstm._set_kernel_isa(before)
        _stack._set_pair_min(None)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("which", list(SEQS))
@pytest.mark.parametrize("threads", [1, 2])
def test_compiled_gathers_match_their_numpy_twin(rng, which, threads):
    """_checks.take_steps (the plans' gathers in one pass) and _cells.take_steps (its rows split
    between threads, here from any size) against _sequence._take_numpy, for every plan's gather,
    scatter (of states and of outputs) and output-gradient gather, on float32 and float64, on a
    strided view and into a transposed out (the training gathers'), and without writing the
    steps that would be 0 (pad=False)."""
    from lstmcore.engine import _cells, _checks, _sequence

    B, T, F = 7, 6, 5
    kw = _seq_kw(rng, which, B, T)
    p = _sequence.plan(B, T, **kw)
    a64 = rng.standard_normal((B, T, F))
    before_n, before_min = lstmcore.get_num_threads(), _cells._set_copy_par_min(0)
    lstmcore.set_num_threads(threads)
    try:
        for a in (
            a64,
            a64.astype(np.float32),
            np.ascontiguousarray(a64.transpose(1, 0, 2)).transpose(1, 0, 2),
        ):
            calls = [
                (p.perm, p.src, p.reverse, None),
                (p.inv, p.src_back, p.reverse, None),
                (p.inv, p.src_back, p.reverse, p.zero_back),
                (p.perm, p.src, p.reverse, p.zero_steps),
            ]
            for args in calls:
                want = _sequence._take_numpy(a, *args)
                np.testing.assert_array_equal(_checks.take_steps(a, *args), want)
                np.testing.assert_array_equal(_cells.take_steps(a, *args), want)
                out_tm = np.full((T, B, F), np.nan, dtype=a.dtype)
                assert _cells.take_steps(a, *args, out_tm.transpose(1, 0, 2)).base is out_tm
                np.testing.assert_array_equal(out_tm, want.transpose(1, 0, 2))
                # not pad (the backward's dy with lengths): the steps that would be 0 keep what
                # out held, the others as with pad
                rows, src, _, zero = args
                pad = np.zeros((B, T), dtype=bool) if src is None else src < 0
                if zero is not None:
                    pad |= zero
                for take in (_checks.take_steps, _cells.take_steps):
                    kept = np.full((B, T, F), 7.0, dtype=a.dtype)
                    assert take(a, *args, kept, pad=False) is kept
                    np.testing.assert_array_equal(kept[~pad], want[~pad])
                    assert np.all(kept[pad] == 7.0)
        for take in (_checks.take_steps, _cells.take_steps):
            with pytest.raises(ValueError, match="rows out of range"):
                take(a64, np.array([B]), None, False, None)
            with pytest.raises(ValueError, match="src must be"):
                take(a64, None, np.zeros((B, T + 1), dtype=np.int64), False, None)
    finally:
        lstmcore.set_num_threads(before_n)
        _cells._set_copy_par_min(before_min)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_compact_steps_on_threads_is_the_one_thread_copy(rng, threads):
    """_cells.compact_steps (the steps split between threads, each a share of the rows) gives
    _checks.compact_steps' rows, the rows that ran step after step: lengths spread, equal, one
    step holding every row, steps of no rows at the end; and refuses what _checks refuses."""
    from lstmcore.engine import _cells, _checks

    T, B, F = 9, 6, 5
    cases = [
        np.array([6, 6, 5, 4, 4, 2, 1, 1, 1]),
        np.full(T, B),
        np.array([6] + [0] * (T - 1)),
        np.array([3, 3, 2, 0, 0, 0, 0, 0, 0]),
        np.zeros(T, dtype=int),
    ]
    before_n, before_min = lstmcore.get_num_threads(), _cells._set_copy_par_min(0)
    lstmcore.set_num_threads(threads)
    try:
        for nact in cases:
            for dtype in (np.float64, np.float32):
                a = rng.standard_normal((T, B, F)).astype(dtype)
                want = np.concatenate([a[s, :n] for s, n in enumerate(nact)])
                np.testing.assert_array_equal(_checks.compact_steps(a, nact), want)
                got = _cells.compact_steps(a, nact, np.full(want.shape, np.nan, dtype=dtype))
                np.testing.assert_array_equal(got, want)
        S = int(cases[0].sum())
        for compact in (_checks.compact_steps, _cells.compact_steps):
            with pytest.raises(ValueError, match="nact must be"):
                compact(np.zeros((T, B, F)), np.full(T, B + 1))
            with pytest.raises(ValueError, match="out must be"):
                compact(np.zeros((T, B, F)), cases[0], np.empty((S + 1, F)))
            with pytest.raises(ValueError, match="C-contiguous"):
                compact(np.zeros((B, T, F)).transpose(1, 0, 2), cases[0])
    finally:
        lstmcore.set_num_threads(before_n)
        _cells._set_copy_par_min(before_min)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("which", list(SEQS))
def test_time_major_gather_and_put_match_their_numpy_twins(rng, which, monkeypatch):
    """The training paths' one-pass moves: Plan.gather_tm (take_steps into a transposed view)
    equals the gather, transposed; Plan.put (put_steps: the rows that ran, compacted step after
    step by compact_steps, into the caller's order) equals its NumPy twin and inverts the
    gather on every step that runs, 0 past each row's length."""
    from lstmcore.engine import _checks, _sequence

    B, T, F = 7, 6, 5
    p = _sequence.plan(B, T, **_seq_kw(rng, which, B, T))
    for dtype in (np.float64, np.float32):
        a = rng.standard_normal((B, T, F)).astype(dtype)
        out_tm = np.full((T, B, F), np.nan, dtype=dtype)
        np.testing.assert_array_equal(p.gather_tm(a, out_tm), p.gather(a).transpose(1, 0, 2))
        if p.nact is None:
            continue
        ran = np.ascontiguousarray(out_tm)  # every step's rows, the ones that ran first
        rows = _checks.compact_steps(ran, p.nact)
        want = np.concatenate([ran[s, :n] for s, n in enumerate(p.nact)])
        np.testing.assert_array_equal(rows, want)
        got = p.put(rows, np.full((B, T, F), np.nan, dtype=dtype))
        past = np.arange(T)[None, :] >= p.lengths[:, None]
        np.testing.assert_array_equal(got[~past], a[~past])
        assert not got[past].any()
        monkeypatch.setattr(_sequence, "_put_compiled", None)
        np.testing.assert_array_equal(p.put(rows, np.empty((B, T, F), dtype=dtype)), got)
        monkeypatch.undo()


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("reverse", [False, True])
def test_compiled_lengths_plan_matches_the_numpy_plan(rng, reverse, monkeypatch):
    """_checks.lengths_plan (a lengths plan's arrays in one pass) gives the plan NumPy builds:
    unsorted, sorted, equal and single lengths, B or T of 1."""
    from lstmcore.engine import _sequence

    cases = [
        (7, 6, None),
        (5, 4, np.array([4, 4, 3, 1, 1])),
        (4, 3, np.array([2, 2, 2, 2])),
        (1, 5, None),
        (6, 1, None),
    ]
    for B, T, lengths in cases:
        if lengths is None:
            lengths = rng.integers(1, T + 1, B)
        got = _sequence.plan(B, T, reverse=reverse, lengths=lengths)
        with monkeypatch.context() as m:
            m.setattr(_sequence, "_lengths_compiled", None)
            want = _sequence.plan(B, T, reverse=reverse, lengths=lengths)
        for name in ("perm", "inv", "src", "src_back", "nact", "last", "zero_steps", "zero_back"):
            a, b = getattr(got, name), getattr(want, name)
            assert (a is None) == (b is None), name
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=name)
                assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(got.codes, want.codes)
        # where each step's rows start among the rows that ran, and their number
        offsets = got.step_offsets
        assert offsets.dtype == np.intp and offsets is got.step_offsets
        np.testing.assert_array_equal(offsets, np.concatenate([[0], np.cumsum(got.nact)]))
        assert offsets[T] == lengths.sum()
    assert _sequence.plan(3, 4, mask=np.ones((3, 4), bool)).step_offsets is None


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
def test_put_and_compact_steps_refuse_what_does_not_fit(rng):
    """put_steps and compact_steps check what they are given (ValueError, never a write out of
    bounds)."""
    from lstmcore.engine import _checks, _sequence

    B, T, F = 5, 4, 3
    p = _sequence.plan(B, T, lengths=np.array([4, 1, 3, 2, 4]))
    S = int(p.nact.sum())
    a = rng.standard_normal((S, F))
    out = np.empty((B, T, F))
    bad = [
        ((a[:-1], p.nact, p.perm, p.src, False, out), "summing to"),
        ((a, p.nact[::-1], p.perm, p.src, False, out), "non-increasing"),
        ((a, p.nact, np.zeros(B, dtype=np.int64), p.src, False, out), "permutation"),
        ((a, p.nact, p.perm, np.full((B, T), T), False, out), "src must be"),
        ((a, p.nact, p.perm, np.full((B, T), -1), False, out), "src marks a step as padding"),
        ((a.astype(np.float32), p.nact, p.perm, p.src, False, out), "out must be"),
        ((a, p.nact, p.perm, p.src, False, np.empty((B, T, F + 1))), "out must be"),
        ((a[:, ::-1], p.nact, p.perm, p.src, False, out), "C-contiguous"),
    ]
    for args, match in bad:
        with pytest.raises(ValueError, match=match):
            _checks.put_steps(*args)
    with pytest.raises(ValueError, match="nact must be"):
        _checks.compact_steps(np.zeros((T, B, F)), np.full(T, B + 1))
    with pytest.raises(ValueError, match="out must be"):
        _checks.compact_steps(np.zeros((T, B, F)), p.nact, np.empty((S + 1, F)))
    with pytest.raises(ValueError, match="out must be"):
        reversed_last_axis = np.empty((T, B, F)).transpose(1, 0, 2)[..., ::-1]
        _checks.take_steps(np.zeros((B, T, F)), None, None, False, None, reversed_last_axis)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("B, T", [(1, 1), (1, 4), (3, 1)])
def test_stack_caches_do_not_share_scratch(rng, cell, B, T):
    """Each layer's cache keeps its own input, also where B or T is 1 (a transpose that needs no
    copy) and the plan's gathered input lives in scratch memory the next layer reuses (found by
    the fuzz suite: layer 1's dw_x came from layer 2's input)."""
    x, weights, states = _stack_problem(rng, cell, 2, 1, B=B, T=T, I=2, H=3)
    mask = np.ones((B, T), dtype=bool)
    want = reference.stack_forward(cell, x, weights, *states, mask=mask, return_cache=True)
    got = lstmcore.stack_forward(cell, x, weights, *states, mask=mask, return_cache=True)
    dy = np.ones_like(want[0])
    for g, w in zip(
        lstmcore.stack_backward(dy, got[-1]), reference.stack_backward(dy, want[-1]), strict=True
    ):
        for key in w:
            assert_close(g[key], w[key], np.float64, name=key)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("which", ["lengths-reverse", "mask-reverse"])
def test_recurrent_dropout_with_sequences(rng, cell, options, which):
    """Recurrent dropout (h_prev * mask in the recurrent products) with lengths or a mask: the
    dropout mask follows the rows into the plan's order, forward and backward."""
    args, kw, grads = _problem(rng, cell, options, np.float64)
    B, T = args[0].shape[:2]
    kw.update(_seq_kw(rng, which, B, T))
    P = args[4].shape[1]
    kw["recurrent_mask"] = (rng.random((B, P)) > 0.3) / 0.7
    want = _forward(reference, cell, args, kw, True)
    got = _forward(lstmcore, cell, args, kw, True)
    for k in range(len(want) - 1):
        assert_close(got[k], want[k], np.float64, name=f"output {k}")
    have, expect = _backward(lstmcore, cell, got[-1], grads), _backward(reference, cell, want[-1], grads)
    for name in expect:
        assert_close(have[name], expect[name], np.float64, name=name)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_cache_owns_its_input_with_one_row_or_step(mod, rng, cell):
    """With B or T of 1 the time-major x needs no copy; the cache still keeps its own, so changing
    x between the forward and the backward changes nothing."""
    for B, T in ((1, 4), (3, 1)):
        args, kw, grads = _problem(rng, cell, {}, np.float64, B=B, T=T)
        *_, cache = _forward(mod, cell, args, kw, True)
        want = _backward(mod, cell, cache, grads)
        args[0][...] = 7.0
        assert not np.shares_memory(cache.x, args[0])
        got = _backward(mod, cell, cache, grads)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled kernels' strided output")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["packed", "blas"])
@pytest.mark.parametrize("train", [False, True], ids=["inference", "train"])
def test_a_direction_writes_into_its_half_of_the_merged_output(rng, dtype, path, train):
    """A bidirectional LSTM layer's directions write straight into their halves of the
    concatenated output (its rows 2H apart): the same values as lstm_forward's own y, forward
    and reverse, on the packed kernels and on BLAS, and in training the same cache (the same
    gradients); calls the kernels cannot serve that way (lengths, a last axis that is not
    contiguous) are computed, then copied in."""
    from helpers import make_lstm

    from lstmcore.engine import _lstm

    limits = _lstm._packed_limits()
    _lstm._set_packed_limits(*((1, 1 << 30, 1) if path == "packed" else (1 << 30, 1 << 30, 1 << 30)))
    try:
        B, T, I, H = 7, 5, 3, 37
        p = make_lstm(rng, B, T, I, H, dtype)
        args = (p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"])
        dy = rng.standard_normal((B, T, H)).astype(dtype)

        def same(got, want):
            assert len(got) == len(want)
            for g, w in zip(got[:3], want[:3], strict=True):
                np.testing.assert_array_equal(g, w)
            if train:  # the caches give the same gradients
                gg, gw = lstmcore.lstm_backward(dy, got[3]), lstmcore.lstm_backward(dy, want[3])
                for name in gw:
                    np.testing.assert_array_equal(gg[name], gw[name])

        merged = np.full((B, T, 2 * H), np.nan, dtype=dtype)
        for d, reverse in enumerate((False, True)):
            half = merged[..., d * H : (d + 1) * H]
            got = _lstm._lstm_forward_into(half, *args, reverse=reverse, return_cache=train)
            want = lstmcore.lstm_forward(*args, reverse=reverse, return_cache=train)
            assert got[0] is half
            same(got, want)
        lengths = rng.integers(1, T + 1, size=B)
        want = lstmcore.lstm_forward(*args, reverse=True, lengths=lengths, return_cache=train)
        got = _lstm._lstm_forward_into(
            merged[..., H:], *args, reverse=True, lengths=lengths, return_cache=train
        )
        same(got, want)
        spaced = np.zeros((B, T, 2 * H), dtype=dtype)[..., ::2]  # every other column
        got = _lstm._lstm_forward_into(spaced, *args, return_cache=train)
        np.testing.assert_array_equal(spaced, lstmcore.lstm_forward(*args)[0])
        assert got[0] is spaced
    finally:
        _lstm._set_packed_limits(*limits)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled kernels' strided output")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("plan", ["packed", "blas"])
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_a_gru_or_rnn_direction_writes_into_its_half_of_the_merged_output(rng, dtype, plan, cell):
    """The GRU's and the RNN's inference write y straight into a direction's half of the
    concatenated output (rows 2H apart): from the kernels forward, from the plan's scatter in
    reverse and with a mask; the same values as the function's own y and final state. Training
    and lengths are computed, then copied in; a stack with both gives what its directions
    give."""
    from lstmcore.engine import _cells

    previous = _cells._set_plan(recurrent=plan)
    try:
        B, T, I, H = 7, 5, 3, 37
        x, weights, _ = _stack_problem(rng, cell, 1, 2, dtype, B=B, T=T, I=I, H=H)
        h0 = _f(rng, dtype, 0.5, B, H)
        fn = getattr(lstmcore, f"{cell}_forward")
        into = _cells._gru_into if cell == "gru" else _cells._rnn_into
        mask = rng.random((B, T)) < 0.7
        merged = np.full((B, T, 2 * H), np.nan, dtype=dtype)
        for d, kw in enumerate(({}, {"reverse": True}, {"reverse": True, "mask": mask})):
            half = merged[..., (d % 2) * H : (d % 2 + 1) * H]
            args = (x, *weights[d % 2], h0)
            got = into(half, *args, **kw)
            assert got[0] is half, kw  # written there, not copied
            want = fn(*args, **kw)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)
            got = _cells._cell_forward_into(half, cell, *args, **kw)
            assert got[0] is half
        args = (x, *weights[0], h0)
        lengths = rng.integers(1, T + 1, size=B)
        for kw in ({"lengths": lengths}, {"return_cache": True}):
            assert not np.shares_memory(into(merged[..., :H], *args, **kw)[0], merged)  # its own y
            got = _cells._cell_forward_into(merged[..., :H], cell, *args, **kw)
            want = fn(*args, **kw)
            np.testing.assert_array_equal(merged[..., :H], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        spaced = np.zeros((B, T, 2 * H), dtype=dtype)[..., ::2]  # every other column
        got = _cells._cell_forward_into(spaced, cell, *args)
        assert got[0] is spaced
        np.testing.assert_array_equal(spaced, fn(*args)[0])
        with pytest.raises(TypeError):
            _cells._cell_forward_into(merged[..., :H], cell, *args, no_such_option=1)
        with pytest.raises(ValueError, match="cell must be"):
            _cells._cell_forward_into(merged[..., :H], "lstm", *args)
        y, h_n = lstmcore.stack_forward(cell, x, weights, h0=np.stack([h0, h0]), bidirectional=True)
        np.testing.assert_array_equal(y[..., :H], fn(x, *weights[0], h0)[0])
        np.testing.assert_array_equal(y[..., H:], fn(x, *weights[1], h0, reverse=True)[0])
    finally:
        _cells._set_plan(**previous)
