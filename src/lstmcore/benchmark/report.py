"""The results as JSON and as the text table."""

import json

from .peers import PEERS
from .problems import INSTRUMENTS
from .targets import _memory_list
from .timing import SPREAD_PARTS

# Output -----------------------------------------------------------------------------------------


def save_json(results: dict, path) -> None:
    """Write ``results`` (from :func:`run_benchmark`) to ``path`` as JSON."""
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def _fmt_time(s: float) -> str:
    # three significant digits, in the unit that keeps them below 1000 (999.7 µs is 1 ms)
    if float(f"{s * 1e6:.3g}") < 1000:
        return f"{s * 1e6:.3g} µs"
    if float(f"{s * 1e3:.3g}") < 1000:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


_SHORT = {
    "lstmcore": "lc",
    "reference": "ref",
    "torch": "torch",
    "onnxruntime": "ort",
    "bound": "bound",
    "lstmcore-full": "lc-full",
    "lstmcore-1t": "lc-1t",
}
# Peers shown as lstmcore over them (timing._UNDER), the others as them over lstmcore.
_UNDER = ("bound", "lstmcore-full")


def format_table(results: dict) -> str:
    """The results as text: one row per shape x kind x cell x threads with each peer's median time
    per call and the ratios, then the targets met and not met, the memory and the skipped peers."""
    m = results["machine"]
    v = m["versions"]
    cases = results["cases"]
    peers = [p for p in PEERS if p not in INSTRUMENTS and any(p in c["peers"] for c in cases)]
    ratio_keys = [f"{p}/lstmcore" for p in peers if p not in ("lstmcore", *_UNDER)]
    ratio_keys += [f"lstmcore/{p}" for p in _UNDER if p in peers and "lstmcore" in peers]
    software = ", ".join(f"{k} {v[k]}" for k in ("lstmcore", "numpy", "torch", "onnxruntime") if v.get(k))
    isa = m.get("threadpool_info", {}).get("kernel_isa")
    kernels = f"lstmcore kernels {isa}, OpenBLAS kernels {m.get('blas_core')}"
    forced = m.get("env", {}).get("OPENBLAS_CORETYPE")
    if forced:
        kernels += f" (forced by OPENBLAS_CORETYPE={forced})"
    lines = [
        f"lstmcore bench: {m['cpu']} ({m.get('cpu_isa') or 'ISA unknown'}), {m['cpu_count']} cores, "
        f"{results['settings']['dtype']}, backend {m['backend']}; {kernels}",
        f"{software}; {m['date']}",
        "median time per call, peers interleaved"
        + (
            ""
            if not results["settings"].get("isolate")
            else " (with several threads: each in a process of its own, the processes in turn)"
        )
        + "; ratios peer/lstmcore (above 1: lstmcore is faster) and lstmcore/bound (lc = lstmcore)",
    ]
    if "lstmcore-1t" in peers:
        lines.append(
            "lc-1t: lstmcore on 1 thread, beside a case of several threads; lc-1t/lc: its scaling, "
            "timed side by side"
        )
    if "lstmcore-full" in peers:
        lines.append(
            "lc-full: lstmcore on the -lengths batch at full length; lc/lc-full: the share of that time "
            "the lengths take"
        )
    lines.append("")
    with_peak = any(c.get("peak_share") is not None for c in cases)
    beside = any(c.get("peak_beside") for c in cases)
    headers = ["shape", "kind", "cell", "threads"] + peers
    headers += ["/".join(_SHORT[p] for p in k.split("/")) for k in ratio_keys]
    headers += ["lc GFLOP/s"] + (["peak GFLOP/s"] if beside else []) + ["of peak"] if with_peak else []
    headers += ["rounds"]
    rows = []
    for c in cases:
        row = [c["shape"], c["kind"], c.get("cell", "lstm"), str(c["threads"])]
        row += [_fmt_time(c["peers"][p]["median_s"]) if p in c["peers"] else "-" for p in peers]
        row += [f"{c['ratios'][k]:.2f}" if k in c["ratios"] else "-" for k in ratio_keys]
        if with_peak:
            share, peak = c.get("peak_share"), c.get("peak_gflops")
            row.append("-" if c.get("lstmcore_gflops") is None else f"{c['lstmcore_gflops']:.1f}")
            if beside:
                row.append("-" if peak is None else f"{peak:.1f}" + ("" if c.get("peak_beside") else "*"))
            row.append("-" if share is None else f"{100 * share:.0f}%")
        rounds = (s["rounds"] for p, s in c["peers"].items() if p not in INSTRUMENTS)
        row.append(str(min(rounds, default=0)))
        rows.append(row)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        cols = [r[i].ljust(widths[i]) if i < 3 else r[i].rjust(widths[i]) for i in range(len(r))]
        lines.append("  ".join(cols).rstrip())
    dims = {c["shape"]: c["dims"] for c in cases}
    if dims:
        lines.append("shapes (B, T, I, H): " + ", ".join(f"{k} {tuple(d)}" for k, d in dims.items()))
    peaks = results.get("gemm_peak_gflops") or {}
    if with_peak:
        measured = ", ".join(
            f"{v:.1f} GFLOP/s with {k} thread{'s' if k != '1' else ''}" for k, v in peaks.items()
        )
        where = " (peak GFLOP/s), timed beside the case's peers" if beside else ""
        if measured:  # the run's, measured before the cases
            where += f"; *: the run's, measured before it: {measured}" if beside else f" ({measured})"
        lines.append(
            "lc GFLOP/s: the products' operations (2 per multiply-add of the GEMM-only bound's products) per "
            f"second of lstmcore; of peak: its share of a large GEMM through the same BLAS{where}"
        )
    left_out = {p: {} for p in peers}  # peer: the cells it does not apply to, a '-' in its column
    for c in cases:
        for p in c.get("not_applicable", {}):
            if p in peers:
                left_out[p][c.get("cell", "lstm")] = None
    left_out = {p: cells for p, cells in left_out.items() if cells}  # (the JSON says why)
    if left_out:
        lines.append(
            "-: " + "; ".join(f"{p} does not apply to {', '.join(cells)}" for p, cells in left_out.items())
        )
    targets = results.get("targets") or []
    if not targets and results.get("targets_title"):
        lines += ["", f"targets of {results['targets_title']}: none of them at the cases of this run"]
    if targets:
        met = sum(t["met"] for t in targets)
        title = results.get("targets_title") or "the targets"
        lines += ["", f"targets of {title} (same thread count): {met} of {len(targets)} met"]
        missed = [t for t in targets if not t["met"]]
        spreads = any(t.get("spread") for t in targets)
        if spreads:
            close = sum(bool(t.get("in_spread")) for t in missed)
            lines.append(
                f"  parts: the ratio in each of the {SPREAD_PARTS} parts of the case's time (its bursts,"
                " or its rounds in one process cut in runs), lowest-highest; ~: the goal lies within"
                f" them ({close} of the {len(missed)} not met)"
            )
        for t in targets:
            mark = "met    " if t["met"] else "NOT MET"
            if spreads:
                mark += " ~" if t.get("in_spread") else "  "
            n = t["threads"]
            where = f"{t.get('cell', 'lstm')} {t['shape']} {t['kind']}, {n} thread{'s' if n != 1 else ''}"
            spread = t.get("spread")
            parts = "" if not spread else f"; parts {spread[0]:.3g}-{spread[1]:.3g}"
            goal = f"goal {t['op']} {t['goal']:.3g}{parts}"
            lines.append(f"  {mark}  {where}: {t['ratio']} = {t['value']:.3g} ({goal})")
    for mem in _memory_list(results.get("memory")):
        cell = mem.get("cell", "lstm")
        lines += [
            "",
            f"peak extra memory of one {cell} training step at {mem['shape']} {tuple(mem['dims'])}:",
        ]
        for p, r in mem["peers"].items():
            lines.append(f"  {p:<12}{r['extra_mib']:10.1f} MiB")
        for p, why in mem["skipped"].items():
            lines.append(f"  {p:<12} skipped: {why}")
    if results.get("skipped"):
        lines += ["", "skipped peers:"] + [f"  {why}" for why in results["skipped"].values()]
    return "\n".join(lines) + "\n"
