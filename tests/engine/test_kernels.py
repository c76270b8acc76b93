"""The compiled functions against the reference functions of the same name, in both dtypes."""

import numpy as np
import pytest
from helpers import ACTIVATIONS, DTYPES, RECURRENT_ACTIVATIONS, SHAPES, assert_close, make_lstm

import lstmcore
from lstmcore import reference

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="compares the compiled backend")

ISAS = lstmcore.engine._lstm._available_isas() if lstmcore.backend == "compiled" else ("generic",)


@pytest.fixture(autouse=True, params=ISAS)
def isa(request):
    """Run every comparison with each instruction set of the gate kernels this CPU has."""
    before = lstmcore.engine._lstm._kernel_isa()
    lstmcore.engine._lstm._set_kernel_isa(request.param)
    yield request.param
    lstmcore.engine._lstm._set_kernel_isa(before)


@pytest.fixture(
    autouse=True,
    params=[
        "blas",
        "packed",
        "packed-prefetch",
        "packed-blocked",
        "packed-2-threads-rows",
        "packed-2-threads-panels",
    ],
)
def loop_path(request):
    """Run every comparison with each way through the time loop: a BLAS product per step, the
    packed kernel (forward and backward; then with at most 4 rows per register block and the
    plans of a machine whose L2 is 4 KiB: the next panel prefetched into the L2 and the weight
    gradients on BLAS or, with AVX-512, in the blocked kernel; then the weight gradients forced
    into the blocked kernel with the blocks of a 1 KiB L1 and a 4 KiB L2: many blocks of rows and
    of columns), and the packed kernel on two threads
    whatever the size, with the batch rows split (where there are blocks of rows enough; AVX-512
    only, the other instruction sets split panels) or the panels split (a barrier per step; with
    the prefetch)."""
    lc = lstmcore.engine._lstm
    limits, par_min, row_bytes, threads = lc._packed_limits(), lc._seq_par_min(), lc._row_split_bytes(), None
    prefetch = lc._set_panel_prefetch("always" if request.param.endswith(("prefetch", "panels")) else "never")
    l2, row_block = lc._set_l2(4096), lc._set_row_block(4 if request.param == "packed-prefetch" else 0)
    if request.param not in ("packed-prefetch", "packed-blocked"):
        lc._set_l2(l2)
    l1d = lc._set_l1d(1024 if request.param == "packed-blocked" else lc._set_l1d(1))
    grads = lc._set_grad_products("blocked" if request.param == "packed-blocked" else "auto")
    if request.param == "blas":
        lc._set_packed_limits(1 << 30, 1 << 30, 1 << 30)
    else:
        lc._set_packed_limits(1, 1 << 30, 1)
    if request.param.startswith("packed-2-threads"):
        threads = lstmcore.get_num_threads()
        lstmcore.set_num_threads(2)
        lc._set_seq_par_min(0)
        lc._set_row_split_bytes(1 << 40 if request.param.endswith("rows") else 0)
    yield request.param
    lc._set_packed_limits(*limits)
    lc._set_seq_par_min(par_min)
    lc._set_row_split_bytes(row_bytes)
    lc._set_panel_prefetch(prefetch)
    lc._set_l2(l2)
    lc._set_l1d(l1d)
    lc._set_grad_products(grads)
    lc._set_row_block(row_block)
    if threads is not None:
        lstmcore.set_num_threads(threads)


def _args(p, state):
    return (p["x"], p["w_x"], p["w_h"], p["b"]) + ((p["h0"], p["c0"]) if state else ())


def _compare_forward(p, dtype, state, **opts):
    args = _args(p, state)
    ref = reference.lstm_forward(*args, return_cache=True, **opts)
    infer = lstmcore.lstm_forward(*args, **opts)
    train = lstmcore.lstm_forward(*args, return_cache=True, **opts)
    for name, r, a, b in zip(("y", "h_n", "c_n"), ref[:3], infer, train[:3], strict=True):
        assert a.dtype == b.dtype == dtype
        assert_close(a, r, dtype, name=f"{name} (inference)")
        assert_close(b, r, dtype, name=f"{name} (training)")
    return ref[3], train[3]


def _compare_backward(ref_cache, cache, dtype, dy, dh_n, dc_n):
    expected = reference.lstm_backward(dy, ref_cache, dh_n, dc_n)
    got = lstmcore.lstm_backward(dy, cache, dh_n, dc_n)
    assert set(got) == {"dx", "dw_x", "dw_h", "db", "dh0", "dc0"}
    for name, r in expected.items():
        assert got[name].dtype == dtype
        # Weight gradients sum T*B terms: scale the absolute tolerance with that count.
        scale = ref_cache.gates.shape[0] * ref_cache.gates.shape[1] if name.startswith(("dw", "db")) else 1
        assert_close(got[name], r, dtype, name=name, scale=scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("state", [True, False], ids=["h0c0", "zeros"])
def test_forward_backward_shapes(rng, dtype, shape, state):
    B, T, I, H = SHAPES[shape]
    p = make_lstm(rng, B, T, I, H, dtype)
    ref_cache, cache = _compare_forward(p, dtype, state)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    dh_n, dc_n = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    _compare_backward(ref_cache, cache, dtype, dy, dh_n, dc_n)
    _compare_backward(ref_cache, cache, dtype, dy, None, None)
    _compare_backward(ref_cache, cache, dtype, None, dh_n, None)
    _compare_backward(ref_cache, cache, dtype, None, None, dc_n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_layer_splits_into_several_panels(rng, dtype):
    """H = 130: the packed forward has 9 (float32) or 17 (float64) panels and the packed backward
    3 or 5, the last one partial, so with two threads each thread gets several."""
    p = make_lstm(rng, 5, 4, 6, 130, dtype)
    ref_cache, cache = _compare_forward(p, dtype, True)
    dy = rng.standard_normal(p["x"].shape[:2] + (130,)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, p["h0"], p["c0"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_input_takes_the_packed_products(rng, dtype):
    """I = 70, H = 21: the backward's dx = dz @ w_x.T by packed panels (2, the second partial) and
    the weight gradients by blocks of 4 rows with 2 rows and 20 columns (G = 84) left over."""
    p = make_lstm(rng, 6, 3, 70, 21, dtype)
    ref_cache, cache = _compare_forward(p, dtype, True)
    dy = rng.standard_normal((6, 3, 21)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, p["h0"], p["c0"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_gradient_copies_strided_slices(rng, dtype):
    """H = 64: rows of dz are 256 elements (1 KiB or more) apart, so the weight-gradient kernel
    copies each slice of dz to consecutive rows before the blocks of rows of dw_x (I = 40) and
    dw_h meet it; T * B = 90 rows make two K blocks, the second partial."""
    p = make_lstm(rng, 9, 10, 40, 64, dtype)
    ref_cache, cache = _compare_forward(p, dtype, True)
    dy = rng.standard_normal((9, 10, 64)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, p["h0"], p["c0"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
@pytest.mark.parametrize("shape", ["H7", "H50"])
def test_activations(rng, dtype, activation, recurrent_activation, shape):
    """Every activation pair; H50 also takes the packed step's full blocks of rows, a row alone and
    the quarter-wide last panel, each with the activations as constants or not."""
    B, T, I, H = SHAPES[shape]
    p = make_lstm(rng, B, T, I, H, dtype)
    p["x"] *= 4  # push gates past hard_sigmoid's clipping at +-3
    opts = {"activation": activation, "recurrent_activation": recurrent_activation}
    ref_cache, cache = _compare_forward(p, dtype, True, **opts)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, None, rng.standard_normal((B, H)).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
def test_backward_with_output_gates_near_zero(rng, dtype, recurrent_activation):
    """The packed backward takes out_act(c) as h / o in vectors whose o are all normal numbers:
    output gates pushed to 0, to subnormal values (float32's sigmoid at -95) and mixed with open
    ones in one vector still give the reference's gradients."""
    B, T, I, H = SHAPES["H50"]
    p = make_lstm(rng, B, T, I, H, dtype)
    p["b"][3 * H : 3 * H + H : 2] = -95  # every other unit's o shut (hard_sigmoid: exactly 0)
    p["b"][3 * H + 1 : 3 * H + 20 : 2] = 2
    opts = {"recurrent_activation": recurrent_activation}
    ref_cache, cache = _compare_forward(p, dtype, True, **opts)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, None, rng.standard_normal((B, H)).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("B", [1, 4])
def test_cell_forward(rng, dtype, activation, B):
    p = make_lstm(rng, B, 1, 5, 6, dtype)
    args = (p["x"][:, 0], p["w_x"], p["w_h"], p["b"])
    for state in [(p["h0"], p["c0"]), ()]:
        h, c = lstmcore.lstm_cell_forward(*args, *state, activation=activation)
        h_ref, c_ref = reference.lstm_cell_forward(*args, *state, activation=activation)
        assert_close(h, h_ref, dtype, name="h")
        assert_close(c, c_ref, dtype, name="c")


@pytest.mark.parametrize("dtype", DTYPES)
def test_steps_equal_sequence(rng, dtype):
    # Streaming one step at a time carries the same state as the whole-sequence call.
    B, T, I, H = 3, 9, 4, 5
    p = make_lstm(rng, B, T, I, H, dtype)
    y, h_n, c_n = lstmcore.lstm_forward(*_args(p, True))
    h, c = p["h0"], p["c0"]
    for t in range(T):
        h, c = lstmcore.lstm_cell_forward(p["x"][:, t], p["w_x"], p["w_h"], p["b"], h, c)
        assert_close(h, y[:, t], dtype, name=f"h at step {t}")
    assert_close(c, c_n, dtype, name="c_n")


@pytest.mark.parametrize("dtype", DTYPES)
def test_caches_are_interchangeable(rng, dtype):
    # A reference cache feeds the compiled backward and the other way round.
    p = make_lstm(rng, 2, 5, 3, 4, dtype)
    ref_cache, cache = _compare_forward(p, dtype, True)
    dy = rng.standard_normal((2, 5, 4)).astype(dtype)
    _compare_backward(ref_cache, ref_cache, dtype, dy, None, None)
    got = reference.lstm_backward(dy, cache)
    for name, r in lstmcore.lstm_backward(dy, cache).items():
        assert_close(got[name], r, dtype, name=name, scale=10)


def test_nothing_is_mutated(rng):
    p = make_lstm(rng, 3, 4, 2, 5)
    before = {k: v.copy() for k, v in p.items()}
    _, _, _, cache = lstmcore.lstm_forward(*_args(p, True), return_cache=True)
    saved = {k: getattr(cache, k).copy() for k in ("x", "gates", "h", "c")}
    dy, dh_n, dc_n = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    copies = dy.copy(), dh_n.copy(), dc_n.copy()
    first = lstmcore.lstm_backward(dy, cache, dh_n, dc_n)
    second = lstmcore.lstm_backward(dy, cache, dh_n, dc_n)  # the cache is reusable
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    for k, v in before.items():
        np.testing.assert_array_equal(p[k], v, err_msg=k)
    for k, v in saved.items():
        np.testing.assert_array_equal(getattr(cache, k), v, err_msg=f"cache.{k}")
    for a, b in zip((dy, dh_n, dc_n), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_returns_fresh_arrays(rng):
    p = make_lstm(rng, 2, 3, 2, 3)
    y, h_n, c_n = lstmcore.lstm_forward(*_args(p, True))
    assert not np.shares_memory(h_n, y)
    for a in (y, h_n, c_n):
        assert a.flags.c_contiguous and a.flags.writeable
        for name, inp in p.items():
            assert not np.shares_memory(a, inp), name


def test_isa_switch_refuses_unknown():
    with pytest.raises(ValueError, match="isa must be one of"):
        lstmcore.engine._lstm._set_kernel_isa("sse9")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "K, M1, M2, N", [(960, 1, 50, 200), (90, 40, 64, 256), (7, 3, 5, 17), (130, 6, 7, 96)]
)
def test_weight_gradients_in_one_pass(rng, dtype, K, M1, M2, N, loop_path):
    """lc_matmul_tn2 (dw_x, dw_h and db in one pass over dz) gives each element the bits of
    lc_matmul_tn and lc_sum_rows alone, on 1 and 2 threads: K over several blocks of 64 rows
    and within one, rows and columns that fill no whole block or vector."""
    if loop_path != "blas":
        pytest.skip("one loop path is enough: the products do not depend on it")
    lc = lstmcore.engine._lstm
    a1, a2 = rng.standard_normal((K, M1)).astype(dtype), rng.standard_normal((K, M2)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    want1, want2, want_s = np.zeros((M1, N), dtype), np.zeros((M2, N), dtype), np.zeros(N, dtype)
    lc._products_tn(a1, b, want1, True, 1)
    lc._products_tn(a2, b, want2, True, 1)
    lc._products_sum_rows(b, want_s, 1)
    for nthreads in (1, 2):
        out1, out2, sums = np.zeros_like(want1), np.zeros_like(want2), np.zeros_like(want_s)
        lc._products_tn2(a1, a2, b, out1, out2, sums, nthreads)
        np.testing.assert_array_equal(out1, want1)
        np.testing.assert_array_equal(out2, want2)
        np.testing.assert_array_equal(sums, want_s)
    assert_close(want2, a2.T.astype(np.float64) @ b, dtype, scale=np.sqrt(K))
    with pytest.raises(ValueError, match="expected a1"):
        lc._products_tn2(a1, a2, b[:-1], out1, out2, sums, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "K, M1, M2, N", [(960, 1, 50, 200), (90, 40, 64, 256), (7, 3, 5, 17), (700, 13, 20, 130)]
)
@pytest.mark.parametrize("l1d, l2", [(None, None), (1024, 4096), (4096, 65536)])
def test_weight_gradients_in_blocks(rng, dtype, K, M1, M2, N, l1d, l2, loop_path):
    """lc_matmul_tn2_blocked (AVX-512; lc_matmul_tn2 with the other instruction sets): dw_x, dw_h
    and db close to float64 products, db with lc_sum_rows' bits, the same bits on 1 and 2 threads;
    with the blocks of this machine's caches and of small ones (K in many blocks of rows, N in many
    blocks of columns, partial tiles of rows and vectors of columns)."""
    if loop_path != "blas":
        pytest.skip("one loop path is enough: the products do not depend on it")
    lc = lstmcore.engine._lstm
    saved = lc._set_l1d(l1d or lc._set_l1d(1)), lc._set_l2(l2 or lc._set_l2(1))
    try:
        a1 = rng.standard_normal((K, M1)).astype(dtype)
        a2 = rng.standard_normal((K, M2)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        want_s = np.zeros(N, dtype)
        lc._products_sum_rows(b, want_s, 1)
        got = []
        for nthreads in (1, 2):
            out1, out2 = np.full((M1, N), 0.5, dtype), np.full((M2, N), -0.5, dtype)
            sums = np.zeros(N, dtype)
            lc._products_tn2(a1, a2, b, out1, out2, sums, nthreads, blocked=True)
            got.append((out1, out2, sums))
        for x, y in zip(got[0], got[1], strict=True):
            np.testing.assert_array_equal(x, y)
        out1, out2, sums = got[0]
        np.testing.assert_array_equal(sums, want_s)
        scale = np.sqrt(K)
        assert_close(out1, 0.5 + a1.T.astype(np.float64) @ b, dtype, scale=scale)
        assert_close(out2, -0.5 + a2.T.astype(np.float64) @ b, dtype, scale=scale)
    finally:
        lc._set_l1d(saved[0])
        lc._set_l2(saved[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_weight_gradient_in_blocks(rng, dtype, loop_path):
    """_products_tn_blocked (one output, the cell engine's): as the two-output kernel's first,
    sums optional; no columns of a: only the sums; shapes that do not agree: ValueError."""
    if loop_path != "blas":
        pytest.skip("one loop path is enough: the products do not depend on it")
    lc = lstmcore.engine._lstm
    K, M, N = 300, 13, 70
    a, b = rng.standard_normal((K, M)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    out, sums = np.zeros((M, N), dtype), np.zeros(N, dtype)
    lc._products_tn_blocked(a, b, out, sums, 2)
    want_s = np.zeros(N, dtype)
    lc._products_sum_rows(b, want_s, 1)
    np.testing.assert_array_equal(sums, want_s)
    assert_close(out, a.T.astype(np.float64) @ b, dtype, scale=np.sqrt(K))
    again = np.zeros_like(out)
    lc._products_tn_blocked(a, b, again, None, 1)
    np.testing.assert_array_equal(again, out)
    only = np.zeros(N, dtype)
    lc._products_tn_blocked(a[:, :0], b, np.zeros((0, N), dtype), only, 1)
    np.testing.assert_array_equal(only, want_s)
    with pytest.raises(ValueError, match="expected a"):
        lc._products_tn_blocked(a, b[:-1], out, sums, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T, B, M1, M2, N", [(100, 64, 32, 128, 512), (9, 7, 3, 5, 17)])
@pytest.mark.parametrize("l1d, l2", [(None, None), (1024, 4096)])
def test_weight_gradients_read_the_rows_that_ran_in_place(rng, dtype, T, B, M1, M2, N, l1d, l2, loop_path):
    """steps (lc_step_rows): a (T, B, M) array of which the products read step t's first
    nact[t] rows gives the bits of the same rows copied together first, in each kernel (one
    output, two in one pass, in cache blocks), on 1 and 2 threads; a step's rows straddle the
    blocks of 64 rows, the last steps run no row, the first step all. Offsets that do not rise
    from 0 to b's rows, or a step with more rows than a holds: ValueError."""
    if loop_path != "blas":
        pytest.skip("one loop path is enough: the products do not depend on it")
    lc = lstmcore.engine._lstm
    saved = lc._set_l1d(l1d or lc._set_l1d(1)), lc._set_l2(l2 or lc._set_l2(1))
    try:
        nact = np.sort(rng.integers(0, B + 1, T))[::-1].copy()
        nact[0], nact[-2:] = B, 0
        off = np.concatenate([[0], np.cumsum(nact)])
        K = int(off[-1])
        a1 = rng.standard_normal((T, B, M1)).astype(dtype)
        a2 = rng.standard_normal((T, B, M2)).astype(dtype)
        c1 = np.concatenate([a1[t, : nact[t]] for t in range(T)])
        c2 = np.concatenate([a2[t, : nact[t]] for t in range(T)])
        f1, f2 = a1.reshape(T * B, M1), a2.reshape(T * B, M2)
        b = rng.standard_normal((K, N)).astype(dtype)
        for nthreads in (1, 2):
            want, got = np.zeros((M1, N), dtype), np.zeros((M1, N), dtype)
            lc._products_tn(c1, b, want, True, nthreads)
            lc._products_tn(f1, b, got, True, nthreads, off)
            np.testing.assert_array_equal(got, want)
            for blocked in (False, True):
                want = [np.zeros((M1, N), dtype), np.zeros((M2, N), dtype), np.zeros(N, dtype)]
                got = [np.zeros_like(w) for w in want]
                lc._products_tn2(c1, c2, b, *want, nthreads, blocked)
                lc._products_tn2(f1, f2, b, *got, nthreads, blocked, steps1=off, steps2=off)
                for g, w in zip(got, want, strict=True):
                    np.testing.assert_array_equal(g, w)
                mixed = [np.zeros_like(w) for w in want]  # only a1 in place
                lc._products_tn2(f1, c2, b, *mixed, nthreads, blocked, steps1=off)
                for g, w in zip(mixed, want, strict=True):
                    np.testing.assert_array_equal(g, w)
            want, got = np.zeros((M2, N), dtype), np.zeros((M2, N), dtype)
            ws, gs = np.zeros(N, dtype), np.zeros(N, dtype)
            lc._products_tn_blocked(c2, b, want, ws, nthreads)
            lc._products_tn_blocked(f2, b, got, gs, nthreads, off)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(gs, ws)
        assert_close(want, c2.T.astype(np.float64) @ b, dtype, scale=np.sqrt(K))
        out = np.zeros((M1, N), dtype)
        wide = off.copy()
        wide[1:-1] += 1  # step 0 one row more than a's B, step T - 1 one less
        for bad in (off[:-1], off - 1, off[::-1], wide):
            with pytest.raises(ValueError, match="steps must"):
                lc._products_tn(f1, b, out, True, 1, bad)
        with pytest.raises(ValueError, match="steps must"):
            lc._products_tn(f1[:-1], b, out, True, 1, off)
        with pytest.raises(ValueError, match="BLAS"):
            lc._products_tn(f1, b, out, False, 1, off)
    finally:
        lc._set_l1d(saved[0])
        lc._set_l2(saved[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_narrow_inputs_take_dx_on_the_packed_product(rng, dtype, cell, isa, loop_path):
    """Inputs narrower than the LSTM kernels' 256-byte panels and a vector wide or more: on the
    rules' plan, dx on the cell engine's packed product (_grad_bits' bit 32, 'gemm' in the
    plans; not without AVX2), with the reference's gradients, lengths too; narrower than a
    vector, BLAS as before."""
    if loop_path not in ("blas", "packed"):
        pytest.skip("the loop paths share the products after the loop")
    lc = lstmcore.engine._lstm
    itemsize = np.dtype(dtype).itemsize
    vector = {"avx512": 64, "avx2": 32}.get(isa)
    for I in (1, 4, 8, 16, 24, 32, 48, 64):
        narrow = vector is not None and vector <= I * itemsize < 256
        assert bool(lc._products_plan(True, I, 16, 64, itemsize) & 32) == narrow, I
    B, T, I, H = 5, 7, 16 if itemsize == 4 else 8, 6
    if loop_path == "packed" and vector is not None:
        assert lc._seq_plan(B, T, I, H, itemsize)["training"]["dx"] == "gemm"
    G = {"lstm": 4, "gru": 3}[cell] * H
    x = rng.standard_normal((B, T, I)).astype(dtype)
    w_x, w_h = ((0.3 * rng.standard_normal(s)).astype(dtype) for s in ((I, G), (H, G)))
    b = rng.standard_normal((2, G) if cell == "gru" else G).astype(dtype)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    fwd, bwd = getattr(lstmcore, f"{cell}_forward"), getattr(lstmcore, f"{cell}_backward")
    ref_fwd, ref_bwd = getattr(reference, f"{cell}_forward"), getattr(reference, f"{cell}_backward")
    for lengths in (None, np.array([7, 2, 5, 7, 1])):
        kw = {} if lengths is None else {"lengths": lengths}
        got = bwd(dy, fwd(x, w_x, w_h, b, return_cache=True, **kw)[-1])
        want = ref_bwd(dy, ref_fwd(x, w_x, w_h, b, return_cache=True, **kw)[-1])
        for name in ("dx", "dw_x", "dw_h", "db"):
            assert_close(got[name], want[name], dtype, name=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_after_the_cache_activation_changed(rng, dtype, loop_path):
    """The packed backward takes out_act(c) as h / o only while the cache's activation is the one
    its forward ran: a cache whose activation was changed since (to another the plain LSTM runs)
    gets the reference's gradients, which recompute it from c (found by the long API fuzz)."""
    B, T, I, H = SHAPES["H50"]
    p = make_lstm(rng, B, T, I, H, dtype)
    ref_cache, cache = _compare_forward(p, dtype, True)
    assert cache.h_activation == "tanh"
    cache.activation = ref_cache.activation = "relu"
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    _compare_backward(ref_cache, cache, dtype, dy, None, None)
