"""lstmcore.benchmark.programs and ``lstmcore bench --programs``: every Keras program builds, fits
and predicts in lstmcore (and in Keras 3 where keras and torch are installed), the processes'
results reach the table and the JSON. Programs shrunk by LSTMCORE_PROGRAMS_SCALE; no speed is
asserted."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from lstmcore import cli
from lstmcore.benchmark import programs

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any import of keras (its default: TensorFlow)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setenv("LSTMCORE_PROGRAMS_SCALE", "0.004")  # 8 to 32 samples


@pytest.mark.parametrize("name", list(programs.PROGRAMS))
def test_each_program_fits_and_predicts_in_lstmcore(tiny, name):
    got = programs.run_one(name, "lstmcore", 1, 2)
    assert got["program"] == name and got["framework"] == "lstmcore" and got["threads"] == 1
    assert len(got["fit_s"]) == len(got["predict_s"]) == 2
    assert all(t > 0 for t in got["fit_s"] + got["predict_s"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["seed", "conv-autoencoder", "transformer"])
def test_the_same_programs_run_in_keras(tiny, name):
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    got = programs.run_one(name, "keras", 1, 1)
    assert got["framework"] == "keras" and len(got["fit_s"]) == 1 and got["fit_s"][0] > 0


def test_programs_refuse_unknown_names():
    with pytest.raises(ValueError, match="unknown program 'lenet'"):
        programs.run_one("lenet", "lstmcore", 1, 1)
    with pytest.raises(ValueError, match="framework must be one of"):
        programs.run_one("seed", "jax", 1, 1)
    with pytest.raises(ValueError, match=r"unknown programs \['lenet'\]"):
        programs.run_programs(["seed", "lenet"])


def test_run_programs_times_each_framework_in_its_own_processes(tiny):
    lines = []
    results = programs.run_programs(
        ["seed"], threads=[1], rounds=2, epochs=1, frameworks=("lstmcore",), progress=lines.append
    )
    (row,) = results
    assert row["program"] == "seed" and row["threads"] == 1
    assert len(row["times"]["lstmcore"]["fit_s"]) == 2  # one epoch in each of 2 rounds
    assert row["lstmcore_fit_s"] == np.median(row["times"]["lstmcore"]["fit_s"])
    assert "ratio_fit_s" not in row  # no Keras: no ratio
    assert lines and lines[-1].startswith("seed, 1 threads: lstmcore fit")
    table = programs.format_programs(results)
    assert table.splitlines()[1].split()[:2] == ["seed", "1"] and " - " in table


def test_the_table_gives_medians_and_ratios():
    row = {"program": "gru", "threads": 2, "lstmcore_fit_s": 0.5, "keras_fit_s": 2.0, "ratio_fit_s": 4.0}
    row.update(lstmcore_predict_s=0.1, keras_predict_s=0.25, ratio_predict_s=2.5)
    lines = programs.format_programs([row]).splitlines()
    assert lines[0].split()[:2] == ["program", "threads"]
    assert lines[1].split() == ["gru", "2", "0.5", "s", "2", "s", "4", "0.1", "s", "0.25", "s", "2.5"]


def test_a_missing_keras_is_named_with_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a)
    )
    assert programs.available("keras") == programs.INSTALL_HINT
    assert programs.available("lstmcore") is None
    lines = []
    assert programs.run_programs([], frameworks=("keras",), progress=lines.append) == []
    assert lines == [f"keras skipped: {programs.INSTALL_HINT}"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_lstmcore_bench_programs_writes_the_table_and_json(tiny, tmp_path, capsys):
    out = tmp_path / "programs.json"
    assert (
        cli.main(["bench", "--programs", "seed", "--threads", "1", "--rounds", "1", "--json", str(out)]) == 0
    )
    text = capsys.readouterr().out
    assert "seed" in text and "Keras programs with only the imports changed" in text
    (row,) = json.loads(out.read_text())  # Keras's side too where keras and torch are installed
    assert row["program"] == "seed" and len(row["times"]["lstmcore"]["predict_s"]) == 2


def test_lstmcore_bench_refuses_unknown_programs(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--programs", "seed,lenet"])
    assert exc.value.code == 2
    assert "expected names among seed,stacked" in capsys.readouterr().err
