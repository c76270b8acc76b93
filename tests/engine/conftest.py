"""Fixtures of the engine's tests: the thread settings and the recurrent products' plan of the
compiled cells (lstmcore.engine._cells), each test run under each."""

from __future__ import annotations

import pytest

import lstmcore

if lstmcore.backend == "compiled":
    from lstmcore.engine import _cells


@pytest.fixture(params=[1, 2], ids=["1T", "2T"])
def threads(request):
    """One thread, or two with the row split and the packed products' thread split taken at every
    size, and the packed products' K blocks cut for a 4 KiB L1 (the plan of a machine with a
    small cache: blocks of 16 rows)."""
    before_n = lstmcore.get_num_threads()
    before_min = _cells._set_par_min(0 if request.param > 1 else 2**62)
    before_plan = _cells._set_plan(**({"gemm_par_min": 0, "l1d": 4096} if request.param > 1 else {}))
    lstmcore.set_num_threads(request.param)
    yield request.param
    lstmcore.set_num_threads(before_n)
    _cells._set_par_min(before_min)
    _cells._set_plan(**before_plan)


@pytest.fixture(params=["packed", "blas"])
def plan(request):
    """The recurrent products with the weights packed once (csrc/gemm), or through BLAS."""
    before = _cells._set_plan(recurrent=request.param)
    yield request.param
    _cells._set_plan(**before)
