"""The side-by-side suite of DESIGN.md section 4 in pytest-benchmark, for the sequence variants of
every cell at S2: ``<cell>-bi`` (one bidirectional layer), ``<cell>-L2`` (two stacked layers) and
``<cell>-lengths`` (a batch of lengths spread over 1..T), inference and training step.

The same peers and code as ``lstmcore bench --cells lstm-bi,gru-bi,lstm-L2,lstm-lengths``:
lstmcore's ``stack_forward``/``stack_backward`` (``lstm_forward(..., lengths=...)`` for -lengths),
the NumPy reference, ``torch.nn.LSTM(bidirectional=True)``/``num_layers=2``/packed sequences,
ONNX Runtime (a bidirectional node, two chained nodes, ``sequence_lens``; inference only), the
GEMM-only bound of every layer-direction (not for -lengths) and lstmcore-full (lstmcore on the
-lengths batch at full length; those cells only). Tests of one cell, shape, kind and thread count
share a group.

Run: pytest bench/bench_sequences.py -o python_files="bench_*.py" [--benchmark-json out.json] [-k "lstm-bi"]
"""

import pytest
from conftest import peer_cases, time_peer

from lstmcore import benchmark as bm


@pytest.mark.parametrize("cell, peer, shape, kind", peer_cases(bm.SEQUENCE_CELLS, shapes=["S2"]))
def test_peer(benchmark, threads, cell, peer, shape, kind):
    time_peer(benchmark, threads, cell, peer, shape, kind)
