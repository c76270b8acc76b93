"""Picks the compiled functions or the NumPy reference.

``LSTMCORE_BACKEND=reference`` forces the reference (debugging, platforms without a compiler);
``compiled`` (the default) requires the extension and says how to get it when it is missing.
"""

from __future__ import annotations

import os
import sys

_CHOICES = ("compiled", "reference")

NAME = os.environ.get("LSTMCORE_BACKEND", "compiled").strip().lower() or "compiled"
if NAME not in _CHOICES:
    raise ValueError(f"LSTMCORE_BACKEND must be one of {_CHOICES}, got {NAME!r}")


def _openmp_env() -> dict[str, str]:
    """The variables set while the OpenMP runtime loads with the extension (it reads them once,
    then): none the user has set.

    OMP_WAIT_POLICY=PASSIVE: by default libgomp's idle workers busy-spin after each parallel loop
    (about 3 ms) and take the cores OpenBLAS's threads need for the next product: measured, S2
    inference took 22 ms with 1 thread and 856 ms with 2.
    GOMP_SPINCOUNT=10000 where the process starts with the AVX2 or the AVX-512 kernels (the CPU's
    best, or LSTMCORE_ISA's): there sequences take the packed kernels, with no BLAS product
    between two parallel regions, and a worker that still spins when the next call or the
    backward arrives saves its wake-up (tens of microseconds per call on a virtual machine).
    10000 spins are about 0.25 ms on a Zen5 (24 ns per pause). Measured on 2 cores, 2 threads:
    AVX-512 (Zen5), S1 inference 176 -> 130 µs, S1 training step 657 -> 590 µs, S2 training
    14.4 -> 12.7 ms; AVX2 (Zen 3), S1 inference 340 -> 210-250 µs, S1 training step 1.22 ->
    0.70 ms, S2 training 27.5 -> 25.4 ms; the rest within noise. Where a sequence does run a BLAS
    product per step (the AVX2 rule's weights past the L3, a single sequence's training, the
    generic kernels), a spinning worker takes the core of OpenBLAS's next product (S2 inference on
    BLAS, 2 threads: 15 -> 70-86 ms): those loops then keep their gate maths on the calling thread
    (lstmcore.engine._lstm's _OMP_SPINS), and the generic kernels load without the spin count.
    libomp (clang) reads OMP_WAIT_POLICY only.
    """
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return {}
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
    try:
        from ._checks import cpu_best_isa  # built without OpenMP: loads no runtime
    except ImportError:  # pragma: no cover - a build without the helper module
        return env
    from ._tuned import ISAS  # the kernels' names, in _lstm's order (pure Python)

    best = cpu_best_isa()
    name = os.environ.get("LSTMCORE_ISA", "").strip().lower()
    # an unknown or unsupported name is _lstm's error to raise as the extension loads
    isa = ISAS.index(name) if name in ISAS and ISAS.index(name) <= best else best
    if isa >= 1:
        env["GOMP_SPINCOUNT"] = "10000"
    return env


_OPENMP_ENV: dict[str, str] = {}  # what the OpenMP runtime was loaded with (compiled backend)

if NAME == "reference":
    from ..reference import (
        GRUStepper,
        LSTMStepper,
        RNNStepper,
        gru_backward,
        gru_cell_forward,
        gru_forward,
        lstm_backward,
        lstm_cell_forward,
        lstm_forward,
        release_workspaces,
        rnn_backward,
        rnn_cell_forward,
        rnn_forward,
        set_workspace_limit,
    )
else:
    _OPENMP_ENV = _openmp_env()
    _saved = {k: os.environ.get(k) for k in _OPENMP_ENV}
    os.environ.update(_OPENMP_ENV)
    try:
        from ._cells import (
            GRUStepper,
            RNNStepper,
            _cell_forward_into,  # noqa: F401 - read by _stack.bind
            gru_backward,
            gru_cell_forward,
            gru_forward,
            rnn_backward,
            rnn_cell_forward,
            rnn_forward,
        )
        from ._lstm import (
            LSTMStepper,
            _lstm_forward_into,  # noqa: F401 - read by _stack.bind
            _output_array,  # noqa: F401 - read by _stack.bind
            lstm_backward,
            lstm_cell_forward,
            lstm_forward,
            release_workspaces,
            set_workspace_limit,
        )
    except ImportError as exc:  # pragma: no cover - depends on how the package was installed
        raise ImportError(
            "lstmcore's compiled extension could not be imported "
            f"({exc}). Reinstall with a C compiler available (pip install --force-reinstall "
            "lstmcore), or set LSTMCORE_BACKEND=reference to run the slow pure-NumPy reference."
        ) from exc
    finally:
        for _k, _v in _saved.items():
            if _v is None:
                del os.environ[_k]
            else:  # pragma: no cover - _openmp_env never overrides a variable the user set
                os.environ[_k] = _v

# Stacks and directions over the functions above (one composition for both backends)
from . import _stack  # noqa: E402

if NAME == "compiled":  # the two directions of a layer may run at once
    from . import _tuned  # noqa: E402 - the plans lstmcore tune measured on this machine
    from ._threads import run_pair as _run_pair  # noqa: E402, F401 - read by _stack.bind

    _tuned.load()
stack_forward, stack_backward, StackStepper = _stack.bind(sys.modules[__name__])

__all__ = [
    "NAME",
    "StackStepper",
    "stack_backward",
    "stack_forward",
    "gru_forward",
    "gru_backward",
    "gru_cell_forward",
    "GRUStepper",
    "rnn_forward",
    "rnn_backward",
    "rnn_cell_forward",
    "RNNStepper",
    "lstm_forward",
    "lstm_backward",
    "lstm_cell_forward",
    "LSTMStepper",
    "release_workspaces",
    "set_workspace_limit",
]
