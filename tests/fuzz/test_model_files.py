"""The model-file fuzz suite, short run: a few hundred mutated files, each loaded by a sandboxed
worker (memory and time limits), must load or fail with ValueError. The long run is
``python tests/fuzz/fuzz_model_files.py --cases 10000``."""

from __future__ import annotations

import signal

import fuzz_model_files as fuzz
import pytest


def test_mutated_model_files_load_or_raise_value_error():
    report = fuzz.run(500, seed=0, timeout=10, log=lambda line: None)
    assert fuzz.failed(report) == 0, "\n".join(map(str, report["bad"][:10]))
    ran = {name for name, _ in report["by_mutation"]}
    assert ran == set(fuzz.MUTATIONS), f"mutations that never ran: {set(fuzz.MUTATIONS) - ran}"
    assert report["counts"]["ok"] > 0 and report["counts"]["clear"] > 0


@pytest.mark.parametrize("sig, outcome", [(signal.SIGSEGV, "crash"), (signal.SIGKILL, "memory")])
def test_the_harness_reports_a_dead_worker(tmp_path, sig, outcome):
    with fuzz.Worker(memory_mib=2048) as worker:
        worker.proc.send_signal(sig)
        worker.proc.wait()
        result = worker.load(tmp_path / "case", "model", tmp_path / "seed", timeout=5)
    assert result["outcome"] == outcome
