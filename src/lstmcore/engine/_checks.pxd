# The copy of a plan's gather for lstmcore.engine._cells, which runs its rows on several threads
# (this module loads no OpenMP): take_job checks take_steps' arguments and describes the copy,
# take_rows copies rows [j0, j1) of it.
cimport numpy as cnp
from libc.limits cimport INT_MAX


cdef struct TakeJob:
    char *dst              # out (B, T, F): rows o0 bytes apart, steps o1
    const char *src        # a (B', T, F): rows s0 bytes apart, steps s1
    Py_ssize_t o0, o1, s0, s1, T, row   # row: bytes of one step's F values
    const cnp.int64_t *rows             # (B,) or NULL: out row j reads a's row rows[j]
    const cnp.int64_t *srcs             # (B, T) or NULL: the step of a that out[j, t] reads
    const unsigned char *zero           # (B, T) or NULL: out[j, t] = 0 where set
    int reverse
    int skip                            # leave the steps that would be 0 as they are


cdef tuple take_job(cnp.ndarray a, rows, src, bint reverse, zero, out, TakeJob *job,
                    bint pad=*)
cdef void take_rows(const TakeJob *job, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil


# compact_steps' copy, for the same reason: compact_job checks its arguments and describes the
# copy, compact_range copies steps [s0, s1) of it.
cdef struct CompactJob:
    char *dst                 # out (S, F), C-contiguous
    const char *src           # a (T, B, F), C-contiguous
    Py_ssize_t T, B, row      # row: bytes of one row's F values
    const cnp.int64_t *offs   # (T + 1,): step s's rows go to out rows [offs[s], offs[s+1])


cdef tuple compact_job(cnp.ndarray a, nact, out, CompactJob *job)
cdef void compact_range(const CompactJob *job, Py_ssize_t s0, Py_ssize_t s1) noexcept nogil


cdef extern from "math/finite.h" nogil:
    int lstmcore_all_finite(const void *a, Py_ssize_t n, int elem_size)


cdef inline bint contiguous_finite(object a) noexcept:
    """No NaN or inf in a, a C-contiguous float32 or float64 ndarray (the GIL released for the
    scan)."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef const void *data = cnp.PyArray_DATA(arr)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr)
    cdef int itemsize = cnp.PyArray_ITEMSIZE(arr), ok
    with nogil:
        ok = lstmcore_all_finite(data, n, itemsize)
    return ok != 0


cdef inline bint step_input_ready(object x_t, int typenum, int B, int I) noexcept:
    """x_t as the steppers take it with no conversion: an ndarray (no subclass) of typenum,
    C-contiguous, of a step's shape (B, I), (B, 1, I) or, for B = 1, (I,)."""
    if type(x_t) is not cnp.ndarray:
        return False
    cdef cnp.ndarray x = <cnp.ndarray>x_t
    if cnp.PyArray_TYPE(x) != typenum or not cnp.PyArray_ISCARRAY_RO(x):
        return False
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef cnp.npy_intp *d = cnp.PyArray_DIMS(x)
    return ((nd == 2 and d[0] == B and d[1] == I) or (nd == 1 and B == 1 and d[0] == I)
            or (nd == 3 and d[0] == B and d[1] == 1 and d[2] == I))


cdef inline bint array_ready(object a, int typenum, int nd, Py_ssize_t d0=-1,
                             Py_ssize_t d1=-1, Py_ssize_t d2=-1) noexcept:
    """a an ndarray (no subclass) of typenum in native byte order, C-contiguous and aligned, of
    nd dimensions, each of the sizes d0, d1, d2 given (-1: any)."""
    if type(a) is not cnp.ndarray:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or cnp.PyArray_NDIM(arr) != nd
            or not cnp.PyArray_ISCARRAY_RO(arr)):
        return False
    cdef cnp.npy_intp *d = cnp.PyArray_DIMS(arr)
    return ((d0 < 0 or d[0] == d0) and (nd < 2 or d1 < 0 or d[1] == d1)
            and (nd < 3 or d2 < 0 or d[2] == d2))


cdef inline bint state_ready(object a, int typenum, Py_ssize_t B, Py_ssize_t H,
                             bint check_finite) noexcept:
    """a None, or ready (above) of shape (B, H) and, with check_finite, finite."""
    return a is None or (array_ready(a, typenum, 2, B, H)
                         and (not check_finite or contiguous_finite(a)))


cdef inline int sequence_ready(object x, object w_x, object w_h, object b, Py_ssize_t K,
                               int bias_rows, bint check_finite) noexcept:
    """The type number of x (NPY_FLOAT32 or NPY_FLOAT64) when a sequence call of a cell of K
    gate blocks takes x (B, T, I), w_x (I, G), w_h (H, G) and b (bias_rows, G), or (G,) with
    bias_rows 0, as they are (G = K * H): each ready (array_ready) with x's type, every size at
    least 1 and within a C int (T * B and T * G too), and, with check_finite, no NaN or inf in
    any of them; else -1 (the general checks then say what is wrong, or convert)."""
    if type(x) is not cnp.ndarray:
        return -1
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        return -1
    if not (array_ready(x, typenum, 3) and array_ready(w_h, typenum, 2)):
        return -1
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(<cnp.ndarray>x)
    cdef cnp.npy_intp *dims_h = cnp.PyArray_DIMS(<cnp.ndarray>w_h)
    cdef Py_ssize_t B = dims[0], T = dims[1], I = dims[2], H = dims_h[0], G = K * H
    cdef bint b_ready = (array_ready(b, typenum, 2, bias_rows, G) if bias_rows
                         else array_ready(b, typenum, 1, G))
    if (min(B, T, I, H) < 1 or max(B, T, I, G, T * B, T * G) > INT_MAX or dims_h[1] != G
            or not b_ready or not array_ready(w_x, typenum, 2, I, G)):
        return -1
    if check_finite and not (contiguous_finite(x) and contiguous_finite(w_x)
                             and contiguous_finite(w_h) and contiguous_finite(b)):
        return -1
    return typenum
