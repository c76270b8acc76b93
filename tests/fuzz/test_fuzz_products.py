"""Fuzz of the layers' matrix products (``lstmcore.engine._products``: ``matmul`` and
``matmul_groups``, through SciPy's BLAS, lstmcore's packed kernels or np.matmul): any dtypes,
shapes, stored layouts (views of bigger arrays, steps, rows or columns backwards, broadcast rows,
read-only operands), any ``out`` (fresh, strided, of another dtype, read-only, overlapping an
operand), on one thread and with SciPy's OpenBLAS counted as spinning on two. The rule: the same
result, shape, dtype and exception type as np.matmul, whatever comes in, and no crash."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmcore
from lstmcore.engine import _products

compiled = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")

_DTYPES = [np.float32, np.float64, np.float16, np.int32, np.complex64]
_LAYOUTS = ["c", "transposed", "view", "backwards", "broadcast", "readonly"]
_OUTS = ["strided", "other dtype", "readonly", "a", "b", "wrong shape"]


def _stored(rng, shape, dtype, layout):
    """An array of ``shape`` and ``dtype`` stored as ``layout`` says (values standard normal)."""
    dtype = np.dtype(dtype)

    def values(s):
        v = rng.standard_normal(s) * 2
        return (v.round() if dtype.kind == "i" else v).astype(dtype)

    if layout == "transposed" and len(shape) >= 2:
        return np.ascontiguousarray(values(shape).swapaxes(-1, -2)).swapaxes(-1, -2)
    if layout == "view" and len(shape) >= 2:  # rows and columns of a bigger array, every other row
        big = values((*shape[:-2], 2 * shape[-2] + 3, shape[-1] + 5))
        return big[..., 1 : 1 + 2 * shape[-2] : 2, 2 : 2 + shape[-1]]
    if layout == "backwards" and len(shape) >= 2:
        a = values(shape)
        return a[..., ::-1, :] if rng.random() < 0.5 else a[..., :, ::-1]
    if layout == "broadcast" and len(shape) >= 2:  # one row seen as every row (stride 0)
        return np.broadcast_to(values((*shape[:-2], 1, shape[-1])), shape)
    a = values(shape)
    if layout == "readonly":
        a.flags.writeable = False
    return a


def _out(rng, kind, a, b, shape, dtype):
    if kind is None:
        return None
    if kind == "a":
        return a
    if kind == "b":
        return b
    if kind == "wrong shape":
        return np.zeros((*shape[:-1], shape[-1] + 1), dtype)
    if kind == "other dtype":
        return np.zeros(shape, np.float32 if np.dtype(dtype) == np.float64 else np.float64)
    if kind == "strided":
        return np.zeros((*shape[:-1], 2 * shape[-1]), dtype)[..., ::2]
    out = np.full(shape, np.nan if np.dtype(dtype).kind in "fc" else 7, dtype)
    if kind == "readonly":
        out.flags.writeable = False
    return out


def _tolerance(dtype, k):
    if np.dtype(dtype).kind not in "fc":
        return 0.0, 0.0
    eps = np.finfo(dtype).eps
    return 8 * eps, 8 * eps * (k + 1) * 4


def _spinning(on: bool):
    """A context in which SciPy's OpenBLAS counts as spinning on two threads (the packed kernels
    take threaded products), or nothing changes."""
    from lstmcore.engine import _lstm

    class Ctx:
        def __enter__(self):
            self.before = _lstm._set_blas_spins(True) if on else None
            self.threads = lstmcore.get_num_threads()
            if on:
                lstmcore.set_num_threads(2)

        def __exit__(self, *exc):
            if on:
                _lstm._set_blas_spins(self.before)
                lstmcore.set_num_threads(self.threads)

    return Ctx()


def _same_as_numpy(call, expected_call, k, operands):
    """Run both; the same exception type, or the same shape, dtype and values (within the
    rounding of the operands' dtype: a float64 out of float32 operands may have been summed in
    either)."""
    try:
        want = expected_call()
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e)):
            call()
        return None
    got = call()
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    rtol, atol = _tolerance(np.result_type(*operands) if got.dtype.kind == "f" else got.dtype, k)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return got


# Mostly what the layers pass (float32 or float64 operands of one dtype, row-major or transposed,
# no out or a fresh one), sometimes anything else; sizes up to past OpenBLAS's threading threshold
sizes = st.one_of(st.integers(0, 9), st.integers(1, 90), st.sampled_from([64, 80, 96]))
same_float = st.sampled_from([(np.float32, np.float32), (np.float64, np.float64)])
dtype_pairs = st.one_of(same_float, same_float, same_float, st.tuples(*[st.sampled_from(_DTYPES)] * 2))
usual_layout = st.sampled_from(["c", "c", "transposed"])
layout_pairs = st.tuples(
    st.one_of(usual_layout, st.sampled_from(_LAYOUTS)), st.one_of(usual_layout, st.sampled_from(_LAYOUTS))
)
out_kinds = st.one_of(st.sampled_from([None, None, "fresh"]), st.sampled_from(_OUTS))


@compiled
@settings(max_examples=3 * settings().max_examples)  # cheap: three times the profile's count
@given(
    seed=st.integers(0, 2**32 - 1),
    m=sizes,
    k=sizes,
    n=sizes,
    batch=st.sampled_from([(), (), (2,), (3, 2)]),
    dtypes=dtype_pairs,
    layouts=layout_pairs,
    out_kind=out_kinds,
    spinning=st.booleans(),
)
def test_matmul_is_numpys(seed, m, k, n, batch, dtypes, layouts, out_kind, spinning):
    rng = np.random.default_rng(seed)
    a = _stored(rng, (*batch, m, k), dtypes[0], layouts[0])
    b = _stored(rng, (k, n), dtypes[1], layouts[1])
    out = _out(rng, out_kind, a, b, (*batch, m, n), np.result_type(a, b))
    # np.matmul on replicas, an out that is an operand included (the call then overwrites it)
    a1, b1 = _replica(a), _replica(b)
    out1 = a1 if out_kind == "a" else b1 if out_kind == "b" else None if out is None else _replica(out)
    a0, b0 = a.copy(), b.copy()
    with _spinning(spinning):
        got = _same_as_numpy(
            lambda: _products.matmul(a, b, out=out), lambda: np.matmul(a1, b1, out=out1), k, (a, b)
        )
    if got is not None and out is not None:
        assert got is out
    if out_kind not in ("a", "b"):  # the operands are only read
        np.testing.assert_array_equal(a, a0)
        np.testing.assert_array_equal(b, b0)


def _replica(x):
    """A copy of x, read-only where x is."""
    y = x.copy()
    y.flags.writeable = x.flags.writeable
    return y


@compiled
@given(
    seed=st.integers(0, 2**32 - 1),
    g=st.integers(0, 4),
    m=sizes,
    k=sizes,
    n=sizes,
    dtypes=dtype_pairs,
    layouts=layout_pairs,
    b_groups=st.sampled_from(["same", "same", "one", "other"]),
    spinning=st.booleans(),
)
def test_matmul_groups_is_numpys(seed, g, m, k, n, dtypes, layouts, b_groups, spinning):
    rng = np.random.default_rng(seed)
    a = _stored(rng, (g, m, k), dtypes[0], layouts[0])
    gb = {"same": g, "one": 1, "other": g + 1}[b_groups]
    b = _stored(rng, (gb, k, n), dtypes[1], layouts[1])
    a0, b0 = a.copy(), b.copy()
    with _spinning(spinning):
        _same_as_numpy(lambda: _products.matmul_groups(a, b), lambda: np.matmul(a0, b0), k, (a, b))
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@compiled
@pytest.mark.parametrize("spinning", [False, True])
def test_products_from_many_threads(spinning):
    """Four Python threads computing products at once (BLAS's, the packed kernels' with the
    spinning rule) each get their own right results."""
    rng = np.random.default_rng(0)
    pairs = [
        (rng.standard_normal((96, 80)).astype(dt), rng.standard_normal((80, 64)).astype(dt))
        for dt in (np.float32, np.float64, np.float32, np.float64)
    ]
    wants = [np.matmul(a, b) for a, b in pairs]
    errors = []

    def work(i):
        a, b = pairs[i]
        try:
            for _ in range(30):
                np.testing.assert_allclose(_products.matmul(a, b), wants[i], rtol=1e-4, atol=1e-4)
                np.testing.assert_allclose(
                    _products.matmul_groups(a[None], b[None])[0], wants[i], rtol=1e-4, atol=1e-4
                )
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    with _spinning(spinning):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[0]
