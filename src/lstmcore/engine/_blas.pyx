"""Fused-type wrappers over ``scipy.linalg.cython_blas`` (float32 -> s*, float64 -> d*).

The row-major rule, stated once: BLAS is column-major, and a C-contiguous (m, n) array read
column-major is its own transpose, (n, m). So the row-major product C = op(A) @ op(B) is asked
of BLAS as C.T = op(B).T @ op(A).T: swap the operands, swap m and n, keep k and the trans flags.
The leading dimension of each array is its row length (its row stride, in elements).
Worked example: z (B, G) = x (B, I) @ w_x (I, G) becomes
    sgemm('n', 'n', m=G, n=B, k=I, 1, w_x, lda=G, x, ldb=I, 0, z, ldc=G)

A product with one output row or column goes to gemv: OpenBLAS's gemm is several times slower
than gemv for those shapes (the streaming step and B = 1 sequences live there).
The ``*_memview`` functions are test shims over the same code.
"""

from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv


cdef void _gemv(BLAS_Order order, BLAS_Trans ta, int m, int n, floating alpha,
                const floating *A, int lda, const floating *x, int incx,
                floating beta, floating *y, int incy) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y, A (m, n) in ``order``."""
    cdef char trans
    if order == RowMajor:
        # A row-major (m, n) is A.T column-major (n, m): flip the trans flag and swap m, n.
        trans = b't' if ta == NoTrans else b'n'
        m, n = n, m
    else:
        trans = <char>ta
    if floating is float:
        sgemv(&trans, &m, &n, &alpha, <float *>A, &lda, <float *>x, &incx, &beta, y, &incy)
    else:
        dgemv(&trans, &m, &n, &alpha, <double *>A, &lda, <double *>x, &incx, &beta, y, &incy)


cdef void _gemm(BLAS_Order order, BLAS_Trans ta, BLAS_Trans tb, int m, int n, int k,
                floating alpha, const floating *A, int lda, const floating *B, int ldb,
                floating beta, floating *C, int ldc) noexcept nogil:
    """C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C, all in ``order``."""
    cdef char transa = <char>ta, transb = <char>tb
    if order == ColMajor:
        # Column-major is the same problem with the roles swapped back; reuse the row-major path.
        _gemm(RowMajor, tb, ta, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc)
        return
    if m == 1:
        # c (n) = op(B).T @ a, a the one row of op(A): contiguous, or a column of A (stride lda)
        if tb == NoTrans:  # B stored (k, n)
            _gemv(RowMajor, Trans, k, n, alpha, B, ldb, A, 1 if ta == NoTrans else lda,
                  beta, C, 1)
        else:  # B stored (n, k)
            _gemv(RowMajor, NoTrans, n, k, alpha, B, ldb, A, 1 if ta == NoTrans else lda,
                  beta, C, 1)
        return
    if n == 1:
        # c (m) = op(A) @ b, b the one column of op(B): a column of B (stride ldb), or contiguous
        if ta == NoTrans:  # A stored (m, k)
            _gemv(RowMajor, NoTrans, m, k, alpha, A, lda, B, ldb if tb == NoTrans else 1,
                  beta, C, ldc)
        else:  # A stored (k, m)
            _gemv(RowMajor, Trans, k, m, alpha, A, lda, B, ldb if tb == NoTrans else 1,
                  beta, C, ldc)
        return
    if floating is float:
        sgemm(&transb, &transa, &n, &m, &k, &alpha, <float *>B, &ldb, <float *>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&transb, &transa, &n, &m, &k, &alpha, <double *>B, &ldb, <double *>A, &lda,
              &beta, C, &ldc)


# The layers' products -------------------------------------------------------------------------

cdef bint _stored(const floating[:, :] a, BLAS_Trans *trans, int *ld) noexcept:
    """How BLAS reads ``a`` (rows x cols, any strides): row-major (NoTrans, ld its row stride) or
    the transpose of a row-major array (Trans, ld that array's row stride); False for neither."""
    cdef Py_ssize_t item = sizeof(floating), rows = a.shape[0], cols = a.shape[1]
    cdef Py_ssize_t s0 = a.strides[0], s1 = a.strides[1], step
    if cols <= 1 or s1 == item:  # rows of contiguous elements, s0 apart
        step = s0 // item if rows > 1 else max(cols, 1)
        if (rows <= 1 or (s0 > 0 and s0 % item == 0)) and max(cols, 1) <= step < 2 ** 31:
            trans[0], ld[0] = NoTrans, <int>step
            return True
    if rows <= 1 or s0 == item:  # columns of contiguous elements, s1 apart: a.T is row-major
        step = s1 // item if cols > 1 else max(rows, 1)
        if (cols <= 1 or (s1 > 0 and s1 % item == 0)) and max(rows, 1) <= step < 2 ** 31:
            trans[0], ld[0] = Trans, <int>step
            return True
    return False


def _matmul(const floating[:, :] a, const floating[:, :] b, floating[:, ::1] out):
    """out (m, n) = a (m, k) @ b (k, n) through SciPy's BLAS, the GIL released; a and b each
    row-major or the transpose of a row-major array, any row stride (a view of rows or columns of
    a bigger array too), out C-contiguous and apart from both (the caller's checks: shapes that
    fit, each dimension from 1 to 2^31 - 1). Returns False, out untouched, where a or b is stored
    any other way."""
    cdef BLAS_Trans ta, tb
    cdef int lda, ldb
    cdef int m = a.shape[0], k = a.shape[1], n = b.shape[1]
    if b.shape[0] != k or out.shape[0] != m or out.shape[1] != n or m < 1 or n < 1 or k < 1:
        raise ValueError(f"_matmul: shapes do not fit: a {(a.shape[0], a.shape[1])}, "
                         f"b {(b.shape[0], b.shape[1])}, out {(out.shape[0], out.shape[1])}")
    if not (_stored(a, &ta, &lda) and _stored(b, &tb, &ldb)):
        return False
    with nogil:
        _gemm(RowMajor, ta, tb, m, n, k, <floating>1, &a[0, 0], lda, &b[0, 0], ldb,
              <floating>0, &out[0, 0], n)
    return True


# Test shims ----------------------------------------------------------------------------------

cdef int _ld(const floating[:, :] a, BLAS_Order order, str name) except -1:
    """Leading dimension of ``a`` stored in ``order``, in elements; ValueError if it is not."""
    cdef Py_ssize_t item = sizeof(floating)
    cdef int o = 0 if order == RowMajor else 1  # the axis that steps between rows (RowMajor)
    cdef Py_ssize_t outer_n = a.shape[o], inner_n = a.shape[1 - o]
    cdef Py_ssize_t outer_s = a.strides[o], inner_s = a.strides[1 - o]
    if inner_n > 1 and inner_s != item:
        raise ValueError(f"{name} is not stored in {BLAS_Order(order).name} order")
    if outer_n == 1:
        return <int>max(inner_n, 1)
    if outer_s % item or outer_s // item < max(inner_n, 1):
        raise ValueError(f"{name} is not stored in {BLAS_Order(order).name} order")
    return <int>(outer_s // item)


def _gemm_memview(BLAS_Order order, BLAS_Trans ta, BLAS_Trans tb, double alpha,
                  const floating[:, :] A, const floating[:, :] B, double beta,
                  floating[:, :] C):
    """C = alpha * op(A) @ op(B) + beta * C, in place, through ``_gemm``."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[1] if ta == NoTrans else A.shape[0]
    cdef int am = A.shape[0] if ta == NoTrans else A.shape[1]
    cdef int bk = B.shape[0] if tb == NoTrans else B.shape[1]
    cdef int bn = B.shape[1] if tb == NoTrans else B.shape[0]
    if am != m or bn != n or bk != k or k == 0 or m == 0 or n == 0:
        raise ValueError(f"shapes do not fit: op(A) ({am}, {k}), op(B) ({bk}, {bn}), C ({m}, {n})")
    cdef int lda = _ld(A, order, "A"), ldb = _ld(B, order, "B"), ldc = _ld(C, order, "C")
    _gemm(order, ta, tb, m, n, k, <floating>alpha, &A[0, 0], lda, &B[0, 0], ldb, <floating>beta,
          &C[0, 0], ldc)


def _gemv_memview(BLAS_Order order, BLAS_Trans ta, double alpha, const floating[:, :] A,
                  const floating[::1] x, double beta, floating[::1] y):
    """y = alpha * op(A) @ x + beta * y, in place, through ``_gemv``."""
    cdef int m = A.shape[0], n = A.shape[1]
    cdef int xn = n if ta == NoTrans else m, yn = m if ta == NoTrans else n
    if x.shape[0] != xn or y.shape[0] != yn or m == 0 or n == 0:
        raise ValueError(f"shapes do not fit: op(A) of A {(m, n)}, x ({x.shape[0]},), y ({y.shape[0]},)")
    cdef int lda = _ld(A, order, "A")
    _gemv(order, ta, m, n, <floating>alpha, &A[0, 0], lda, &x[0], 1, <floating>beta, &y[0], 1)


# The GEMM-only bound ----------------------------------------------------------------------------

def _gemm_only(bint train, const floating[:, :, ::1] x, const floating[:, ::1] w_x,
               const floating[:, ::1] w_h, floating[:, :, ::1] z, floating[:, :, ::1] h,
               floating[:, :, ::1] dz, floating[:, ::1] dw_x, floating[:, ::1] dw_h,
               floating[:, :, ::1] dx):
    """The products of a cell's forward (and, with ``train``, its backward) alone, same shapes,
    same calls, no gate maths: the benchmark's lower bound. The gate width G is read from w_h:
    4H for the LSTM, 3H for the GRU (reset_after=True: one recurrent product per step), H for the
    simple RNN.

    x, dx (T, B, I) | w_x (I, G) | w_h (H, G) | z, dz (T, B, G) | h (T+1, B, H) | dw_x (I, G)
    dw_h (H, G). Inference: z = x @ w_x, then T times z[t] += h[t] @ w_h. Training adds T times
    h[t+1] = dz[t] @ w_h.T, dw_x += x.T @ dz, dw_h += h[:T].T @ dz and dx = dz @ w_x.T.
    """
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], H = w_h.shape[0], G = w_h.shape[1], t
    if (w_x.shape[0] != I or w_x.shape[1] != G
            or z.shape[0] != T or z.shape[1] != B or z.shape[2] != G
            or h.shape[0] != T + 1 or h.shape[1] != B or h.shape[2] != H
            or dz.shape[0] != T or dz.shape[1] != B or dz.shape[2] != G
            or dx.shape[0] != T or dx.shape[1] != B or dx.shape[2] != I
            or dw_x.shape[0] != I or dw_x.shape[1] != G or dw_h.shape[0] != H
            or dw_h.shape[1] != G or T == 0 or B == 0 or I == 0 or H == 0 or G == 0):
        raise ValueError("_gemm_only: the buffers do not fit x (T, B, I) and w_h (H, G)")
    with nogil:
        _gemm(RowMajor, NoTrans, NoTrans, T * B, G, I, <floating>1, &x[0, 0, 0], I,
              &w_x[0, 0], G, <floating>0, &z[0, 0, 0], G)
        for t in range(T):
            _gemm(RowMajor, NoTrans, NoTrans, B, G, H, <floating>1, &h[t, 0, 0], H, &w_h[0, 0],
                  G, <floating>1, &z[t, 0, 0], G)
        if train:
            for t in range(T - 1, -1, -1):
                _gemm(RowMajor, NoTrans, Trans, B, H, G, <floating>1, &dz[t, 0, 0], G,
                      &w_h[0, 0], G, <floating>0, &h[t + 1, 0, 0], H)
            _gemm(RowMajor, Trans, NoTrans, I, G, T * B, <floating>1, &x[0, 0, 0], I,
                  &dz[0, 0, 0], G, <floating>1, &dw_x[0, 0], G)
            _gemm(RowMajor, Trans, NoTrans, H, G, T * B, <floating>1, &h[0, 0, 0], H,
                  &dz[0, 0, 0], G, <floating>1, &dw_h[0, 0], G)
            _gemm(RowMajor, NoTrans, Trans, T * B, I, G, <floating>1, &dz[0, 0, 0], G,
                  &w_x[0, 0], G, <floating>0, &dx[0, 0, 0], I)
