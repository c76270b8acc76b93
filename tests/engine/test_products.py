"""engine._products: the layers' matrix products through SciPy's BLAS (the library lstmcore loads
with a short spin for its idle workers), np.matmul's results and errors for every operand."""

import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest
from helpers import DTYPES, assert_close

import lstmcore
from lstmcore.engine import _products

compiled = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")


def _operands(rng, dtype):
    """(name, a, b): every stored layout the layers pass, and some they do not."""
    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((5, 3)).astype(dtype)
    big = rng.standard_normal((9, 8)).astype(dtype)
    return [
        ("row-major", a, b),
        ("a transposed", np.ascontiguousarray(a.T).T, b),
        ("b transposed", a, np.ascontiguousarray(b.T).T),
        ("both transposed", np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T),
        ("rows of a bigger array", big[1:8, 2:7], big[:5, 5:8]),
        ("columns of a bigger array", big[1:6, 2:9].T, big[:5, :3]),
        ("every other row", big[::2, :5], b),
        ("3-D a", rng.standard_normal((2, 4, 5)).astype(dtype), b),
        ("one row", a[:1], b),
        ("one column", a, b[:, :1]),
        ("k = 1", a[:, :1], b[:1]),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_is_numpys_through_blas(rng, dtype, monkeypatch):
    """Each layout the layers pass goes to BLAS (np.matmul is never called) and gives np.matmul's
    product; into ``out`` too."""
    cases = [(name, a, b, np.matmul(a, b)) for name, a, b in _operands(rng, dtype)]
    if lstmcore.backend == "compiled":

        def refuse(*args, **kwargs):
            raise AssertionError("np.matmul called")

        monkeypatch.setattr(np, "matmul", refuse)
    for name, a, b, expected in cases:
        got = _products.matmul(a, b)
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        assert_close(got, expected, dtype, name=name)
        out = np.full(expected.shape, np.nan, dtype=dtype)
        assert _products.matmul(a, b, out=out) is out
        assert_close(out, expected, dtype, name=f"{name}, out")


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_falls_back_to_numpy_where_blas_cannot(rng, dtype):
    """Operands BLAS cannot take go to np.matmul: the same results, and np.matmul's errors."""
    a = rng.standard_normal((6, 4)).astype(dtype)
    b = rng.standard_normal((4, 3)).astype(dtype)
    wide = rng.standard_normal((6, 8)).astype(dtype)
    other = np.float32 if dtype == np.float64 else np.float64
    cases = [
        (wide[:, ::2], b),  # elements two apart in both directions: no layout BLAS reads
        (a, b.astype(other)),  # mixed dtypes (np.matmul promotes)
        (a.astype(np.int64), b.astype(np.int64)),
        (a[:, :0], b[:0]),  # k = 0: zeros
        (a[:0], b),  # no rows
        (rng.standard_normal((2, 6, 4)).astype(dtype)[:, ::2], b),  # 3-D, not contiguous
        (a, rng.standard_normal((2, 4, 3)).astype(dtype)),  # batched b
        (a[0], b),  # 1-D a
    ]
    for x, y in cases:
        expected = np.matmul(x, y)
        got = _products.matmul(x, y)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # an out that overlaps an operand: np.matmul's own handling of the overlap
    sq = rng.standard_normal((4, 4)).astype(dtype)
    expected = np.matmul(sq, sq)
    got = _products.matmul(sq, sq, out=sq)
    assert got is sq
    np.testing.assert_allclose(sq, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="matmul"):
        _products.matmul(a, a)  # (6, 4) @ (6, 4): np.matmul's error
    with pytest.raises(ValueError):
        _products.matmul(a, b, out=np.empty((6, 4), dtype=dtype))  # out of the wrong shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_groups_is_numpys_batch(rng, dtype):
    """matmul_groups (Conv1D's groups): np.matmul over the leading axis, views included."""
    a = rng.standard_normal((3, 7, 5)).astype(dtype)
    b = rng.standard_normal((3, 5, 4)).astype(dtype)
    for x, y in ((a, b), (a.transpose(0, 2, 1).copy().transpose(0, 2, 1), b), (a, b[:, :, :1])):
        assert_close(_products.matmul_groups(x, y), np.matmul(x, y), dtype, name="groups")
    # anything else: np.matmul's result or error
    assert _products.matmul_groups(a[:0], b[:0]).shape == (0, 7, 4)
    with pytest.raises(ValueError):
        _products.matmul_groups(a, a)


def _window_rows_by_loop(x, stride, left, rows, span, d=1):
    """window_rows's definition, one step at a time: (B*R, span*C) windows, R rows per batch row,
    row b*R + m holding block b's steps m*stride .. m*stride + span - 1 (x's step t at block step
    t + left), its first ``rows`` read only from their own block; with d, the steps d apart only
    (a dilated convolution's taps)."""
    B, T, C = x.shape
    R = max(rows, rows - 1 + -(-span // stride))
    blocks = np.zeros((B, R * stride + span, C), dtype=x.dtype)  # steps past a block: zeros here
    for t in range(T):
        if 0 <= t + left < (rows - 1) * stride + span:
            blocks[:, t + left] = x[:, t]
    win = np.stack([blocks[:, m * stride : m * stride + span : d].reshape(B, -1) for m in range(R)], axis=1)
    return win, R


WINDOW_CASES = [  # (B, T, C, stride, left, rows, span, d): k = (span - 1) / d + 1 taps
    (3, 9, 2, 1, 0, 7, 3, 1),
    (2, 10, 3, 2, 3, 5, 7, 1),  # a Conv1D's "same" padding, strides 2
    (4, 5, 1, 3, 0, 2, 2, 1),  # windows shorter than their stride: steps never read
    (2, 8, 5, 1, -2, 6, 3, 1),  # the first steps dropped (a phase's shift)
    (1, 4, 2, 2, 9, 3, 4, 1),  # left past the block: zeros only
    (3, 1, 4, 1, 2, 4, 5, 1),
    (5, 12, 16, 1, 3, 12, 7, 1),  # whole vectors of columns and rows over several tiles
    (3, 11, 3, 1, 4, 11, 5, 2),  # dilated: 3 taps 2 steps apart ("causal")
    (2, 9, 16, 1, 0, 3, 7, 3),  # 3 taps 3 steps apart, no padding
    (4, 6, 2, 1, 1, 6, 5, 4),  # 2 taps
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_window_products_are_the_products_of_the_gathered_windows(rng, dtype):
    """window_rows lays a batch out so that overlapping rows of one buffer are a convolution's
    windows: window_matmul and window_matmul_tn give the products of the gathered windows, their
    rows past each block's ``rows`` included (computed and dropped by the layers)."""
    for B, T, C, stride, left, rows, span, d in WINDOW_CASES:
        x = rng.standard_normal((B, T, C)).astype(dtype)
        buf, R = _products.window_rows(x, stride, left, rows, span)
        win, R_want = _window_rows_by_loop(x, stride, left, rows, span, d)
        assert R == R_want and buf.dtype == dtype and buf.ndim == 1
        name = f"{B, T, C, stride, left, rows, span, d}"
        k = (span - 1) // d + 1
        taps = {"taps": k, "gap": d * C}
        w = rng.standard_normal((k * C, 5)).astype(dtype)
        got = _products.window_matmul(buf, B * R, stride * C, w, **taps).reshape(B, R, 5)
        # a block's kept rows read their own block only; the dropped rows may read the next one's
        assert_close(got[:, :rows], np.matmul(win, w)[:, :rows], dtype, name=name)
        dz = rng.standard_normal((B, R, 4)).astype(dtype)
        dz[:, rows:] = 0  # the layers zero the dropped rows' gradients
        out = np.full((k * C, 4), np.nan, dtype=dtype)
        assert _products.window_matmul_tn(buf, B * R, stride * C, dz.reshape(-1, 4), out, **taps) is out
        want = np.einsum("brk,brn->kn", win[:, :rows], dz[:, :rows])
        assert_close(out, want, dtype, name=name)


@compiled
def test_window_products_give_the_same_bits_on_any_thread_count(rng):
    """A row's sums do not depend on the rows the threads take (the packed kernels' tiles)."""
    x = rng.standard_normal((16, 40, 12)).astype(np.float32)
    buf, R = _products.window_rows(x, 2, 3, 20, 7)
    w = rng.standard_normal((7 * 12, 24)).astype(np.float32)
    d = rng.standard_normal((16 * R, 24)).astype(np.float32)
    threads = lstmcore.get_num_threads()
    got = []
    try:
        for n in (1, 2, 3):
            lstmcore.set_num_threads(n)
            tn = _products.window_matmul_tn(buf, 16 * R, 24, d, np.empty((84, 24), np.float32))
            got.append((_products.window_matmul(buf, 16 * R, 24, w), tn))
    finally:
        lstmcore.set_num_threads(threads)
    for a, b in got[1:]:
        np.testing.assert_array_equal(a, got[0][0])
        np.testing.assert_array_equal(b, got[0][1])


def test_window_products_refuse_windows_past_the_buffer():
    buf = np.zeros(20, np.float32)
    w = np.ones((6, 2), np.float32)
    assert _products.window_matmul(buf, 8, 2, w).shape == (8, 2)  # (8 - 1) * 2 + 6 = 20
    with pytest.raises(ValueError, match="need 22 numbers, buf holds 20"):
        _products.window_matmul(buf, 9, 2, w)
    with pytest.raises(ValueError, match="from 4 need 21 numbers"):  # the second of 2 taps
        _products.window_matmul(buf, 8, 2, w, taps=2, gap=4)
    with pytest.raises(ValueError, match="cannot be 4 taps"):
        _products.window_matmul(buf, 8, 2, w, taps=4, gap=1)
    with pytest.raises(ValueError, match="contiguous 1-D"):
        _products.window_matmul(buf.reshape(4, 5), 2, 2, w)
    with pytest.raises(ValueError, match="contiguous 1-D"):
        _products.window_matmul(buf[::2], 2, 2, w)
    with pytest.raises(ValueError, match="buf's float dtype"):
        _products.window_matmul(buf, 8, 2, w.astype(np.float64))
    with pytest.raises(ValueError, match="expected d"):
        _products.window_matmul_tn(buf, 8, 2, np.ones((7, 2), np.float32), np.empty((6, 2), np.float32))
    with pytest.raises(ValueError, match="need 24 numbers"):
        _products.window_matmul_tn(buf, 8, 2, np.ones((8, 2), np.float32), np.empty((10, 2), np.float32))
    with pytest.raises(ValueError, match=">= 1"):
        _products.window_rows(np.zeros((2, 3, 1)), 0, 0, 2, 2)


def _batched_operands(rng, dtype):
    """(name, a, b) for matmul_batched: an attention layer's views of (B, T, heads, width)."""

    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    q, k, w = r(3, 7, 2, 5), r(3, 6, 2, 5), r(3, 2, 7, 6)  # (B, T, N, kd), (B, S, N, kd), (B, N, T, S)
    heads = q.transpose(0, 2, 1, 3)
    return [
        ("scores: q @ k.T per head", heads, k.transpose(0, 2, 3, 1)),
        ("outputs: w @ v per head", w, k.transpose(0, 2, 1, 3)),
        ("w.T @ v (a's columns contiguous)", w.transpose(0, 1, 3, 2), heads),
        ("w.T @ k.T (a's and b's columns)", w.transpose(0, 1, 3, 2), r(3, 2, 5, 7).transpose(0, 1, 3, 2)),
        ("a of neither layout (copied)", r(3, 2, 7, 12)[..., ::2], k.transpose(0, 2, 1, 3)),
        ("contiguous 3-D", r(4, 3, 9), r(4, 9, 17)),
        ("b of neither layout (copied)", heads, r(3, 2, 10, 6)[:, :, ::2]),
        ("one row, one column", q[:, :1].transpose(0, 2, 1, 3), k[:, :1].transpose(0, 2, 3, 1)),
        ("k = 1", q[..., :1].transpose(0, 2, 1, 3), k[..., :1].transpose(0, 2, 3, 1)),
        ("wide products, many tiles", r(2, 33, 40), r(2, 40, 50)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_batched_is_numpys(rng, dtype):
    """matmul_batched gives np.matmul's products for every layout an attention layer passes."""
    for name, a, b in _batched_operands(rng, dtype):
        expected = np.matmul(a, b)
        got = _products.matmul_batched(a, b)
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        assert_close(got, expected, dtype, name=name)
    # anything else: np.matmul's result or error
    ints = np.ones((2, 3, 4), np.int64)
    got = _products.matmul_batched(ints, ints.transpose(0, 2, 1))
    np.testing.assert_array_equal(got, np.full((2, 3, 3), 4))
    with pytest.raises(ValueError):
        _products.matmul_batched(np.ones((2, 3, 4), dtype), np.ones((2, 5, 4), dtype))


@compiled
def test_matmul_batched_gives_the_same_bits_on_any_thread_count(rng):
    """Each product runs whole on one thread: its bits do not depend on how many there are."""
    a = rng.standard_normal((8, 4, 37, 24)).astype(np.float32)
    b = rng.standard_normal((8, 4, 24, 41)).astype(np.float32)
    threads = lstmcore.get_num_threads()
    got = []
    try:
        for n in (1, 2, 3):
            lstmcore.set_num_threads(n)
            got.append(_products.matmul_batched(a, b))
    finally:
        lstmcore.set_num_threads(threads)
    for g in got[1:]:
        np.testing.assert_array_equal(g, got[0])


@compiled
def test_batched_matmul_refuses_what_it_cannot_read():
    from lstmcore.engine import _cells

    a, b = np.ones((1, 2, 3, 4), np.float32), np.ones((1, 2, 4, 5), np.float32)
    out = np.empty((1, 2, 3, 5), np.float32)
    np.testing.assert_array_equal(_cells._batched_matmul(a, b, out), np.full((1, 2, 3, 5), 4))
    with pytest.raises(ValueError, match="expected a"):
        _cells._batched_matmul(a, b, np.empty((1, 2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="all float32 or all float64"):
        _cells._batched_matmul(a, b.astype(np.float64), out)
    with pytest.raises(ValueError, match="4-D"):
        _cells._batched_matmul(a[0], b[0], out[0])
    at = a.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)  # a by columns: with b's rows
    np.testing.assert_array_equal(_cells._batched_matmul(at, b, out), np.full((1, 2, 3, 5), 4))
    bt = b.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)  # both by columns
    np.testing.assert_array_equal(_cells._batched_matmul(at, bt, out), np.full((1, 2, 3, 5), 4))
    with pytest.raises(ValueError, match="contiguous"):
        _cells._batched_matmul(np.ones((1, 2, 6, 8), np.float32)[:, :, ::2, ::2], b, out)
    with pytest.raises(ValueError, match="contiguous"):
        _cells._batched_matmul(a, np.ones((1, 2, 8, 10), np.float32)[:, :, ::2, ::2], out)
    with pytest.raises(ValueError, match="apart from a and b"):
        big = np.ones((1, 2, 3, 5), np.float32)
        _cells._batched_matmul(big[..., :4], np.ones((1, 2, 4, 5), np.float32), big)
    with pytest.raises(ValueError, match="whole elements"):
        _cells._batched_matmul(a, b, np.lib.stride_tricks.as_strided(out, strides=(60, 30, 20, 4)))


def _softmax_formula(s):
    s = s.astype(np.float64)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_is_the_formula(rng, dtype):
    """softmax_rows and its backward against NumPy's formula in float64: rows of every length
    around the vectors' lanes, large and tiny spreads, Keras's masked scores (-1e9), NaN and inf
    rows as the formula gives them."""
    for shape in [(1,), (3, 1), (2, 7), (5, 8), (4, 9), (3, 17), (2, 33), (2, 3, 100), (64, 4, 5, 100)]:
        s = (rng.standard_normal(shape) * rng.choice([0.1, 3.0, 40.0])).astype(dtype)
        y = _products.softmax_rows(s)
        assert y.shape == s.shape and y.dtype == dtype
        assert_close(y, _softmax_formula(s), dtype, name=str(shape))
        dy = rng.standard_normal(shape).astype(dtype)
        want = y.astype(np.float64) * (dy - (dy * y.astype(np.float64)).sum(axis=-1, keepdims=True))
        assert_close(_products.softmax_rows_backward(y, dy), want, dtype, name=f"backward {shape}")
    masked = rng.standard_normal((3, 12)).astype(dtype)
    masked[:, ::3] = -1e9
    masked[2] = -1e9  # a row with no key left: uniform, as the formula
    y = _products.softmax_rows(masked)
    assert_close(y, _softmax_formula(masked), dtype, name="masked")
    assert (y[:2, ::3] < 1e-30).all()
    odd = np.array([[0.0, np.nan, 1.0], [0.0, np.inf, 1.0], [-np.inf, 0.0, 1.0]], dtype=dtype)
    with np.errstate(invalid="ignore"):  # inf - inf: NumPy warns, the kernel does not
        want, got = _softmax_formula(odd), _products.softmax_rows(odd)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    # non-contiguous input
    wide = rng.standard_normal((4, 20)).astype(dtype)
    assert_close(_products.softmax_rows(wide[:, ::2]), _softmax_formula(wide[:, ::2]), dtype, name="strided")


@compiled
def test_softmax_rows_gives_the_same_bits_on_any_thread_count(rng):
    s = rng.standard_normal((64, 4, 30, 100)).astype(np.float32)
    dy = rng.standard_normal(s.shape).astype(np.float32)
    threads = lstmcore.get_num_threads()
    got = []
    try:
        for n in (1, 2, 3):
            lstmcore.set_num_threads(n)
            y = _products.softmax_rows(s)
            got.append((y, _products.softmax_rows_backward(y, dy)))
    finally:
        lstmcore.set_num_threads(threads)
    for y, d in got[1:]:
        np.testing.assert_array_equal(y, got[0][0])
        np.testing.assert_array_equal(d, got[0][1])


@compiled
def test_softmax_kernels_refuse_junk():
    from lstmcore.engine import _cells

    with pytest.raises(TypeError, match="float32 or float64"):
        _cells._softmax_rows(np.ones((2, 3), np.int64))
    with pytest.raises(TypeError, match="float32 or float64"):
        _cells._softmax_rows([[1.0, 2.0]])
    with pytest.raises(TypeError, match="at least one axis"):
        _cells._softmax_rows(np.float32(1.0))
    with pytest.raises(ValueError, match="one shape and dtype"):
        _cells._softmax_rows_backward(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    assert _cells._softmax_rows(np.ones((0, 3), np.float32)).shape == (0, 3)
    assert _cells._softmax_rows(np.ones((3, 0), np.float32)).shape == (3, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_masks_keep_the_rate_and_are_the_same_on_both_backends(dtype, monkeypatch):
    """dropout_mask: 0 or 1 / (1 - rate), kept at 1 - rate within 5 standard deviations, rows
    and neighbours uncorrelated, the same mask for the same seed and another for another; the
    reference backend's NumPy hash gives the compiled kernel's mask bit for bit."""
    n = 1 << 20
    for rate in (0.1, 0.5, 0.9):
        m = _products.dropout_mask((1024, 1024), rate, dtype, seed=12345)
        scale = np.dtype(dtype).type(1) / np.dtype(dtype).type(1 - rate)
        assert m.shape == (1024, 1024) and m.dtype == dtype
        assert set(np.unique(m)) <= {0, scale}
        kept = m != 0
        assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
        rows = kept.mean(axis=1)  # each row's share, as a binomial's
        assert rows.std() < 1.5 * np.sqrt(rate * (1 - rate) / 1024)
        a, b = kept.ravel()[:-1].astype(float), kept.ravel()[1:].astype(float)
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    m1 = _products.dropout_mask((7, 300), 0.3, dtype, seed=1)
    np.testing.assert_array_equal(m1, _products.dropout_mask((7, 300), 0.3, dtype, seed=1))
    assert (m1 != _products.dropout_mask((7, 300), 0.3, dtype, seed=2)).mean() > 0.3
    assert (_products.dropout_mask((5, 3), 0.0, dtype, seed=3) == 1).all()
    assert _products.dropout_mask((0, 3), 0.5, dtype, seed=3).shape == (0, 3)
    cases = (((7, 300), 0.3, 1), ((3, 4097, 2), 0.5, 2**63 - 1), ((9,), 0.9, 0))
    masks = [_products.dropout_mask(shape, rate, dtype, seed) for shape, rate, seed in cases]
    monkeypatch.setattr(_products, "_engine", lambda: False)  # the reference backend's NumPy hash
    for (shape, rate, seed), m in zip(cases, masks, strict=True):
        np.testing.assert_array_equal(_products.dropout_mask(shape, rate, dtype, seed), m)


@compiled
def test_dropout_masks_match_the_reference_bits_on_any_thread_count(monkeypatch):
    threads = lstmcore.get_num_threads()
    got = []
    try:
        for n in (1, 2, 3):
            lstmcore.set_num_threads(n)
            got.append(_products.dropout_mask((3, 40000), 0.25, np.float32, seed=99))
    finally:
        lstmcore.set_num_threads(threads)
    monkeypatch.setattr(_products, "_engine", lambda: False)
    want = _products.dropout_mask((3, 40000), 0.25, np.float32, seed=99)
    for g in got:
        np.testing.assert_array_equal(g, want)


@compiled
def test_the_dropout_kernel_refuses_junk():
    from lstmcore.engine import _cells

    with pytest.raises(TypeError, match="float32 or float64"):
        _cells._dropout_mask(4, 1, 2, 1.0, np.int32)
    with pytest.raises(ValueError, match="64-bit seed"):
        _cells._dropout_mask(4, -1, 2, 1.0, np.float32)
    with pytest.raises(ValueError, match="32-bit threshold"):
        _cells._dropout_mask(4, 1, 2**32, 1.0, np.float32)


@compiled
def test_blas_matmul_refuses_shapes_that_do_not_fit():
    from lstmcore.engine import _blas

    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="shapes do not fit"):
        _blas._matmul(a, b, np.empty((2, 5), np.float32))
    with pytest.raises(ValueError, match="shapes do not fit"):
        _blas._matmul(a, a, np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match="shapes do not fit"):
        _blas._matmul(a[:, :0], b[:0], np.empty((2, 4), np.float32))
    assert _blas._matmul(np.ones((2, 6), np.float32)[:, ::2], b, np.empty((2, 4), np.float32)) is False


@compiled
def test_the_layers_products_skip_numpys_blas_when_numpy_came_first():
    """A program that imports NumPy before lstmcore: Dense, TimeDistributed(Dense), Conv1D and an
    ONNX model's MatMul run their products through SciPy's BLAS, not NumPy's (whose idle workers
    would spin for 75 ms after each product of several threads, on the cores the engine's threads
    need next): np.matmul is never called in a fit and a predict."""
    code = """
import numpy as np
import lstmcore
from lstmcore.layers import LSTM, Conv1D, Dense, TimeDistributed
from lstmcore.models import Sequential

def refuse(*args, **kwargs):
    raise AssertionError("np.matmul called")

np.matmul = refuse
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 6, 3)).astype(np.float32)
y = rng.standard_normal((8, 1)).astype(np.float32)
model = Sequential([Conv1D(4, 2, input_shape=(6, 3)), LSTM(5, return_sequences=True),
                    TimeDistributed(Dense(7, activation="relu")), LSTM(3), Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, batch_size=4, verbose=0)
assert model.predict(x, verbose=0).shape == (8, 1)
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


_SRC = Path(lstmcore.__file__).resolve().parent
_PRODUCT_NAMES = {"matmul", "dot", "tensordot", "inner", "vdot"}


def _numpy_products(path: Path) -> list:
    """(line, what) of each product in ``path``'s code that goes to NumPy's BLAS: the ``@``
    operator (not a decorator) and np.matmul / np.dot / np.tensordot / np.inner / np.vdot."""
    found, prev = [], []
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
            ):
                if tok.type == tokenize.NEWLINE:
                    prev = []
                continue
            if tok.type == tokenize.OP and tok.string == "@" and prev:  # (a decorator starts its line)
                found.append((tok.start[0], "@"))
            if (
                tok.type == tokenize.NAME
                and tok.string in _PRODUCT_NAMES
                and [t.string for t in prev[-2:]] == ["np", "."]
            ):
                found.append((tok.start[0], f"np.{tok.string}"))
            prev.append(tok)
    return found


def test_the_layers_and_the_onnx_runtime_use_no_numpy_product():
    """The products of the layers, the models' loops and an imported ONNX model's graph go
    through engine._products (np.matmul is left only where it falls back there): a source rule,
    since the ``@`` operator cannot be intercepted at run time."""
    files = sorted((_SRC / "layers").glob("*.py")) + [
        _SRC / "io" / "onnx_import.py", _SRC / "model.py", _SRC / "models.py", _SRC / "losses.py",
        _SRC / "metrics.py", _SRC / "activations.py",
    ]  # fmt: skip
    assert all(p.exists() for p in files)
    found = {p.relative_to(_SRC).as_posix(): _numpy_products(p) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_source_rule_sees_products(tmp_path):
    p = tmp_path / "sample.py"
    p.write_text(
        "import numpy as np\n\n@decorator\ndef f(a, b):\n    # a @ b in a comment\n"
        "    c = a @ b\n    d = np.dot(a, b) + np.matmul(a, b)\n    return '@' + np.sum(c)\n"
    )
    assert _numpy_products(p) == [(6, "@"), (7, "np.dot"), (7, "np.matmul")]


@compiled
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_spinning_blas_leaves_the_threaded_products_to_lstmcores_kernels(rng, dtype, monkeypatch):
    """With SciPy's OpenBLAS counted as spinning (_lstm._set_blas_spins) and several threads, a
    product OpenBLAS would run on several threads goes to lstmcore's packed kernels (Dense's three
    layouts), with np.matmul's results; on one thread, or small, it stays on BLAS."""
    from lstmcore.engine import _blas, _lstm

    x = rng.standard_normal((96, 80)).astype(dtype)  # 96 x 80 x 64 > 4 x 65536: threaded in OpenBLAS
    k = rng.standard_normal((80, 64)).astype(dtype)
    dz = rng.standard_normal((96, 64)).astype(dtype)
    layouts = [(x, k), (np.ascontiguousarray(x.T).T, dz[:80]), (dz, k.T)]  # forward, dkernel, dx
    calls = []
    real = _blas._matmul

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(_blas, "_matmul", counted)
    before, threads = _lstm._set_blas_spins(True), lstmcore.get_num_threads()
    try:
        lstmcore.set_num_threads(2)
        for a, b in layouts:
            assert_close(_products.matmul(a, b), np.matmul(a, b), dtype, name="spinning")
        assert calls == []
        out = np.empty((96, 64), dtype)
        assert_close(_products.matmul_groups(x[None], k[None]), np.matmul(x, k)[None], dtype, name="groups")
        assert _products.matmul(x, k, out=out) is out and calls == []
        _products.matmul(x[:4], k)  # 4 x 80 x 64: one thread in OpenBLAS, no spin after it
        lstmcore.set_num_threads(1)
        _products.matmul(x, k)
        assert len(calls) == 2
    finally:
        _lstm._set_blas_spins(before)
        lstmcore.set_num_threads(threads)


@compiled
def test_a_spinning_blas_takes_odd_layouts_to_blas_or_numpy(rng):
    """Operands the packed kernels cannot read (rows backwards, a broadcast row) with SciPy's
    OpenBLAS counted as spinning: BLAS or np.matmul, the same product."""
    from lstmcore.engine import _lstm

    a = rng.standard_normal((96, 80))
    b = rng.standard_normal((80, 64))
    before, threads = _lstm._set_blas_spins(True), lstmcore.get_num_threads()
    try:
        lstmcore.set_num_threads(2)
        for x, y in ((a[::-1], b), (a, b[::-1]), (np.broadcast_to(a[:1], a.shape), b), (a[:, ::-1], b)):
            np.testing.assert_allclose(_products.matmul(x, y), np.matmul(x, y), rtol=1e-10, atol=1e-10)
    finally:
        _lstm._set_blas_spins(before)
        lstmcore.set_num_threads(threads)
