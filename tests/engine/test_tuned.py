"""Measured plans (lstmcore.engine._tuned, lstmcore tune): every plan the tuner can keep gives the
rules' results, a plan applies to the calls it was measured for and no others, and the file of
plans is kept per machine and read back by a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_close

import lstmcore

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")


@pytest.fixture
def tuned():
    """lstmcore.engine._tuned, with no measured plans installed before and after the test."""
    from lstmcore.engine import _tuned

    _tuned.install([])
    yield _tuned
    _tuned.install([])


def _entry(plan, B, I, H, dtype="float32", threads=1, isa=None):
    from lstmcore.engine import _lstm

    return {
        "isa": isa or _lstm._kernel_isa(),
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "B": B,
        "T": 5,
        "I": I,
        "H": H,
        "plan": plan,
    }


def _run(x, w_x, w_h, b, dy, **kw):
    y, h_n, c_n, cache = lstmcore.lstm_forward(x, w_x, w_h, b, return_cache=True, **kw)
    grads = lstmcore.lstm_backward(dy, cache)
    return {"y": y, "h_n": h_n, "c_n": c_n, **grads}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("B, T, I, H", [(14, 5, 33, 36), (3, 4, 5, 50)])
def test_every_candidate_plan_gives_the_rules_results(rng, tuned, isa, dtype, threads, B, T, I, H):
    """Each plan lstmcore tune may keep (and each with the products after the backward loop on
    the packed kernels and on BLAS) computes what the rules' plan computes, forward and backward,
    with lengths and reversed too; the plan report says the measured plan is followed."""
    from lstmcore.benchmark.tune import candidates, label
    from lstmcore.engine import _lstm

    x = rng.standard_normal((B, T, I)).astype(dtype)
    w_x = (rng.standard_normal((I, 4 * H)) * I**-0.5).astype(dtype)
    w_h = (rng.standard_normal((H, 4 * H)) * H**-0.5).astype(dtype)
    b = (rng.standard_normal(4 * H) * 0.3).astype(dtype)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, size=B)
    calls = ({}, {"lengths": lengths}, {"reverse": True})
    saved = lstmcore.get_num_threads()
    lstmcore.set_num_threads(threads)
    try:
        want = [_run(x, w_x, w_h, b, dy, **kw) for kw in calls]
        plans = candidates(isa, threads)
        plans += [dict(p, grads=g) for p in plans if p["path"] == "packed" for g in ("packed", "blas")]
        for plan in plans:
            tuned.install([_entry(plan, B, I, H, dtype, threads)])
            report = _lstm._seq_plan(B, T, I, H, np.dtype(dtype).itemsize)
            assert report["tuned"] == 0 and report["path"] == plan["path"], label(plan)
            if plan["path"] == "packed":
                if plan["threads"] == "one":
                    assert report["threads"] == 1
                if plan.get("grads") in ("packed", "blas"):
                    assert report["training"]["dx"] == plan["grads"]
            for kw, expected in zip(calls, want, strict=True):
                got = _run(x, w_x, w_h, b, dy, **kw)
                for name, value in expected.items():
                    assert_close(got[name], value, dtype, name=f"{name} {label(plan)} {kw}", scale=4)
    finally:
        lstmcore.set_num_threads(saved)


def test_a_plan_applies_to_its_key_and_batches_within_a_factor_2(tuned):
    from lstmcore.engine import _lstm

    isa = _lstm._kernel_isa()
    tuned.install(
        [
            _entry({"path": "blas"}, 16, 8, 32),
            _entry({"path": "packed", "row_block": "4"}, 64, 8, 32),
            _entry({"path": "blas"}, 16, 8, 32, threads=2),
        ]
    )
    assert tuned.lookup(16, 8, 32, threads=1)["B"] == 16
    assert tuned.lookup(8, 8, 32, threads=1)["B"] == 16  # a factor 2 below
    assert tuned.lookup(7, 8, 32, threads=1) is None  # more than a factor 2 below
    assert tuned.lookup(31, 8, 32, threads=1)["B"] == 16  # nearer 16 than 64 (ratios 1.94 and 2.06)
    assert tuned.lookup(33, 8, 32, threads=1)["B"] == 64
    assert tuned.lookup(128, 8, 32, threads=1)["B"] == 64
    assert tuned.lookup(129, 8, 32, threads=1) is None
    assert tuned.lookup(16, 8, 32, threads=2)["threads"] == 2
    assert tuned.lookup(16, 8, 32, threads=3) is None
    assert tuned.lookup(16, 9, 32, threads=1) is None and tuned.lookup(16, 8, 33, threads=1) is None
    assert tuned.lookup(16, 8, 32, dtype="float64", threads=1) is None
    assert _lstm._seq_plan(16, 10, 8, 32, 4, 1)["path"] == "blas"
    assert _lstm._seq_plan(16, 10, 8, 32, 8, 1)["tuned"] is None
    if isa != "generic":  # plans of other kernels do not apply
        _lstm._set_kernel_isa("generic")
        try:
            assert tuned.lookup(16, 8, 32, threads=1) is None
        finally:
            _lstm._set_kernel_isa(isa)
    tuned.install([])
    assert tuned.lookup(16, 8, 32, threads=1) is None and _lstm._tuned_rows() == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"isa": "sse"}, "isa: expected one of"),
        ({"dtype": "float16"}, "dtype: expected float32 or float64"),
        ({"threads": 0}, "threads: expected an integer >= 1"),
        ({"B": 2.5}, "B: expected an integer"),
        ({"H": True}, "H: expected an integer"),
        ({"plan": {"threads": "all"}}, "plan: expected an object with at least 'path'"),
        ({"plan": {"path": "gpu"}}, r"plan path: expected one of \('blas', 'packed'\), got 'gpu'"),
        ({"plan": {"path": "packed", "tiles": 3}}, "unknown choice 'tiles'"),
        ({"plan": {"path": "packed", "row_block": 6}}, r"plan row_block: expected one of \('auto', '4'\)"),
    ],
)
def test_bad_plans_are_refused(tuned, change, message):
    entry = {**_entry({"path": "packed"}, 4, 3, 5), **change}
    with pytest.raises(ValueError, match=message):
        tuned.install([entry])
    with pytest.raises(ValueError, match="a measured plan needs B, plan"):
        tuned.check_entry({"isa": "generic", "dtype": "float32", "threads": 1, "I": 1, "H": 1})


def test_the_kernels_table_refuses_bad_rows(tuned):
    from lstmcore.engine import _lstm

    with pytest.raises(ValueError, match="rows of 12 ints"):
        _lstm._set_tuned([(0, 4, 1)])
    with pytest.raises(ValueError, match="within"):
        _lstm._set_tuned([(0, 4, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0)])  # 0 threads
    with pytest.raises(ValueError, match="itemsize 4 or 8"):
        _lstm._set_tuned([(0, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)])
    with pytest.raises(ValueError, match="at most"):
        _lstm._set_tuned([(0, 4, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)] * 5000)
    assert _lstm._tuned_rows() == []


def test_the_file_keeps_a_section_per_machine(tmp_path, tuned):
    path = tmp_path / "sub" / "tuned.json"
    a = _entry({"path": "blas"}, 16, 8, 32)
    b = _entry({"path": "packed", "prefetch": "never"}, 64, 8, 32)
    assert tuned.save([a, b], path) == path
    data = json.loads(path.read_text())
    key = tuned.machine_key()
    assert data["version"] == 1 and list(data["machines"]) == [key]
    assert data["machines"][key]["machine"] == tuned.machine()
    # another machine's section is kept, and never installed here
    data["machines"]["0123456789abcdef"] = {"machine": {"cpu": "other"}, "plans": [dict(a, B=1)]}
    path.write_text(json.dumps(data))
    assert tuned.load(path) == 2
    assert [e["B"] for e in tuned.installed()] == [16, 64]
    # a plan measured again replaces the old one; one whose rules won is dropped
    tuned.save([dict(a, plan={"path": "packed"})], path, drop=[b])
    plans = tuned.plans_for_machine(tuned.read(path))
    assert [(e["B"], e["plan"]) for e in plans] == [(16, {"path": "packed"})]
    assert "measured" in plans[0]
    assert tuned.forget(path) == 1
    assert tuned.installed() == [] and tuned.plans_for_machine(tuned.read(path)) == []
    assert "0123456789abcdef" in tuned.read(path)["machines"]


def test_the_file_is_found_from_the_environment(tmp_path, monkeypatch, tuned):
    monkeypatch.setenv("LSTMCORE_TUNE_FILE", "off")
    assert tuned.tune_file() is None
    assert tuned.load() == 0
    with pytest.raises(ValueError, match="'off'"):
        tuned.save([])
    monkeypatch.setenv("LSTMCORE_TUNE_FILE", str(tmp_path / "x.json"))
    assert tuned.tune_file() == tmp_path / "x.json"
    monkeypatch.delenv("LSTMCORE_TUNE_FILE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert tuned.tune_file() == tmp_path / "cache" / "lstmcore" / "tuned.json"
    # the machine's caches are part of its key: plans measured for assumed caches stay apart
    key = tuned.machine_key()
    monkeypatch.setenv("LSTMCORE_L2", "256K")
    assert tuned.machine()["l2"] == 256 * 1024 and tuned.machine_key() != key


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not a file of measured plans"),
        ('{"version": 7, "machines": {}}', "version 1; got 7"),
        ("[1, 2]", "version 1; got 'list'"),
        ('{"version": 1, "machines": []}', "'machines' to be an object"),
    ],
)
def test_an_unreadable_file_warns_and_installs_nothing(tmp_path, tuned, text, message):
    path = tmp_path / "tuned.json"
    path.write_text(text)
    tuned.install([_entry({"path": "blas"}, 4, 3, 5)])
    with pytest.warns(RuntimeWarning, match=message):
        assert tuned.load(path) == 0
    assert tuned.installed() == []
    with pytest.raises(ValueError, match=message):
        tuned.save([], path)


def test_a_bad_plan_in_this_machines_section_warns(tmp_path, tuned):
    path = tmp_path / "tuned.json"
    bad = _entry({"path": "packed", "split": "diagonal"}, 4, 3, 5)
    path.write_text(json.dumps({"version": 1, "machines": {tuned.machine_key(): {"plans": [bad]}}}))
    with pytest.warns(RuntimeWarning, match="plan split: expected one of"):
        assert tuned.load(path) == 0


def test_tune_times_every_candidate_and_keeps_only_a_clear_winner(tuned):
    from lstmcore.benchmark.tune import candidates, label, tune, tune_shape
    from lstmcore.engine import _lstm

    isa = _lstm._kernel_isa()
    result = tune_shape((4, 3, 8, 16), "float64", threads=1, seconds=0.02, margin=0.99)
    # the rules and the candidates, each plan the kernels would follow timed once
    names = {"rules", *(label(p) for p in candidates(isa, 1))}
    assert "rules" in result["inference"] and set(result["inference"]) <= names
    assert len(result["inference"]) >= 2  # BLAS is never the packed kernels' plan
    assert all(v > 0 for v in result["inference"].values())
    assert result["entry"] is None  # nothing runs 100x faster than the rules
    assert result["rules"]["tuned"] is None
    kept, measured = tune([(4, 3, 8, 16)], ("float32",), (1, 2), seconds=0.02, margin=0.99, training=False)
    assert kept == [] and [(m["threads"], m["plan"]) for m in measured] == [(1, None), (2, None)]
    assert _lstm._tuned_rows() == []  # the tuner leaves the table as it found it
    with pytest.raises(ValueError, match="float32 or float64"):
        tune_shape((4, 3, 8, 16), "float16")


def test_a_plan_must_win_by_the_margin_and_in_most_rounds():
    from lstmcore.benchmark.tune import _beats

    rules = {"median_s": 1.0, "times_s": [1.0, 1.0, 1.0]}
    assert _beats({"median_s": 0.9, "times_s": [0.9, 0.9, 1.1]}, rules, 0.03)
    assert not _beats({"median_s": 0.98, "times_s": [0.98, 0.98, 0.98]}, rules, 0.03)  # margin
    assert not _beats({"median_s": 0.9, "times_s": [0.9, 1.1, 1.1]}, rules, 0.03)  # 1 round of 3


def test_candidates_follow_the_kernels_and_threads():
    from lstmcore.benchmark.tune import candidates

    assert candidates("generic", 1) == [
        {"path": "blas"},
        {"path": "packed", "threads": "all", "split": "auto", "row_block": "auto", "prefetch": "auto"},
    ]
    two = candidates("avx512", 2)
    assert len(two) == 1 + 3 * 2 * 2
    assert {(p.get("threads"), p.get("split")) for p in two[1:]} == {
        ("one", "auto"),
        ("all", "rows"),
        ("all", "panels"),
    }


def _lstmcore(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "lstmcore", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_a_fresh_process_follows_the_plans_in_the_file(tmp_path, tuned):
    """lstmcore reads the file when it is imported; info --plan names the measured plan, and tune
    --show lists it."""
    path = tmp_path / "tuned.json"
    tuned.save([_entry({"path": "blas", "grads": "blas"}, 16, 8, 32, threads=1)], path)
    env = {"LSTMCORE_TUNE_FILE": str(path), "LSTMCORE_NUM_THREADS": "1"}
    out = _lstmcore("info", "--plan", "20,10,8,32", "--threads", "1", env=env)
    assert out.returncode == 0, out.stderr
    assert "source: measured by lstmcore tune at B=16" in out.stdout
    assert "path: BLAS product per step" in out.stdout
    out = _lstmcore("info", "--plan", "20,10,8,32", "--threads", "1", env={"LSTMCORE_TUNE_FILE": "off"})
    assert "source: the rules below" in out.stdout
    # on BLAS with 2 threads: the gate maths stay on the calling thread where the workers spin
    tuned.save([_entry({"path": "blas", "grads": "blas"}, 16, 8, 32, threads=2)], path)
    for wait, where in (("PASSIVE", "on 2 threads"), ("ACTIVE", "on the calling thread")):
        out = _lstmcore(
            "info", "--plan", "20,10,8,32", "--threads", "2", env={**env, "OMP_WAIT_POLICY": wait}
        )
        assert out.returncode == 0, out.stderr
        assert "path: BLAS product per step" in out.stdout and f"gate maths: {where}" in out.stdout
    out = _lstmcore("tune", "--show", "--file", str(path))
    assert out.returncode == 0, out.stderr
    assert "1T B=16 I=8 H=32: blas" in out.stdout


def test_the_tune_command_measures_and_keeps(tmp_path):
    path = tmp_path / "tuned.json"
    out = _lstmcore(
        "tune",
        "--shape",
        "4,3,8,16",
        "--threads",
        "1",
        "--seconds",
        "0.02",
        "--file",
        str(path),
        "--no-train",
    )
    assert out.returncode == 0, out.stderr
    assert "B,T,I,H=4,3,8,16 float32 1T: rules" in out.stdout
    assert f"kept in {path}" in out.stdout
    assert path.exists()
    out = _lstmcore("tune", "--forget", "--file", str(path))
    assert out.returncode == 0 and "dropped" in out.stdout
    out = _lstmcore(
        "tune",
        "--assume",
        "isa=generic,l2=256K",
        "--dry-run",
        "--shape",
        "2,3,4,5",
        "--threads",
        "1",
        "--seconds",
        "0.02",
        "--no-train",
        "--file",
        str(path),
    )
    assert out.returncode == 0, out.stderr
    assert "kernels generic" in out.stdout and "--dry-run" in out.stdout
    out = _lstmcore("tune", "--assume", "l3=1M")
    assert out.returncode == 2 and "--assume: expected isa=NAME" in out.stderr
    out = _lstmcore("tune", "--assume", "isa=neon", "--show")
    assert out.returncode == 2 and "isa must be one of" in out.stderr


@pytest.mark.parametrize("value, ok", [("generic", True), ("AVX2", True), ("sse9", False)])
def test_the_kernels_can_be_chosen_from_the_environment(value, ok):
    from lstmcore.engine import _lstm

    code = "import lstmcore; print(lstmcore.engine._lstm._kernel_isa())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LSTMCORE_ISA": value},
    )
    if ok and value.lower() in _lstm._available_isas():
        assert out.returncode == 0 and out.stdout.strip() == value.lower(), out.stderr
    elif not ok:
        assert out.returncode != 0 and "LSTMCORE_ISA: expected one of" in out.stderr


def test_the_plan_names_are_the_kernels_names():
    """_tuned names the codes of _lstm's table (it imports without the compiled engine): the
    names in the same order as the kernels' modes."""
    from lstmcore.engine import _lstm, _tuned

    assert _tuned.ISAS == _lstm._ISAS
    assert _tuned.CHOICES["prefetch"] == _lstm._PREFETCH_MODES
    assert _tuned.CHOICES["grads"] == _lstm._GRAD_MODES
