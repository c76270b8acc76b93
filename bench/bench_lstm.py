"""The side-by-side suite of DESIGN.md section 4 in pytest-benchmark, for the LSTM: peer x shape x
kind x threads (the GRU and the simple RNN are in bench_cells.py).

The peers are those of ``lstmcore.benchmark`` (lstmcore, reference, torch, onnxruntime, bound), the
same code as ``lstmcore bench``; each is checked against the reference before it is timed. A peer
whose package is missing is skipped with the install command (pip install 'lstmcore[bench]').
Tests of one shape, kind and thread count share a group, so the peers sit side by side.

Run: pytest bench -o python_files="bench_*.py" [--benchmark-json out.json] [-k "S2 and train"]
"""

import pytest
from conftest import peer_cases, time_peer


@pytest.mark.parametrize("cell, peer, shape, kind", peer_cases(["lstm"]))
def test_peer(benchmark, threads, cell, peer, shape, kind):
    time_peer(benchmark, threads, cell, peer, shape, kind)
