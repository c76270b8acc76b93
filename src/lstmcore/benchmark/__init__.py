"""The side-by-side benchmark of DESIGN.md section 4: lstmcore against its peers, same process.

Three cells (CELLS): the LSTM, the GRU (reset_after=True, PyTorch's and ONNX's
``linear_before_reset=1`` semantics) and the simple RNN (tanh). Peers, each timed on the same
problem (float32, batch-first ``x (B, T, I)``, weights in lstmcore's layout ``w_x (I, G)``,
``w_h (H, G)``, ``b``, G = 4H (gates i, f, g, o), 3H (z, r, n; ``b (2, 3H)``) or H) and the same
thread count:

- ``lstmcore``: the cell's ``*_forward`` / ``*_backward`` / ``*Stepper``;
- ``reference``: the same names from ``lstmcore.reference`` (pure NumPy);
- ``torch``: ``torch.nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` on the CPU (oneDNN as shipped);
- ``onnxruntime``: a model of one ONNX ``LSTM`` / ``GRU`` / ``RNN`` node (inference and the
  streaming step only);
- ``bound``: the products of lstmcore's forward (and backward) alone, no gate maths: a lower bound.

Three kinds of work: ``inference`` (y and the final state from zero state), ``train`` (forward with
cache and backward from ``dy``: dx and every weight gradient) and ``step`` (one streaming step of B
rows, carrying the state from call to call). Before timing, every peer's outputs are checked against
the reference's (the equal-work check). Then the peers run in interleaved rounds, each peer once per
round in an order that rotates, so that drift in the machine's speed hits all peers alike.

torch, onnx, onnxruntime and matplotlib are imported only when needed; a missing peer is skipped
with a message (``pip install 'lstmcore[bench]'``). ``lstmcore bench`` is the command-line front.

The package, one module a part: ``problems`` (shapes, problems, the equal-work check), ``peers``,
``timing`` (interleaved rounds, ratios, the GEMM peak), ``isolation`` (runs in fresh processes),
``targets``, ``runner`` (:func:`run_benchmark`), ``report`` (table, JSON) and ``plot``.
"""

from __future__ import annotations

from .isolation import measure_memory
from .peers import (
    PEERS,
    lstmcore_step,
    make_peer,
    peer_kinds,
    peer_unavailable,
)
from .plot import plot_ratios
from .problems import (
    CELL_GATES,
    CELLS,
    DEFAULT_CELLS,
    INSTALL_HINT,
    KINDS,
    SHAPES,
    EqualWorkError,
    PeerUnavailable,
    Timed,
    case_flops,
    check_equal_work,
    expected_outputs,
    make_problem,
    resolve_shapes,
)
from .report import format_table, save_json
from .runner import machine_info, run_benchmark
from .targets import evaluate_targets, load_targets
from .timing import measure_gemm_peak, set_threads, time_interleaved

__all__ = [
    "CELLS",
    "CELL_GATES",
    "DEFAULT_CELLS",
    "INSTALL_HINT",
    "KINDS",
    "PEERS",
    "SHAPES",
    "EqualWorkError",
    "PeerUnavailable",
    "Timed",
    "case_flops",
    "check_equal_work",
    "evaluate_targets",
    "load_targets",
    "expected_outputs",
    "format_table",
    "lstmcore_step",
    "machine_info",
    "make_peer",
    "make_problem",
    "measure_gemm_peak",
    "measure_memory",
    "peer_kinds",
    "peer_unavailable",
    "plot_ratios",
    "resolve_shapes",
    "run_benchmark",
    "save_json",
    "set_threads",
    "time_interleaved",
]
