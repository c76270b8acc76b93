"""The packed product of csrc/gemm (lc_pack + lc_gemm_packed: the recurrent product of every
generic cell's step) against NumPy, on every instruction set the CPU runs: row counts around the
register tile (8 rows with AVX-512, 6 with AVX2 and the baseline), column counts around the panels
(a narrow last panel), K cut in blocks by a small L1, the thread split over panels and over rows,
transposed weights, accumulation into the output, and rows of a any distance apart."""

from __future__ import annotations

import numpy as np
import pytest

import lstmcore

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")

if lstmcore.backend == "compiled":
    from lstmcore.engine import _cells

TOL = {np.float32: 2e-5, np.float64: 1e-12}
MS = [1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 33]
NS = [1, 7, 8, 15, 16, 17, 24, 31, 32, 47, 48, 49, 96, 100]
KS = [1, 2, 5, 16, 17, 40, 130]


@pytest.fixture(params=["1T", "2T-panels-small-L1"])
def setting(request):
    """One thread and this machine's L1; or two threads at every size and a 2 KiB L1 (K blocks
    of 16 rows)."""
    before_n = lstmcore.get_num_threads()
    if request.param == "1T":
        before = _cells._set_plan()
        lstmcore.set_num_threads(1)
    else:
        before = _cells._set_plan(gemm_par_min=0, l1d=2048)
        lstmcore.set_num_threads(2)
    yield request.param
    lstmcore.set_num_threads(before_n)
    _cells._set_plan(**before)


def _check(got, a, w, trans, dtype, base=None):
    want = a.astype(np.float64) @ (w.T if trans else w).astype(np.float64)
    if base is not None:
        want = want + base
    scale = max(1.0, float(np.abs(a).max(initial=0) * np.abs(w).max(initial=0) * a.shape[1]))
    assert got.dtype == dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("trans", [False, True], ids=["w", "wT"])
def test_every_row_and_column_count(isa, setting, dtype, trans):
    rng = np.random.default_rng(1)
    for M in MS:
        for N in NS:
            K = KS[(M + N) % len(KS)]
            a = rng.standard_normal((M, K)).astype(dtype)
            w = rng.standard_normal((N, K) if trans else (K, N)).astype(dtype)
            _check(_cells._packed_matmul(a, w, trans), a, w, trans, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("K", KS)
def test_k_blocks_accumulation_and_strided_rows(isa, setting, dtype, K):
    rng = np.random.default_rng(K)
    M, N = 19, 100
    big = rng.standard_normal((M, K + 11)).astype(dtype)
    a = big[:, 3 : 3 + K]  # rows K + 11 apart
    w = rng.standard_normal((K, N)).astype(dtype)
    _check(_cells._packed_matmul(a, w), a, w, False, dtype)
    base = rng.standard_normal((M, N)).astype(dtype)
    out = base.copy()
    assert _cells._packed_matmul(a, w, out=out) is out
    _check(out, a, w, False, dtype, base=base)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("N", [7, 48, 100, 200])
def test_a_row_sums_alike_in_a_tile_of_any_size(isa, dtype, N):
    """Every row of a product gets the same bits whether it runs in a full register tile, in the
    rows left after the tiles (several panels at once) or alone: a sequence's rows may be split
    between threads at any row (lstmcore.engine._cells._row_split)."""
    rng = np.random.default_rng(N)
    M, K = 23, 130
    a = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((K, N)).astype(dtype)
    whole = _cells._packed_matmul(a, w)
    for r0 in range(M):
        for r1 in (r0 + 1, r0 + 2, r0 + 3, M):
            np.testing.assert_array_equal(_cells._packed_matmul(a[r0:r1], w), whole[r0:r1])


def test_threads_split_rows_when_there_are_few_panels(isa):
    """A single panel and many rows: the threads take blocks of rows."""
    before = _cells._set_plan(gemm_par_min=0)
    n = lstmcore.get_num_threads()
    lstmcore.set_num_threads(2)
    try:
        rng = np.random.default_rng(3)
        a = rng.standard_normal((203, 37)).astype(np.float32)
        w = rng.standard_normal((37, 9)).astype(np.float32)
        _check(_cells._packed_matmul(a, w), a, w, False, np.float32)
    finally:
        lstmcore.set_num_threads(n)
        _cells._set_plan(**before)


def test_non_finite_values_pass_through(isa):
    a = np.ones((9, 20), np.float32)
    a[4, 7] = np.nan
    a[2, 3] = np.inf
    w = np.ones((20, 50), np.float32)
    out = _cells._packed_matmul(a, w)
    assert np.isnan(out[4]).all() and np.isposinf(out[2]).all()
    assert np.isfinite(np.delete(out, [2, 4], axis=0)).all()


def test_bad_input_is_refused():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="float32 or both float64"):
        _cells._packed_matmul(a, np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"w must be \(4, 5\)"):
        _cells._packed_matmul(a, np.ones((5, 5), np.float32))
    with pytest.raises(ValueError, match="contiguous rows"):
        _cells._packed_matmul(np.ones((3, 8), np.float32)[:, ::2], np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match="out must be"):
        _cells._packed_matmul(a, np.ones((4, 5), np.float32), out=np.ones((3, 4), np.float32))


def test_plan_settings_are_checked_and_restored():
    before = _cells._set_plan()
    with pytest.raises(ValueError, match="recurrent must be one of"):
        _cells._set_plan(recurrent="fast")
    with pytest.raises(ValueError, match="l1d must be"):
        _cells._set_plan(l1d=0)
    assert _cells._set_plan() == before


@pytest.mark.parametrize("value", ["packed", "blas", "auto"])
def test_the_environment_picks_the_plan(monkeypatch, value):
    monkeypatch.setenv("LSTMCORE_RECURRENT_PRODUCT", value)
    assert _cells._plan_from_env() == _cells._PLANS[value]
    monkeypatch.setenv("LSTMCORE_RECURRENT_PRODUCT", "quick")
    with pytest.raises(ValueError, match="LSTMCORE_RECURRENT_PRODUCT must be one of"):
        _cells._plan_from_env()
