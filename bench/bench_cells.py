"""The side-by-side suite of DESIGN.md section 4 in pytest-benchmark, for the GRU (reset_after=True)
and the simple RNN (tanh): cell x peer x shape x kind x threads, the LSTM's shapes and kinds.

The same peers and code as bench_lstm.py and ``lstmcore bench --cells gru,rnn``: lstmcore's
``gru_*``/``rnn_*`` and steppers, the NumPy reference, ``torch.nn.GRU``/``nn.RNN``, one ONNX
``GRU`` (``linear_before_reset=1``) or ``RNN`` node in ONNX Runtime, and the GEMM-only bound of the
cell (G = 3H or H columns). Tests of one cell, shape, kind and thread count share a group.

Run: pytest bench -o python_files="bench_*.py" -k "gru or rnn" [--benchmark-json out.json]
"""

import pytest
from conftest import peer_cases, time_peer


@pytest.mark.parametrize("cell, peer, shape, kind", peer_cases(["gru", "rnn"]))
def test_peer(benchmark, threads, cell, peer, shape, kind):
    time_peer(benchmark, threads, cell, peer, shape, kind)
