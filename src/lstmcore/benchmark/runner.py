"""The run: the machine it ran on, and run_benchmark, which times every case."""

import datetime
import importlib
import os
import platform
import sys
from collections.abc import Callable

import numpy as np

import lstmcore
from lstmcore.engine._machine import cpu_model
from lstmcore.engine._threads import cpu_count

from .isolation import _time_isolated, measure_memory
from .peers import PEERS, _check_peer, make_peer, peer_kinds, peer_switches, peer_unavailable
from .problems import (
    BESIDE_LSTMCORE,
    DEFAULT_CELLS,
    INSTRUMENTS,
    KINDS,
    SEQUENCE_SHAPES,
    PeerDoesNotApply,
    _check_cells,
    _check_kinds,
    _check_threads,
    cell_kinds,
    cell_runs_on,
    check_timed,
    expected_outputs,
    make_problem,
    resolve_shapes,
)
from .report import _fmt_time
from .targets import evaluate_targets
from .timing import (
    _get_threads,
    _ratios,
    _restore_threads,
    _spreads,
    _with_peak_share,
    measure_gemm_peak,
    set_threads,
    time_interleaved,
)

# The run ----------------------------------------------------------------------------------------


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def _cpu_isa() -> str:
    """The widest x86 vector extension the CPU reports: 'avx512', 'avx2' or '' (unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags else "")
    except OSError:
        pass
    return ""


def _scipy_blas_core(info: dict) -> str | None:
    """The kernel set of the BLAS lstmcore calls (SciPy's OpenBLAS), e.g. 'Haswell'."""
    cores = [b["corename"] for b in info["blas"] if b.get("corename") and "scipy_openblas-" in b["path"]]
    cores = cores or [b["corename"] for b in info["blas"] if b.get("corename")]
    return cores[0] if cores else None


def machine_info() -> dict:
    """The machine and software a run measured: CPU, cores, thread pools, versions, date."""
    info = lstmcore.threadpool_info()
    return {
        "cpu": cpu_model(),
        "cpu_isa": _cpu_isa(),
        "blas_core": _scipy_blas_core(info),
        "cpu_count": cpu_count(),
        "platform": platform.platform(),
        "threadpool_info": info,
        "backend": lstmcore.backend,
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT",
                "OPENBLAS_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OPENBLAS_THREAD_TIMEOUT",
                "MKL_NUM_THREADS",
            )
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "lstmcore": lstmcore.__version__,
            "torch": _version("torch") if "torch" in sys.modules else None,
            "onnxruntime": _version("onnxruntime") if "onnxruntime" in sys.modules else None,
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def run_benchmark(
    shapes=None,
    kinds=KINDS,
    threads=None,
    peers=PEERS,
    *,
    cells=DEFAULT_CELLS,
    seconds: float = 1.5,
    dtype=np.float32,
    memory: bool = False,
    min_rounds: int = 5,
    max_rounds: int = 2000,
    isolate: bool = True,
    progress: Callable[[str], None] | None = None,
    targets: dict | None = None,
    peak: bool = True,
) -> dict:
    """Run the side-by-side benchmark and return its results as a JSON-ready dict.

    ``shapes``: see :func:`resolve_shapes`; ``kinds``: among KINDS (each shape runs those it
    lists); ``threads``: thread counts (default 1 and all cores); ``peers``: among PEERS (missing
    ones are skipped, see ``results['skipped']``; one that does not apply to a case, such as
    lstmcore-full outside the "-lengths" cells, is left out of that case and named in its
    ``not_applicable``); ``cells``: among ALL_CELLS, the cells of CELLS and their variants
    "<cell>-bi", "-L2", "-lengths" (these on SEQUENCE_SHAPES and custom shapes, inference and
    train only) (default DEFAULT_CELLS, the LSTM: every cell roughly multiplies the run's time);
    ``seconds``: time budget per case; ``memory``: also measure the S3 training step's peak
    memory, per cell.
    ``progress`` gets one line per case.
    ``isolate``: with more than one thread, time each peer in a fresh process of its own, one
    after the other, instead of interleaved in this one. Thread pools of different libraries in
    one process take cores from each other: measured on 2 cores, lstmcore's S2 inference on 2
    threads took 3 ms alone and 8-11 ms once an ONNX Runtime session with 2 intra-op threads
    existed in the process (its workers spin; with allow_spinning=0, 3 ms again), and ONNX
    Runtime and PyTorch lose in the same way next to each other.

    ``targets``: goals to check (:func:`load_targets`), or None.
    ``peak``: measure the GEMM peak for each thread count (:func:`measure_gemm_peak`, about half
    a second each) and give each case lstmcore's GFLOP/s and share of it (:func:`case_flops`);
    a case that timed the gemm-peak peer beside lstmcore takes the peak from it (``peak_beside``:
    a shared machine's speed drifts within a run, and a share of two moments' times drifts with
    it: 117% of a 2-thread peak measured at a slow moment, on a 2-core VM).

    Keys: machine, settings, skipped {peer: why}, cases [{cell, shape, dims, kind, threads, peers
    {peer: stats}, ratios, not_applicable {peer: why}, gflop, lstmcore_gflops, peak_gflops,
    peak_share, peak_beside}] (shape by shape,
    then kind, cell, thread count), gemm_peak_gflops {threads: GFLOP/s}, memory (None, or one
    :func:`measure_memory` result per cell), targets (see :func:`evaluate_targets`; [] without
    ``targets``), targets_title.
    """
    table = resolve_shapes(shapes)
    kinds = _check_kinds(kinds)
    cells = _check_cells(cells)
    threads = _check_threads(threads)
    peers = list(dict.fromkeys(peers))
    for name in peers:
        _check_peer(name)
    dtype = np.dtype(dtype)
    say = progress or (lambda line: None)
    skipped, ready = {}, []
    for name in peers:
        reason = peer_unavailable(name)
        if reason is None:
            ready.append(name)
        else:
            skipped[name] = reason
            say(reason)
    peaks = {}
    if "lstmcore" in ready and peak:
        for n in threads:
            peaks[n] = measure_gemm_peak(n, dtype)
            say(f"GEMM peak with {n} thread{'s' if n > 1 else ''}: {peaks[n]:.1f} GFLOP/s")
    saved = _get_threads()
    cases = []
    try:
        for shape, (B, T, I, H, shape_kinds) in table.items():
            shape_cells = [cell for cell in cells if cell_runs_on(cell, shape, (B, T, I, H))]
            if len(shape_cells) < len(cells):
                left = ", ".join(c for c in cells if c not in shape_cells)
                say(f"{left} not measured at {shape}: the variants run on {', '.join(SEQUENCE_SHAPES)}")
            problems = {cell: make_problem(B, T, I, H, dtype=dtype, cell=cell) for cell in shape_cells}
            for kind in (k for k in KINDS if k in kinds and k in shape_kinds):
                for cell in (c for c in shape_cells if kind in cell_kinds(c)):
                    problem = problems[cell]
                    expected = expected_outputs(problem, kind)
                    for n in threads:
                        names = [p for p in ready if kind in peer_kinds(p)]
                        not_applicable = {}
                        if "lstmcore" not in names:  # nothing to measure the machine for
                            names = [p for p in names if p not in BESIDE_LSTMCORE]
                        if "lstmcore-1t" in names and n == 1:
                            names.remove("lstmcore-1t")  # (on 1 thread it is lstmcore)
                        if isolate and n > 1:
                            stats, not_applicable = _time_isolated(
                                names, cell, (B, T, I, H), kind, n, dtype, seconds, min_rounds, max_rounds
                            )
                        else:
                            set_threads(n)
                            fns = {}
                            for name in names:
                                try:
                                    timed = make_peer(name, problem, kind, n)
                                except PeerDoesNotApply as exc:
                                    not_applicable[name] = str(exc)
                                    continue
                                if name != "reference":
                                    check_timed(timed, expected, dtype)
                                fns[name] = timed.fn
                            stats = (
                                time_interleaved(
                                    fns,
                                    seconds,
                                    min_rounds,
                                    max_rounds,
                                    sparse=INSTRUMENTS,
                                    switch=peer_switches(fns, n),
                                )
                                if fns
                                else {}
                            )
                            fns = timed = None  # no session or pool of this case stays alive
                        where = f"{cell} {shape} {kind}, {n} thread{'s' if n > 1 else ''}"
                        if not stats:
                            say(f"{where}: none of the peers {', '.join(names)} applies; nothing timed")
                            continue
                        case = {
                            "cell": cell,
                            "shape": shape,
                            "dims": [B, T, I, H],
                            "kind": kind,
                            "threads": n,
                            "peers": stats,
                            "ratios": _ratios(stats),
                            "ratio_spread": _spreads(stats),
                            "not_applicable": not_applicable,
                        }
                        case = _with_peak_share(case, peaks.get(n))
                        cases.append(case)
                        times = ", ".join(f"{p} {_fmt_time(s['median_s'])}" for p, s in stats.items())
                        rounds = min(
                            (s["rounds"] for p, s in stats.items() if p not in INSTRUMENTS), default=0
                        )
                        say(f"{where}: {times} ({rounds} rounds)")
    finally:
        _restore_threads(saved)
    memory_result = None
    if memory:
        mem_peers = [p for p in ("lstmcore", "torch", "reference") if p in ready]
        memory_result = []
        for cell in cells:
            say(
                f"peak memory of the {cell} S3 training step: {', '.join(mem_peers)}, each in a fresh process"
            )
            memory_result.append(measure_memory(peers=mem_peers, threads=threads[0], dtype=dtype, cell=cell))
    info = machine_info()
    checked = [] if targets is None else evaluate_targets(cases, targets, memory_result, info["cpu_count"])
    return {
        "machine": info,
        "settings": {
            "isolate": isolate,
            "cells": list(cells),
            "shapes": {k: [*v[:4], list(v[4])] for k, v in table.items()},
            "kinds": list(kinds),
            "threads": threads,
            "peers": peers,
            "seconds": seconds,
            "dtype": dtype.name,
            "min_rounds": min_rounds,
            "max_rounds": max_rounds,
        },
        "skipped": skipped,
        "cases": cases,
        "gemm_peak_gflops": {str(k): v for k, v in peaks.items()},
        "memory": memory_result,
        "targets": checked,
        "targets_title": None if targets is None else targets["title"],
    }
