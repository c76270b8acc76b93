"""Fast input checks for lstmcore._validate (which falls back to NumPy without this module), and
the CPU features _backend needs before the OpenMP runtime is loaded (this module is built without
OpenMP)."""

import numpy as np


cdef extern from "cpu_features.h" nogil:
    int lstmcore_cpu_has_avx512()


cdef extern from "finite.h" nogil:
    int lstmcore_all_finite(const void *a, Py_ssize_t n, int elem_size)


def cpu_has_avx512():
    """True when the CPU runs lstmcore's AVX-512 kernels (AVX-512 F, VL, BW and DQ)."""
    return lstmcore_cpu_has_avx512() != 0


def all_finite(a):
    """True when the C-contiguous float32/float64 array ``a`` holds no NaN or inf."""
    cdef Py_ssize_t n = a.size
    cdef int itemsize = a.dtype.itemsize, ok
    cdef const unsigned char[::1] raw
    if n == 0:
        return True
    raw = a.reshape(-1).view(np.uint8)
    with nogil:
        ok = lstmcore_all_finite(&raw[0], n, itemsize)
    return ok != 0
