"""Loads NumPy's and SciPy's OpenBLAS with a short spin for their idle workers.

OpenBLAS's worker threads busy-wait after each product for OPENBLAS_THREAD_TIMEOUT: 2^28 cycles
(about 75 ms) by default, read once when the library loads. lstmcore alternates BLAS products with
its own threads (OpenMP loops and the packed kernels' per-step barrier), and a worker spinning for
75 ms takes a core they need: measured on 2 cores, S3 inference on 2 threads right after a 2-thread
sgemm took 92 ms instead of 45 ms. 2^20 cycles (about 0.3 ms) keeps the workers awake between the
products of one call and lets them sleep soon after. As for OMP_WAIT_POLICY in ``_backend``, the
variable is set only while the libraries load, and only if the user has not set it; a library that
was loaded before lstmcore was imported keeps its own setting.
"""

from __future__ import annotations

import os

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
VALUE = "20"


def _load_blas() -> None:
    was_set = VARIABLE in os.environ
    if not was_set:
        os.environ[VARIABLE] = VALUE
    try:
        import numpy  # noqa: F401
        import scipy.linalg.cython_blas  # noqa: F401
    finally:
        if not was_set:
            del os.environ[VARIABLE]


_load_blas()
