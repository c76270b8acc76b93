"""``lstmcore tune``: measure the LSTM's plans on this machine and keep the winners
(lstmcore.benchmark.tune measures, lstmcore.engine._tuned keeps and reads back)."""

from __future__ import annotations

import os
from pathlib import Path


def parse_assume(text: str) -> dict:
    """'isa=avx2,l2=1M,l1d=32K' -> {'isa': 'avx2', 'l2': 1048576, 'l1d': 32768}."""
    from ..engine import _machine

    out: dict = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in ("isa", "l1d", "l2"):
            raise ValueError(
                f"--assume: expected isa=NAME, l1d=SIZE or l2=SIZE separated by commas, got {part!r}"
            )
        out[name] = value.strip().lower() if name == "isa" else _machine.parse_size(value)
    if not out:
        raise ValueError(f"--assume: expected isa=NAME, l1d=SIZE or l2=SIZE, got {text!r}")
    return out


def _apply_assume(assume: dict) -> None:
    """Run this process as on a machine with these caches and instruction set (the plans are kept
    in that machine's section of the file: later runs with the same LSTMCORE_L1D, LSTMCORE_L2 and
    LSTMCORE_ISA read them)."""
    from ..engine import _lstm, _machine

    if "isa" in assume:
        _lstm._set_kernel_isa(assume["isa"])
        os.environ["LSTMCORE_ISA"] = assume["isa"]
    for key in ("l1d", "l2"):
        if key in assume:
            os.environ[_machine._ENV[key]] = str(assume[key])
    if "l2" in assume:
        _lstm._set_l2(assume["l2"])


def _shapes(args) -> list:
    from ..benchmark import SHAPES

    shapes = [SHAPES[name][:4] for name in (args.shapes or [])]
    shapes += list(args.shape or [])
    if not shapes:  # the benchmark's sequence shapes
        shapes = [v[:4] for v in SHAPES.values() if "step" not in v[4]]
    return shapes


def _show(path) -> int:
    from ..benchmark.report import _fmt_time
    from ..benchmark.tune import label
    from ..engine import _tuned

    print(f"measured plans: {path or 'none (LSTMCORE_TUNE_FILE=off)'}")
    print(f"this machine: {_tuned.machine()} (key {_tuned.machine_key()})")
    plans = _tuned.plans_for_machine(_tuned.read(path)) if path is not None else []
    if not plans:
        print("  no measured plans for this machine: every call follows the rules")
    for e in plans:
        gain = ""
        if "rules_inference_s" in e:
            gain = f"  inference {_fmt_time(e['inference_s'])} vs rules {_fmt_time(e['rules_inference_s'])}"
        if "rules_train_s" in e:
            gain += f", train {_fmt_time(e['train_s'])} vs rules {_fmt_time(e['rules_train_s'])}"
        print(
            f"  {e['isa']} {e['dtype']} {e['threads']}T B={e['B']} I={e['I']} H={e['H']}:"
            f" {label(e['plan'])}{gain} ({e.get('measured', '?')})"
        )
    return 0


def _tune_command(args) -> int:
    import lstmcore

    from ..benchmark.problems import _check_threads
    from ..benchmark.report import _fmt_time
    from ..benchmark.tune import label, tune
    from ..engine import _tuned

    if args.assume:
        _apply_assume(parse_assume(args.assume))
    path = _tuned.tune_file() if args.file is None else Path(args.file)
    if args.show:
        return _show(path)
    if args.forget:
        n = _tuned.forget(path)
        print(f"dropped {n} measured plan(s) of this machine from {path}")
        return 0
    if lstmcore.backend != "compiled":
        raise ValueError("lstmcore tune needs the compiled backend (LSTMCORE_BACKEND is 'reference')")
    threads = _check_threads(args.threads)
    from ..engine import _lstm

    print(f"tuning on {_tuned.machine()['cpu']}, kernels {_lstm._kernel_isa()}, threads {threads}")

    def report(shape, dtype, n, result):
        inf, rules = result["inference"], result["rules"]
        best = min(inf, key=inf.get)
        how = "packed" if rules["path"] == "packed" else "blas"
        if rules["path"] == "packed" and rules.get("split"):
            how += f"/{rules['split']}"
        line = (
            f"B,T,I,H={','.join(map(str, shape))} {dtype} {n}T: rules ({how}) {_fmt_time(inf['rules'])},"
            f" best {best} {_fmt_time(inf[best])} ({inf[best] / inf['rules']:.2f}x)"
        )
        if result["train"]:
            tr = result["train"]
            tbest = min(tr, key=tr.get)
            line += f"; train: {tbest} {_fmt_time(tr[tbest])} ({tr[tbest] / tr[next(iter(tr))]:.2f}x)"
        entry = result["entry"]
        line += f" -> {'kept: ' + label(entry['plan']) if entry else 'rules kept'}"
        print(line, flush=True)

    kept, measured = tune(
        _shapes(args),
        dtypes=args.dtype,
        threads=threads,
        seconds=args.seconds,
        margin=args.margin,
        training=not args.no_train,
        report=report,
    )
    if args.dry_run:
        print(f"{len(kept)} plan(s) beat the rules; not kept (--dry-run)")
        return 0
    if path is None:
        print(f"{len(kept)} plan(s) beat the rules; not kept (LSTMCORE_TUNE_FILE=off)")
        return 0
    _tuned.save(kept, path, drop=measured)
    _tuned.load(path)
    print(f"{len(kept)} plan(s) beat the rules; kept in {path} (lstmcore tune --show lists them)")
    return 0
