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
# Past 2^22 cycles (a few ms) an idle worker's spin outlasts the gap between two of lstmcore's
# products and takes the cores of what runs next.
_LONG = 22


def _openblas_mapped() -> set:
    """The OpenBLAS libraries loaded in this process, by path (Linux: /proc/self/maps; elsewhere,
    or unreadable: none known)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split(maxsplit=5)[-1].strip() for line in maps if "/" in line}
    except OSError:
        return set()
    return {p for p in paths if "openblas" in os.path.basename(p).lower()}


def _spins_long(value) -> bool:
    """Whether OpenBLAS loaded with OPENBLAS_THREAD_TIMEOUT = ``value`` (None: unset, 2^28 cycles)
    keeps its idle workers spinning past _LONG (OpenBLAS clamps the exponent to 4..30)."""
    try:
        exponent = 0 if value is None else int(str(value).strip())
    except ValueError:
        exponent = 0  # OpenBLAS reads a bad value as 0
    return exponent <= 0 or exponent > _LONG  # 0 or less: OpenBLAS's default


def _load_blas() -> bool:
    """Load NumPy's and SciPy's OpenBLAS with OPENBLAS_THREAD_TIMEOUT=20 (unless the user set
    it); returns whether SciPy's BLAS, the engine's and the layers', is an OpenBLAS loaded before
    this with a long spin: SciPy imported before lstmcore (directly, or by scikit-learn), or one
    OpenBLAS shared with a NumPy imported before it (no OpenBLAS new to the process here)."""
    was_set = VARIABLE in os.environ
    before = _openblas_mapped()
    if not was_set:
        os.environ[VARIABLE] = VALUE
    try:
        import numpy  # noqa: F401
        import scipy.linalg.cython_blas  # noqa: F401
    finally:
        if not was_set:
            del os.environ[VARIABLE]
    fresh = _openblas_mapped() - before
    return bool(before) and not fresh and _spins_long(os.environ.get(VARIABLE))


# SciPy's OpenBLAS spins its idle workers for about 75 ms after each product of several threads
# (loaded before lstmcore with no OPENBLAS_THREAD_TIMEOUT): the engine then keeps the products of
# its training step on its own kernels (_lstm._BLAS_SPINS).
BLAS_SPINS = _load_blas()
