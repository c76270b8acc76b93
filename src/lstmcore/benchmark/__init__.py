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
- ``bound``: the products of lstmcore's forward (and backward) alone, no gate maths: a lower bound;
- ``lstmcore-full``: lstmcore on a "-lengths" batch at full length (those cells only);
- ``lstmcore-1t``: lstmcore on 1 thread, in the cases of several threads (in lstmcore's process,
  switched to one thread around its calls): the scaling, timed side by side;
- ``gemm-peak``: not a peer but an instrument: the large square product of the GEMM peak, timed
  beside lstmcore in every case (in its process, in round 0 and every few rounds where it would
  take most of the time), so that lstmcore's share of the peak compares two times of the same
  moment.

The sequence variants of each cell (SEQUENCE_CELLS, ``<cell>-<variant>``, accepted wherever a
cell name is): ``-bi`` one bidirectional layer (outputs concatenated), ``-L2`` two stacked
layers (both through ``stack_forward`` / ``stack_backward``; PyTorch's ``bidirectional=True`` and
``num_layers=2``, ONNX's bidirectional node and two chained nodes), ``-lengths`` one layer over a
batch of lengths spread over 1..T (``lengths=``; PyTorch's packed sequence, ONNX's
``sequence_lens``). They run on S1, S2 and S3 (and custom shapes), inference and train. A peer
that has nothing to time on a case (lstmcore-full outside ``-lengths``, the bound on it) raises
PeerDoesNotApply: the case goes on without it.

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
    peer_applies,
    peer_kinds,
    peer_unavailable,
)
from .plot import plot_ratios
from .problems import (
    ALL_CELLS,
    BESIDE_LSTMCORE,
    CELL_GATES,
    CELLS,
    DEFAULT_CELLS,
    INSTALL_HINT,
    INSTRUMENTS,
    KINDS,
    SEQUENCE_CELLS,
    SEQUENCE_KINDS,
    SEQUENCE_SHAPES,
    SHAPES,
    VARIANTS,
    EqualWorkError,
    PeerDoesNotApply,
    PeerUnavailable,
    Timed,
    case_flops,
    cell_kinds,
    cell_runs_on,
    check_equal_work,
    check_timed,
    expected_outputs,
    make_problem,
    resolve_shapes,
    sequence_lengths,
    split_cell,
    stack_grads,
)
from .report import format_table, save_json
from .runner import machine_info, run_benchmark
from .targets import evaluate_targets, load_targets, merge_targets
from .timing import measure_gemm_peak, set_threads, time_interleaved

__all__ = [
    "ALL_CELLS",
    "BESIDE_LSTMCORE",
    "CELLS",
    "CELL_GATES",
    "DEFAULT_CELLS",
    "INSTALL_HINT",
    "INSTRUMENTS",
    "KINDS",
    "PEERS",
    "SEQUENCE_CELLS",
    "SEQUENCE_KINDS",
    "SEQUENCE_SHAPES",
    "SHAPES",
    "VARIANTS",
    "EqualWorkError",
    "PeerDoesNotApply",
    "PeerUnavailable",
    "Timed",
    "case_flops",
    "cell_kinds",
    "cell_runs_on",
    "check_equal_work",
    "check_timed",
    "evaluate_targets",
    "load_targets",
    "merge_targets",
    "expected_outputs",
    "format_table",
    "lstmcore_step",
    "machine_info",
    "make_peer",
    "make_problem",
    "measure_gemm_peak",
    "measure_memory",
    "peer_applies",
    "peer_kinds",
    "peer_unavailable",
    "plot_ratios",
    "resolve_shapes",
    "run_benchmark",
    "save_json",
    "sequence_lengths",
    "set_threads",
    "split_cell",
    "stack_grads",
    "time_interleaved",
]
