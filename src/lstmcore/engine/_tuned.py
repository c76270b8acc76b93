"""Measured plans: what ``lstmcore tune`` found fastest on this machine, read back by the engine.

The plain LSTM's plan (the rules of engine/_lstm.pyx and csrc/cells/lstm_gates.c) comes from the
shape and what the machine reports: cache sizes, instruction set, threads. ``lstmcore tune``
(lstmcore.benchmark.tune) times the candidate plans of given shapes here and keeps each winner
that beat the rules' plan in a small JSON file; the engine reads the file when it is imported and
follows a measured plan in every call that matches one:

- the same kernels (instruction set), dtype, thread count, input size I and hidden size H,
- a batch B within a factor 2 of the measured one (the nearest entry wins; T does not matter:
  the time per step is what the plans change).

Other calls follow the rules. The file is ``LSTMCORE_TUNE_FILE`` (a path; ``off``: none is read or
written), else ``$XDG_CACHE_HOME/lstmcore/tuned.json`` (``~/.cache/lstmcore/tuned.json``). It keeps
one section per machine (CPU model, logical CPUs, L1d and L2 sizes: ``machine()``), so that a home
directory shared by several machines keeps each one's plans; a file that cannot be read is
ignored, with a warning.

A plan (an entry's ``"plan"``) names its choices; what each one means:

- ``path``: ``packed`` (lstmcore's packed kernels, [w_x; w_h] streamed per step) or ``blas``
  (one product for x @ w_x, a BLAS product per step for h @ w_h);
- ``threads``: ``all`` (the packed kernels on every thread asked for) or ``one``;
- ``split``: with several threads, ``rows`` (each its own batch rows) or ``panels`` (each its
  own panels of the weights, meeting once per step);
- ``row_block``: ``auto`` (the kernels' choice: 6 rows with AVX-512 or AVX2) or ``4``;
- ``prefetch``: ``never`` or ``always`` bring the next panel into the L2 (``auto``: the rule);
- ``grads``: where a training step's dx and weight-gradient products run: ``auto``, ``packed``,
  ``blas`` or ``blocked`` (the weight gradients in the cache-blocked kernel, AVX-512).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import _machine
from ._threads import cpu_count

VERSION = 1
ENV = "LSTMCORE_TUNE_FILE"
ISAS = ("generic", "avx2", "avx512")
# each choice of a plan: its names, in the order of the kernels' codes (_lstm._set_tuned)
CHOICES = {
    "path": ("blas", "packed"),
    "threads": ("all", "one"),
    "split": ("auto", "rows", "panels"),
    "row_block": ("auto", "4"),
    "prefetch": ("auto", "never", "always"),
    "grads": ("auto", "packed", "blas", "blocked"),
}
RULES = {"threads": "all", "split": "auto", "row_block": "auto", "prefetch": "auto", "grads": "auto"}
KEY = ("isa", "dtype", "threads", "B", "I", "H")

_installed: list = []  # the entries installed now, in the order of _lstm._tuned_rows()


def tune_file() -> Path | None:
    """Where the measured plans are kept: LSTMCORE_TUNE_FILE, or the user's cache directory;
    None when LSTMCORE_TUNE_FILE is 'off'."""
    env = os.environ.get(ENV, "").strip()
    if env.lower() == "off":
        return None
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if cache else Path.home() / ".cache") / "lstmcore" / "tuned.json"


def machine() -> dict:
    """What a section of the file is kept for: the CPU model, logical CPUs, and the L1d and L2
    sizes the plans read (LSTMCORE_L1D / LSTMCORE_L2 included: plans measured for assumed caches
    stay apart from the machine's own)."""
    caches = _machine.caches()
    return {
        "cpu": _machine.cpu_model(),
        "cpus": cpu_count(),
        "l1d": caches["l1d"][0],
        "l2": caches["l2"][0],
    }


def machine_key(info: dict | None = None) -> str:
    """A short name for machine(): 16 hex digits of its hash."""
    text = json.dumps(info if info is not None else machine(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_entry(entry) -> dict:
    """A measured plan as the file keeps it, checked: ValueError naming what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"expected a measured plan as a JSON object, got {type(entry).__name__}")
    missing = [k for k in (*KEY, "plan") if k not in entry]
    if missing:
        raise ValueError(f"a measured plan needs {', '.join(missing)}; got keys {sorted(entry)}")
    if entry["isa"] not in ISAS:
        raise ValueError(f"isa: expected one of {ISAS}, got {entry['isa']!r}")
    if entry["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype: expected float32 or float64, got {entry['dtype']!r}")
    for name, low in (("threads", 1), ("B", 1), ("I", 0), ("H", 1)):
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    plan = entry["plan"]
    if not isinstance(plan, dict) or "path" not in plan:
        raise ValueError(f"plan: expected an object with at least 'path', got {plan!r}")
    for name, value in plan.items():
        if name not in CHOICES:
            raise ValueError(f"plan: unknown choice {name!r} (expected among {', '.join(CHOICES)})")
        if value not in CHOICES[name]:
            raise ValueError(f"plan {name}: expected one of {CHOICES[name]}, got {value!r}")
    return entry


def _row(entry: dict) -> tuple:
    """An entry as the kernels' table takes it (_lstm._set_tuned)."""
    plan = {**RULES, **entry["plan"]}
    return (
        ISAS.index(entry["isa"]),
        np.dtype(entry["dtype"]).itemsize,
        entry["threads"],
        entry["B"],
        entry["I"],
        entry["H"],
        CHOICES["path"].index(plan["path"]),
        CHOICES["threads"].index(plan["threads"]),
        CHOICES["split"].index(plan["split"]),
        0 if plan["row_block"] == "auto" else 4,
        CHOICES["prefetch"].index(plan["prefetch"]),
        CHOICES["grads"].index(plan["grads"]),
    )


def install(entries) -> int:
    """Make the engine follow these measured plans (replacing those it followed); returns how many.
    The NumPy reference backend has no plans: nothing is installed there."""
    from . import _backend

    entries = [check_entry(e) for e in entries]
    if _backend.NAME != "compiled":
        return 0
    from . import _lstm

    _lstm._set_tuned([_row(e) for e in entries])
    _installed[:] = entries
    return len(entries)


def installed() -> list:
    """The measured plans the engine follows now (copies)."""
    return [dict(e) for e in _installed]


def lookup(B: int, I: int, H: int, dtype="float32", threads: int | None = None) -> dict | None:
    """The measured plan a call of that shape follows now, or None (the rules)."""
    from . import _backend

    if _backend.NAME != "compiled" or not _installed:
        return None
    from . import _lstm

    k = _lstm._tuned_index(B, I, H, np.dtype(dtype).itemsize, threads)
    if k is None or k >= len(_installed) or _lstm._tuned_rows()[k] != _row(_installed[k]):
        return None  # not a plan installed by install() (the tuner's own, while it times them)
    return dict(_installed[k])


def read(path: Path | None = None) -> dict:
    """The whole file: {'version': 1, 'machines': {key: {'machine': {...}, 'plans': [...]}}};
    an empty one when it does not exist. ValueError when it is not such a file."""
    path = tune_file() if path is None else Path(path)
    empty = {"version": VERSION, "machines": {}}
    if path is None or not path.exists():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a file of measured plans ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected a file of measured plans, version {VERSION}; got {found!r}")
    if not isinstance(data.get("machines"), dict):
        raise ValueError(f"{path}: expected 'machines' to be an object")
    return data


def plans_for_machine(data: dict, key: str | None = None) -> list:
    """This machine's (or key's) measured plans in a file's data, checked."""
    section = data["machines"].get(machine_key() if key is None else key)
    if section is None:
        return []
    plans = section.get("plans") if isinstance(section, dict) else None
    if not isinstance(plans, list):
        raise ValueError("expected a machine's 'plans' to be a list")
    return [check_entry(e) for e in plans]


def load(path: Path | None = None) -> int:
    """Install this machine's measured plans from the file (at import); returns how many. A file
    that cannot be read installs none and warns."""
    path = tune_file() if path is None else Path(path)
    if path is None or not path.exists():
        return install([])
    try:
        return install(plans_for_machine(read(path)))
    except ValueError as exc:
        warnings.warn(f"lstmcore: measured plans not used: {exc}", RuntimeWarning, stacklevel=2)
        return install([])


def _key(entry: dict) -> tuple:
    return tuple(entry[k] for k in KEY)


def save(entries, path: Path | None = None, replace: bool = False, drop=()) -> Path:
    """Keep measured plans in the file, in this machine's section: each replaces one of the same
    key (kernels, dtype, threads, B, I, H); replace=True drops the section's others first, and
    those with the key of an entry of drop (measured again, the rules won) go. Returns the path."""
    path = tune_file() if path is None else Path(path)
    if path is None:
        raise ValueError(f"{ENV} is 'off': measured plans are neither read nor kept")
    entries = [check_entry(dict(e)) for e in entries]
    data = read(path)
    info = machine()
    section = data["machines"].setdefault(machine_key(info), {"machine": info, "plans": []})
    section["machine"] = info
    kept = {} if replace else {_key(e): e for e in plans_for_machine(data)}
    for e in drop:
        kept.pop(_key(e), None)
    for e in entries:
        e.setdefault("measured", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"))
        kept[_key(e)] = e
    section["plans"] = sorted(kept.values(), key=_key)
    _write(path, data)
    return path


def _write(path: Path, data: dict) -> None:
    """The file written whole to a temporary file, then renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def forget(path: Path | None = None) -> int:
    """Drop this machine's measured plans from the file (and from the engine); returns how many."""
    path = tune_file() if path is None else Path(path)
    if path is None or not path.exists():
        install([])
        return 0
    data = read(path)
    n = len(plans_for_machine(data))
    data["machines"].pop(machine_key(), None)
    _write(path, data)
    install([])
    return n
