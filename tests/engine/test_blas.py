"""The BLAS wrappers against NumPy, over dtype x order x transpose, gemv shapes included."""

import itertools

import numpy as np
import pytest
from helpers import DTYPES, assert_close
from lstmcore.engine._blas import BLAS_Order, BLAS_Trans, _gemm_memview, _gemv_memview

RowMajor, ColMajor = BLAS_Order.RowMajor, BLAS_Order.ColMajor
NoTrans, Trans = BLAS_Trans.NoTrans, BLAS_Trans.Trans

ORDERS = {RowMajor: "C", ColMajor: "F"}
# (m, n, k): the one-row and one-column shapes go through gemv inside _gemm.
GEMM_SHAPES = [(5, 7, 3), (1, 9, 4), (6, 1, 5), (1, 1, 3), (8, 16, 1), (33, 12, 20)]


def _op(a, trans):
    return a.T if trans == Trans else a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [RowMajor, ColMajor])
@pytest.mark.parametrize("ta, tb", list(itertools.product([NoTrans, Trans], repeat=2)))
@pytest.mark.parametrize("m, n, k", GEMM_SHAPES)
def test_gemm(rng, dtype, order, ta, tb, m, n, k):
    f = ORDERS[order]
    A = np.asarray(rng.standard_normal((k, m) if ta == Trans else (m, k)), dtype=dtype, order=f)
    B = np.asarray(rng.standard_normal((n, k) if tb == Trans else (k, n)), dtype=dtype, order=f)
    C = np.asarray(rng.standard_normal((m, n)), dtype=dtype, order=f)
    alpha, beta = 1.5, -0.5
    expected = alpha * _op(A, ta) @ _op(B, tb) + beta * C
    _gemm_memview(order, ta, tb, dtype(alpha), A, B, dtype(beta), C)
    assert_close(C, expected, dtype, name="C")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [NoTrans, Trans])
def test_gemm_strided_rows(rng, dtype, ta):
    # Sub-blocks of larger arrays: the leading dimension is the parent's row length.
    parent = rng.standard_normal((9, 11)).astype(dtype)
    A = parent[1:5, 2:8] if ta == NoTrans else parent[1:7, 2:6]  # op(A) is (4, 6)
    B = rng.standard_normal((6, 3)).astype(dtype)
    C = np.zeros((4, 3), dtype=dtype)
    _gemm_memview(RowMajor, ta, NoTrans, dtype(1), A, B, dtype(0), C)
    assert_close(C, _op(A, ta) @ B, dtype, name="C")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [RowMajor, ColMajor])
@pytest.mark.parametrize("ta", [NoTrans, Trans])
def test_gemv(rng, dtype, order, ta):
    A = np.asarray(rng.standard_normal((7, 4)), dtype=dtype, order=ORDERS[order])
    x = rng.standard_normal(4 if ta == NoTrans else 7).astype(dtype)
    y = rng.standard_normal(7 if ta == NoTrans else 4).astype(dtype)
    expected = 2 * _op(A, ta) @ x + 0.5 * y
    _gemv_memview(order, ta, dtype(2), A, x, dtype(0.5), y)
    assert_close(y, expected, dtype, name="y")


def test_shims_refuse_bad_shapes_and_layouts(rng):
    A = rng.standard_normal((3, 4))
    C = np.zeros((3, 5))
    with pytest.raises(ValueError, match="shapes do not fit"):
        _gemm_memview(RowMajor, NoTrans, NoTrans, 1.0, A, rng.standard_normal((3, 5)), 0.0, C)
    with pytest.raises(ValueError, match="not stored in RowMajor order"):
        A_f = np.asfortranarray(A)
        _gemm_memview(RowMajor, NoTrans, NoTrans, 1.0, A_f, rng.standard_normal((4, 5)), 0.0, C)
    with pytest.raises(ValueError, match="shapes do not fit"):
        _gemv_memview(RowMajor, NoTrans, 1.0, A, np.zeros(3), 0.0, np.zeros(3))
