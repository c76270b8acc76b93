"""Fast input checks for lstmcore.engine._validate (which falls back to NumPy without this module), and
the CPU features _backend needs before the OpenMP runtime is loaded (this module is built without
OpenMP)."""

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef extern from "rt/cpu_features.h" nogil:
    int lstmcore_cpu_has_avx512()


cdef extern from "math/finite.h" nogil:
    int lstmcore_all_finite(const void *a, Py_ssize_t n, int elem_size)


def cpu_has_avx512():
    """True when the CPU runs lstmcore's AVX-512 kernels (AVX-512 F, VL, BW and DQ)."""
    return lstmcore_cpu_has_avx512() != 0


def all_finite(cnp.ndarray a):
    """True when the C-contiguous float32/float64 array ``a`` holds no NaN or inf."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef int itemsize = cnp.PyArray_ITEMSIZE(a), ok
    cdef const void *data = cnp.PyArray_DATA(a)
    if cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return bool(np.isfinite(a).all())
    with nogil:
        ok = lstmcore_all_finite(data, n, itemsize)
    return ok != 0
