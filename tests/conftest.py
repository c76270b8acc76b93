"""Fixtures shared by every test folder; the helpers (tolerances, shapes, comparisons) are in
``helpers.py``."""

from __future__ import annotations

import os

import numpy as np
import pytest

# The tests run the rules' plans and those they install themselves, never the plans that
# lstmcore tune measured on this machine (lstmcore.engine._tuned)
os.environ["LSTMCORE_TUNE_FILE"] = "off"

import lstmcore  # noqa: E402

ISAS = lstmcore.engine._lstm._available_isas() if lstmcore.backend == "compiled" else ("generic",)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=ISAS)
def isa(request):
    """Run with each instruction set of the C kernels this CPU has (with the reference backend,
    once, as "generic")."""
    if lstmcore.backend != "compiled":
        yield request.param
        return
    before = lstmcore.engine._lstm._kernel_isa()
    lstmcore.engine._lstm._set_kernel_isa(request.param)
    try:
        yield request.param
    finally:
        lstmcore.engine._lstm._set_kernel_isa(before)
