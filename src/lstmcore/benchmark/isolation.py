"""Runs in fresh processes: the peak memory of a training step, and the timing of the peers with
several threads, each in a process of its own (thread pools of different libraries in one process
take cores from each other), the processes timed in turn."""

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from .peers import make_peer, peer_applies, peer_kinds, peer_switches, peer_unavailable
from .problems import (
    BESIDE_LSTMCORE,
    INSTRUMENTS,
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
from .timing import round_stats, set_threads, time_interleaved

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


_TIMING_SERVER = (
    "import sys; from lstmcore.benchmark.isolation import _timing_server; _timing_server(sys.argv[1])"
)
_MARK = "lstmcore-bench-reply "  # the lines of a timing server that are its replies
_BURSTS = 4  # bursts of each peer per case, in turn with the others'
_SETTLE_S = 0.05  # pause between two bursts: the thread pools of the one that ran go idle


def _timing_server(spec: str) -> None:
    """In a fresh process: build one peer on one case (checked against the reference first), reply
    ``{"ready": true}`` (or ``{"does_not_apply": why}`` and end), then time it for each burst asked
    on stdin, one JSON line ``{"seconds", "min_rounds", "max_rounds"}`` each, replying with the
    burst's stats; an empty line or the end of stdin ends it. Replies are stdout lines that start
    with _MARK (a library may print lines of its own). The spec's ``beside`` (optional:
    BESIDE_LSTMCORE's that apply to the cell) are timed in the same bursts, lstmcore-1t switched
    to one thread around its calls, the instruments in rounds of their own (time_interleaved's
    ``sparse``); the reply is then ``{name: stats}`` for the peer and them."""
    s = json.loads(spec)
    dtype = np.dtype(s["dtype"])
    problem = make_problem(*s["dims"], dtype=dtype, cell=s["cell"])
    set_threads(s["threads"])
    try:
        timed = make_peer(s["peer"], problem, s["kind"], s["threads"])
    except PeerDoesNotApply as exc:
        print(_MARK + json.dumps({"does_not_apply": str(exc)}), flush=True)
        return
    beside = [make_peer(name, problem, s["kind"], s["threads"]) for name in s.get("beside", ())]
    checked = [t for t in [timed, *beside] if t.peer != "reference" and t.outputs is not None]
    if checked:  # (an instrument has nothing to check)
        expected = expected_outputs(problem, s["kind"])
        for t in checked:
            check_timed(t, expected, dtype)
    fns = {t.peer: t.fn for t in [timed, *beside]}
    beside = [t.peer for t in beside]
    sparse = [name for name in beside if name in INSTRUMENTS]
    switch = peer_switches(beside, s["threads"])
    print(_MARK + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        b = json.loads(line)
        stats = time_interleaved(
            fns, b["seconds"], b["min_rounds"], b["max_rounds"], sparse=sparse, switch=switch
        )
        print(_MARK + json.dumps(stats if beside else stats[s["peer"]]), flush=True)


class _Server:
    """A timing server (_timing_server) in a child process, its replies read by a thread of ours."""

    def __init__(self, code: str, spec: dict, what: str):
        self.what = what
        self.err = tempfile.TemporaryFile(mode="w+")  # a file: a full pipe would block the child
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
        )
        self.replies: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(_MARK):
                self.replies.put(json.loads(line[len(_MARK) :]))
        self.replies.put(None)  # the child's stdout closed: it ended

    def reply(self, timeout: float) -> dict:
        """The next reply; the child's failure (EqualWorkError for a failed equal-work check) or
        silence past ``timeout`` raised here."""
        try:
            msg = self.replies.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise RuntimeError(f"{self.what}: no reply in {timeout:g} s") from None
        if msg is not None:
            return msg
        code = self.proc.wait()
        self.err.seek(0)
        raise _child_failure(self.what, code, self.err.read())

    def ask(self, burst: dict, timeout: float) -> dict:
        self.proc.stdin.write(json.dumps(burst) + "\n")
        self.proc.stdin.flush()
        return self.reply(timeout)

    def close(self):
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=60)  # it reads to the end of the child's stdout, then stops
        self.proc.stdout.close()
        self.err.close()


def _merged(bursts: list) -> dict:
    """One peer's stats over its bursts: every round of every burst, and each burst's median
    (``burst_medians_s``, in time order: the parts of a ratio's spread, timing._spreads)."""
    times = [v for b in bursts for v in b["times_s"]]
    medians = [float(b["median_s"]) for b in bursts]
    stats = round_stats(times, bursts[-1]["calls_per_round"])
    return {**stats, "bursts": len(bursts), "burst_medians_s": medians}


def _time_isolated(
    names, cell, dims, kind, threads, dtype, seconds, min_rounds, max_rounds, timeout=900, bursts=_BURSTS
) -> tuple:
    """Each peer of ``names`` timed on ``cell`` in a process of its own, the processes in turn:
    all are started and set up first, then each times ``bursts`` bursts of ``seconds / bursts``,
    one process at a time, the order rotating, so that a machine whose speed drifts (other work,
    a shared cache) slows every peer alike instead of the one that ran at that moment.
    lstmcore-1t, lstmcore-full and the instruments (gemm-peak) run in lstmcore's process, in its
    bursts, where lstmcore is timed (BESIDE_LSTMCORE): a third process in the turns that imports
    lstmcore made lstmcore's S3 inference on 2 threads slower on a 2-core VM (lstmcore / ONNX
    Runtime, median 0.945 in 14 runs with one, 1.04 in 9 without; in lstmcore's process, no
    change), and a ratio of two of lstmcore's own times compares one moment. Returns
    ``({peer: stats}, {peer: why})``, the second for the peers that do not apply to ``cell`` (no
    process is started for those the parent already knows of)."""
    stats, not_applicable, servers = {}, {}, {}
    beside = (
        [n for n in names if n in BESIDE_LSTMCORE and peer_applies(n, cell) is None]
        if "lstmcore" in names
        else []
    )
    try:
        for name in names:
            why = peer_applies(name, cell)
            if why is not None:
                not_applicable[name] = why
                continue
            if name in beside:
                continue
            spec = {"peer": name, "cell": cell, "dims": list(dims), "kind": kind, "threads": threads,
                    "dtype": np.dtype(dtype).name}  # fmt: skip
            if name == "lstmcore" and beside:
                spec["beside"] = beside
            code = _TIMING_SERVER
            if name == "torch" and peer_unavailable("torch") is None:
                # PyTorch first, so that it loads the OpenMP runtime with its own default wait
                # policy (lstmcore would load it with OMP_WAIT_POLICY=PASSIVE, see _backend): as
                # shipped.
                code = "import torch; " + code
            servers[name] = _Server(code, spec, f"timing {name} in a process of its own")
        for name in list(servers):  # every one set up before any is timed
            ready = servers[name].reply(timeout)
            if "does_not_apply" in ready:
                not_applicable[name] = ready["does_not_apply"]
                servers.pop(name).close()
        k = max(1, int(bursts))
        burst = {
            "seconds": seconds / k,
            "min_rounds": max(1, -(-min_rounds // k)),
            "max_rounds": max(1, max_rounds // k),
        }
        order, got = list(servers), {name: [] for name in servers}
        for i in range(k if order else 0):
            for name in order[i % len(order) :] + order[: i % len(order)]:
                got[name].append(servers[name].ask(burst, timeout))
                time.sleep(_SETTLE_S)
        if beside and "lstmcore" in got:  # lstmcore's replies hold the instruments' stats too
            replies = got["lstmcore"]
            got.update((name, [r[name] for r in replies]) for name in ["lstmcore", *beside])
        stats = {name: _merged(got[name]) for name in names if name in got}
    finally:
        for server in servers.values():
            server.close()
    return stats, not_applicable


def _run_child(code: str, args: list, what: str, timeout: float) -> dict:
    """Run ``code`` in a fresh interpreter with ``args`` and return the JSON of its last line of
    output. A failed equal-work check there raises EqualWorkError here; other failures
    RuntimeError naming ``what``."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise _child_failure(what, proc.returncode, proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_failure(what: str, code: int, stderr: str) -> Exception:
    """The error a failed child stands for: EqualWorkError for a failed equal-work check (the last
    line of its stderr), else RuntimeError naming ``what`` with the end of its stderr."""
    last = (stderr.strip().splitlines() or [""])[-1]
    if "EqualWorkError" in last:
        return EqualWorkError(last.split(":", 1)[-1].strip())
    return RuntimeError(f"{what} failed (exit {code}): {stderr[-2000:]}")
