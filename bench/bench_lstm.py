"""The side-by-side suite of DESIGN.md section 4 in pytest-benchmark: peer x shape x kind x threads.

The peers are those of ``lstmcore.benchmark`` (lstmcore, reference, torch, onnxruntime, bound), the
same code as ``lstmcore bench``; each is checked against the reference before it is timed. A peer
whose package is missing is skipped with the install command (pip install 'lstmcore[bench]').
Tests of one shape, kind and thread count share a group, so the peers sit side by side.

Run: pytest bench -o python_files="bench_*.py" [--benchmark-json out.json] [-k "S2 and train"]
"""

import pytest
from conftest import SHAPES, expected, make_problem, run

from lstmcore import benchmark as bm

CASES = [
    pytest.param(peer, shape, kind, id=f"{shape}-{kind}-{peer}")
    for shape, spec in SHAPES.items()
    for kind in spec[4]
    for peer in bm.PEERS
    if kind in bm.peer_kinds(peer)
]


@pytest.mark.parametrize("peer, shape, kind", CASES)
def test_peer(benchmark, threads, peer, shape, kind):
    try:
        timed = bm.make_peer(peer, make_problem(shape), kind, threads)
    except bm.PeerUnavailable as exc:
        pytest.skip(str(exc))
    if timed.outputs is not None:
        bm.check_equal_work(peer, timed.outputs(), expected(shape, kind))
    benchmark.group = f"{shape} {kind} threads{threads}"
    benchmark.extra_info.update({"peer": peer, "shape": SHAPES[shape][:4], "kind": kind})
    run(benchmark, timed.fn)
