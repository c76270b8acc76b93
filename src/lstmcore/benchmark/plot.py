"""The chart of the ratios (matplotlib, optional)."""

import numpy as np

from .peers import PEERS
from .problems import INSTRUMENTS

_NEED_MATPLOTLIB = "the chart needs matplotlib: pip install 'lstmcore[plot]' (or: pip install matplotlib)"


def plot_ratios(results: dict, path) -> None:
    """Draw peer/lstmcore per case (log scale, a line at 1) to the PNG ``path``; needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_NEED_MATPLOTLIB) from exc
    cases = [c for c in results["cases"] if "lstmcore" in c["peers"]]
    labels = [f"{c.get('cell', 'lstm')} {c['shape']} {c['kind']} {c['threads']}t" for c in cases]
    others = [p for p in PEERS if p not in ("lstmcore", *INSTRUMENTS) and any(p in c["peers"] for c in cases)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(cases) + 2), 4.5))
    xs = np.arange(len(cases))
    for k, peer in enumerate(others):
        pts = [
            (i, c["peers"][peer]["median_s"] / c["peers"]["lstmcore"]["median_s"])
            for i, c in zip(xs, cases, strict=True)
            if peer in c["peers"]
        ]
        if pts:
            i, r = zip(*pts, strict=True)
            ax.plot(np.asarray(i) + (k - (len(others) - 1) / 2) * 0.08, r, "o", label=f"{peer} / lstmcore")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(xs, labels, rotation=45, ha="right")
    ax.set_ylabel("time ratio (above 1: lstmcore is faster)")
    m = results["machine"]
    ax.set_title(f"lstmcore bench: {m['cpu']}, {m['cpu_count']} cores")
    if others:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
