"""`lstmcore forecast` end to end, with few epochs: bundled data, a user's CSV, the plot, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from lstmcore import load_model
from lstmcore.timeseries.forecast import run_forecast


def run_cli(*args, env_extra=None):
    env = None if env_extra is None else {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "lstmcore", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_forecast_on_the_bundled_series(tmp_path):
    model_path = tmp_path / "sun.lstmcore"
    proc = run_cli("forecast", "--epochs", "2", "--quiet", "--save", str(model_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in (
        "sunspot",
        "LSTM",
        "naive (last value)",
        "seasonal naive (season 132)",
        "RMSE",
        "MAE",
        "forecast for the next 1 step",
    ):
        assert text in out, out
    assert ("beats the best baseline" in out) != ("baseline wins" in out)
    model = load_model(model_path)
    assert model.input_shape == (24, 1) and model.output_shape == (None, 1)


def test_forecast_numbers_are_the_ones_computed(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.arange(400)
    values = 10 + np.sin(2 * np.pi * t / 25) * 3 + rng.normal(0, 0.2, t.size)
    result = run_forecast(values, window=12, horizon=3, epochs=3, season=25, verbose=False)
    true = result["test_true"]
    assert true.shape == result["test_pred"].shape and true.shape[1] == 3
    origins = result["test_origins"]
    assert origins.min() >= result["split"] - 1  # every test target lies after the split
    np.testing.assert_array_equal(true, values[origins[:, None] + np.arange(1, 4)])
    naive = np.repeat(values[origins][:, None], 3, axis=1)
    assert result["metrics"]["naive"]["rmse"] == pytest.approx(np.sqrt(((true - naive) ** 2).mean()))
    lstm_mae = np.abs(true - result["test_pred"]).mean()
    assert result["metrics"]["lstm"]["mae"] == pytest.approx(lstm_mae)
    assert result["forecast"].shape == (3,)


def test_forecast_on_a_csv_with_plot(tmp_path):
    pytest.importorskip("matplotlib")
    csv = tmp_path / "demand.csv"
    t = np.arange(300)
    demand = 100 + 20 * np.sin(2 * np.pi * t / 7) + 0.1 * t
    rows = ["day,demand,other"] + [f"2020-01-{k:03d},{v:.3f},1" for k, v in enumerate(demand)]
    csv.write_text("\n".join(rows) + "\n")
    png = tmp_path / "out.png"
    proc = run_cli(
        "forecast",
        "--csv",
        str(csv),
        "--column",
        "demand",
        "--date-column",
        "day",
        "--window",
        "14",
        "--horizon",
        "7",
        "--epochs",
        "2",
        "--season",
        "7",
        "--seed",
        "3",
        "--plot",
        str(png),
    )
    assert proc.returncode == 0, proc.stderr
    assert "seasonal naive (season 7)" in proc.stdout
    assert "forecast for the next 7 step(s)" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--csv", "nowhere.csv", "--column", "x"], "nowhere.csv"),
        (["--csv", "FILE"], "--csv needs --column"),
        (["--column", "x"], "go with --csv"),
        (["--window", "0"], "must be a positive integer"),
        (["--test-size", "1.5"], "fraction"),
        (["--window", "5000"], "too short"),
        (["--dataset", "bitcoin"], "invalid choice"),
    ],
)
def test_bad_arguments(tmp_path, args, message):
    args = [str(tmp_path / "f.csv") if a == "FILE" else a for a in args]
    proc = run_cli("forecast", "--epochs", "1", "--quiet", *args)
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_bad_csv_column_is_named(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    proc = run_cli("forecast", "--csv", str(csv), "--column", "price", "--quiet")
    assert proc.returncode != 0 and "price" in proc.stderr and "Traceback" not in proc.stderr


def test_info_command():
    proc = run_cli("info")
    assert proc.returncode == 0 and "backend" in proc.stdout and "num_threads" in proc.stdout


def test_info_shows_the_plan_of_each_cell():
    """`lstmcore info --plan B,T,I,H --cell gru|rnn|lstm-options`: the cell engine's products, how
    its threads share inference and training, the GRU's gates and the training products."""
    import lstmcore

    if lstmcore.backend != "compiled":
        pytest.skip("the compiled backend only")
    from lstmcore.engine import _cells

    s5 = run_cli("info", "--plan", "1,100,16,128", "--threads", "2", "--cell", "gru")
    assert s5.returncode == 0, s5.stderr
    assert "plan for the GRU (reset_after=True) at B=1 T=100 I=16 H=128 float32, 2 thread(s)" in s5.stdout
    assert "  training, after the backward loop: dx " in s5.stdout
    from lstmcore.engine import _stack

    order = "at once" if 100 * (16 + 128) * 384 >= _stack._pair_min(np.float32) else "one after the other"
    assert f"a bidirectional layer: inference {order}" in s5.stdout  # the GRU's G = 3H
    if _cells._packed_plan():  # S5: 55K multiply-adds a step, from _unit_min
        assert "products: x_t @ w_x and h_prev @ w_h at each step" in s5.stdout
        assert "inference: units split on 2 threads" in s5.stdout and "55,296" in s5.stdout
        assert "training: one thread (too little work a step to share" in s5.stdout
        assert "the GRU's gates in inference: each row's in a buffer in the L1" in s5.stdout
        rnn = run_cli("info", "--plan", "1,100,16,128", "--threads", "2", "--cell", "rnn")
        assert "inference: one thread (too little work" in rnn.stdout and "here 18,432" in rnn.stdout
        assert "the GRU's gates" not in rnn.stdout
        s2 = run_cli("info", "--plan", "64,100,32,128", "--threads", "2", "--cell", "lstm-options")
        assert "plan for the LSTM with options at B=64" in s2.stdout
        assert "inference: rows split on 2 threads" in s2.stdout
        assert "training: rows split on 2 threads" in s2.stdout
    one = run_cli("info", "--plan", "64,100,32,128", "--threads", "1", "--cell", "rnn")
    assert "inference: one thread (one thread asked for)" in one.stdout
    blas = run_cli(
        "info", "--plan", "64,100,32,128", "--cell", "gru", env_extra={"LSTMCORE_RECURRENT_PRODUCT": "blas"}
    )
    assert blas.returncode == 0, blas.stderr
    assert "products: x @ w_x over all steps in one BLAS call" in blas.stdout
    assert "forced by LSTMCORE_RECURRENT_PRODUCT" in blas.stdout
    bad = run_cli("info", "--plan", "1,100,16,128", "--cell", "lstm3")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_info_shows_the_caches_and_a_shapes_plan():
    """`lstmcore info --plan B,T,I,H` says which path, threads and prefetch a shape gets and why;
    the caches it reads can be overridden (LSTMCORE_L2), and bad shapes are refused."""
    import lstmcore

    proc = run_cli("info", "--plan", "64,100,256,512", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "l2:" in proc.stdout and "LSTMCORE_L2" in proc.stdout
    assert "plan for B=64 T=100 I=256 H=512 float32, 1 thread(s)" in proc.stdout
    if lstmcore.backend == "compiled":
        # the packed path says whether it prefetches; the BLAS path (AVX2 kernels with these 6 MiB
        # of weights beyond the L2) has no prefetch to report
        assert "path: packed" in proc.stdout or "path: BLAS" in proc.stdout
        assert ("prefetch:" in proc.stdout) == ("path: packed" in proc.stdout)
        env = dict(os.environ, LSTMCORE_L2="64K")
        small = subprocess.run(
            [sys.executable, "-m", "lstmcore", "info", "--plan", "8,10,64,128", "--threads", "1"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
        assert small.returncode == 0 and "64 KiB per core (from LSTMCORE_L2" in small.stdout
        from lstmcore.engine import _cells, _lstm

        if _lstm._kernel_isa() == "avx512":  # (64 + 128) x 512 x 4 bytes = 384 KiB > half of 64 KiB
            assert "prefetch: the next panel into the L2" in small.stdout
        # a single sequence: its one row per block, and (AVX2) its panels in whole rows
        one = run_cli("info", "--plan", "1,100,16,128", "--threads", "1")
        assert one.returncode == 0, one.stderr
        if "path: packed" in one.stdout:
            assert "1 batch row(s) per register block" in one.stdout
            assert "panels in whole rows" in one.stdout
        if "path: packed" in proc.stdout and _lstm._kernel_isa() == "avx2":
            assert "panels in strips of 16 columns" in proc.stdout
        # a bidirectional layer's order (_stack.pairs): one thread runs them in turn; on two, S1's
        # inference (9.8 M multiply-adds a direction) is under the threshold of every instruction
        # set and S3's over it; S1's training step (3 x 9.8 M) over AVX2's 2^24, under AVX-512's
        from lstmcore.engine import _stack

        assert "a bidirectional layer: its two directions one after the other" in proc.stdout
        s1_training = "at once" if 3 * 9_792_000 >= _stack._pair_min(np.float32) else "one after"
        for shape, inference, training in (
            ("32,30,1,50", "one after the other", s1_training),
            ("64,100,256,512", "at once", "at once"),
        ):
            two = run_cli("info", "--plan", shape, "--threads", "2")
            assert two.returncode == 0, two.stderr
            assert f"a bidirectional layer: inference {inference}" in two.stdout
            assert f"training {training}" in two.stdout
        # the GRU of a single sequence shares its units on two threads (S5: 55K multiply-adds a
        # step, the simple RNN's 18K too few); a large batch splits its rows instead
        s5 = run_cli("info", "--plan", "1,100,16,128", "--threads", "2")
        if _cells._packed_plan():
            assert "units split, the GRU on 2 threads;" in s5.stdout
        assert "a GRU or simple RNN of this shape, inference: no units split" in two.stdout
        assert "a GRU or simple RNN of this shape: one thread" in proc.stdout
    bad = run_cli("info", "--plan", "64,100")
    assert bad.returncode == 2 and "expected B,T,I,H" in bad.stdout
