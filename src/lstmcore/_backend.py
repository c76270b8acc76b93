"""Picks the compiled functions or the NumPy reference.

``LSTMCORE_BACKEND=reference`` forces the reference (debugging, platforms without a compiler);
``compiled`` (the default) requires the extension and says how to get it when it is missing.
"""

from __future__ import annotations

import os

_CHOICES = ("compiled", "reference")

NAME = os.environ.get("LSTMCORE_BACKEND", "compiled").strip().lower() or "compiled"
if NAME not in _CHOICES:
    raise ValueError(f"LSTMCORE_BACKEND must be one of {_CHOICES}, got {NAME!r}")

if NAME == "reference":
    from .reference import LSTMStepper, lstm_backward, lstm_cell_forward, lstm_forward
else:
    # libgomp reads its wait policy once, when it is loaded with the extension. Its default lets
    # idle workers busy-spin after each gate loop, and they then take the cores OpenBLAS's threads
    # need for the next product (measured: S2 inference 22 ms with 1 thread, 856 ms with 2).
    # PASSIVE is set only for the load, unless the user chose a policy; the environment is left
    # as it was, so child processes and other libraries see no change.
    _policy_was_set = "OMP_WAIT_POLICY" in os.environ
    if not _policy_was_set:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        from ._lstm import LSTMStepper, lstm_backward, lstm_cell_forward, lstm_forward
    except ImportError as exc:  # pragma: no cover - depends on how the package was installed
        raise ImportError(
            "lstmcore's compiled extension could not be imported "
            f"({exc}). Reinstall with a C compiler available (pip install --force-reinstall "
            "lstmcore), or set LSTMCORE_BACKEND=reference to run the slow pure-NumPy reference."
        ) from exc
    finally:
        if not _policy_was_set:
            del os.environ["OMP_WAIT_POLICY"]

__all__ = ["NAME", "lstm_forward", "lstm_backward", "lstm_cell_forward", "LSTMStepper"]
