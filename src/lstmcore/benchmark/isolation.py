"""Runs in fresh processes: the peak memory of a training step, and the timing of one peer
with several threads (thread pools of different libraries in one process take cores from each
other)."""

import json
import subprocess
import sys

import numpy as np

from .peers import make_peer, peer_applies, peer_kinds, peer_unavailable
from .problems import (
    SHAPES,
    EqualWorkError,
    PeerDoesNotApply,
    PeerUnavailable,
    _check_cell,
    _check_dims,
    _check_threads,
    check_timed,
    expected_outputs,
    make_problem,
)
from .timing import set_threads, time_interleaved

# Peak memory ------------------------------------------------------------------------------------

_MEMORY_CHILD = (
    "import sys; from lstmcore.benchmark.isolation import _memory_child; "
    "_memory_child(sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7], sys.argv[8])"
)


def _memory_child(
    peer: str, B: int, T: int, I: int, H: int, threads: int, dtype: str, cell: str = "lstm"
) -> None:
    """In a fresh process: print, as JSON, the rise of peak RSS across one training step of
    ``peer`` on ``cell``."""
    import resource

    def peak_mib():
        # Linux: VmHWM, the peak of this process's own memory map. ru_maxrss may start at the
        # parent's peak here: when the parent spawns with vfork, the kernel records the map it
        # leaves at exec (the parent's) into the child's ru_maxrss.
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 2**10  # kB
        except OSError:
            pass
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere

    try:
        warm = make_peer(peer, make_problem(1, 2, I, H, dtype=dtype, cell=cell), "train", threads)
    except PeerUnavailable as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    set_threads(threads)
    warm.fn()  # the library's own first-call set-up, on a tiny batch, is not counted
    del warm
    timed = make_peer(peer, make_problem(B, T, I, H, dtype=dtype, cell=cell), "train", threads)
    before = peak_mib()
    timed.fn()
    after = peak_mib()
    print(json.dumps({"before_mib": before, "after_mib": after, "extra_mib": after - before}))


def measure_memory(
    dims=None,
    peers=("lstmcore", "torch", "reference"),
    threads: int = 1,
    dtype=np.float32,
    timeout=900,
    cell: str = "lstm",
) -> dict:
    """Peak extra memory (MiB) of one training step of ``cell`` per peer, each in a fresh process.

    ``dims`` (B, T, I, H), S3 by default. The child first runs one training step of the peer on a
    tiny problem (B=1, T=2), so that the library's one-time set-up is not counted, then builds the
    problem and the peer and records its peak resident set (VmHWM on Linux, else ``ru_maxrss``)
    before and after one training step: the difference is what the step itself needed at its peak.
    """
    cell = _check_cell(cell)
    name = "S3" if dims is None else "x".join(str(n) for n in dims)
    dims = SHAPES["S3"][:4] if dims is None else tuple(dims)
    _check_dims(name, dims)
    threads = _check_threads(threads)[0]
    out = {"cell": cell, "shape": name, "dims": list(dims), "threads": threads, "peers": {}, "skipped": {}}
    for peer in peers:
        if "train" not in peer_kinds(peer):
            raise ValueError(f"peer {peer} has no training step to measure")
        args = [peer, *map(str, dims), str(threads), np.dtype(dtype).name, cell]
        result = _run_child(_MEMORY_CHILD, args, f"the memory run of {peer} ({cell})", timeout)
        if "skipped" in result:
            out["skipped"][peer] = result["skipped"]
        else:
            out["peers"][peer] = result
    return out


_TIMING_CHILD = (
    "import sys; from lstmcore.benchmark.isolation import _timing_child; _timing_child(sys.argv[1])"
)


def _timing_child(spec: str) -> None:
    """In a fresh process: time one peer on one case (checked against the reference first) and
    print its stats as JSON on the last line, or ``{"does_not_apply": why}`` for a peer that has
    nothing to time on the case's cell."""
    s = json.loads(spec)
    dtype = np.dtype(s["dtype"])
    problem = make_problem(*s["dims"], dtype=dtype, cell=s["cell"])
    set_threads(s["threads"])
    try:
        timed = make_peer(s["peer"], problem, s["kind"], s["threads"])
    except PeerDoesNotApply as exc:
        print(json.dumps({"does_not_apply": str(exc)}))
        return
    if s["peer"] != "reference":
        check_timed(timed, expected_outputs(problem, s["kind"]), dtype)
    stats = time_interleaved({s["peer"]: timed.fn}, s["seconds"], s["min_rounds"], s["max_rounds"])
    print(json.dumps(stats[s["peer"]]))


def _time_isolated(
    names, cell, dims, kind, threads, dtype, seconds, min_rounds, max_rounds, timeout=900
) -> tuple:
    """Each peer of ``names`` timed on ``cell`` in a fresh process of its own, one after the other.
    Returns ``({peer: stats}, {peer: why})``, the second for the peers that do not apply to
    ``cell`` (no process is started for those the parent already knows of)."""
    stats, not_applicable = {}, {}
    for name in names:
        why = peer_applies(name, cell)
        if why is not None:
            not_applicable[name] = why
            continue
        spec = {
            "peer": name,
            "cell": cell,
            "dims": list(dims),
            "kind": kind,
            "threads": threads,
            "dtype": np.dtype(dtype).name,
            "seconds": seconds,
            "min_rounds": min_rounds,
            "max_rounds": max_rounds,
        }
        code = _TIMING_CHILD
        if name == "torch" and peer_unavailable("torch") is None:
            # PyTorch first, so that it loads the OpenMP runtime with its own default wait policy
            # (lstmcore would load it with OMP_WAIT_POLICY=PASSIVE, see _backend): as shipped.
            code = "import torch; " + code
        result = _run_child(code, [json.dumps(spec)], f"timing {name} in a fresh process", timeout)
        if "does_not_apply" in result:
            not_applicable[name] = result["does_not_apply"]
        else:
            stats[name] = result
    return stats, not_applicable


def _run_child(code: str, args: list, what: str, timeout: float) -> dict:
    """Run ``code`` in a fresh interpreter with ``args`` and return the JSON of its last line of
    output. A failed equal-work check there raises EqualWorkError here; other failures
    RuntimeError naming ``what``."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        if "EqualWorkError" in last:
            raise EqualWorkError(last.split(":", 1)[-1].strip())
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
