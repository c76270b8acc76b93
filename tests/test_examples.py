"""The programs in ``examples/`` run: each in quick mode (tiny data, a few epochs), in a subprocess
with a temporary directory as its working directory, and prints its result line.

Seven of them also run under Keras 3 itself (``KERAS_BACKEND=torch``) with only their import lines
changed, which shows that they are Keras programs; that test is marked slow (importing Keras and its
first fit take about half a minute): ``-m "not slow"`` leaves it out.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# the printed line each example must end with (a regular expression searched in its stdout)
EXPECTED = {
    "01_forecasting.py": rf"LSTM RMSE: {NUMBER}  naive RMSE: {NUMBER}",
    "02_stacked.py": rf"stacked LSTM test MSE: {NUMBER}  last-value MSE: {NUMBER}",
    "03_multivariate_multistep.py": rf"mean MAE over 6 steps: LSTM {NUMBER}, last value {NUMBER}",
    "04_encoder_decoder.py": rf"encoder-decoder test MSE over 10 steps: {NUMBER}",
    "05_bidirectional.py": rf"bidirectional LSTM test accuracy: {NUMBER}",
    "06_gru.py": rf"GRU test MSE: {NUMBER} \(MAE {NUMBER}\)  constant-1.0 MSE: {NUMBER}",
    "07_embedding_sentiment.py": rf"sentiment test accuracy: {NUMBER}",
    "08_masked_padding.py": rf"without mask: test accuracy {NUMBER} padded to 30",
    "09_stateful.py": rf"stateful LSTM test MSE: {NUMBER}  stateless LSTM \(one chunk of 10\): {NUMBER}",
    "10_multiclass.py": rf"multi-class test accuracy: {NUMBER}",
    "11_save_load_callbacks.py": r"best.keras reloaded: .* same predictions as the model: True",
    "12_seq2seq_functional.py": rf"seq2seq exact-match rate: {NUMBER}",
    "13_anomaly_autoencoder.py": rf"MAE threshold: {NUMBER}; anomalous test windows: \d+ of \d+",
    "14_conv_classification.py": rf"best model test accuracy: {NUMBER}, test loss: {NUMBER}",
    "15_weather_forecasting.py": rf"validation MSE of the best weights: {NUMBER}  last temperature: {NUMBER}",
}
# the files an example writes into its working directory
WRITES = {
    "11_save_load_callbacks.py": ["best.keras", "training.csv"],
    "14_conv_classification.py": ["best_model.keras"],
    "15_weather_forecasting.py": ["model_checkpoint.weights.h5"],
}

# Keras's module paths for lstmcore's; 01 also uses lstmcore.timeseries and lstmcore.datasets,
# which Keras does not have
_KERAS_IMPORTS = re.compile(
    r"^from lstmcore\.(models|layers|utils|callbacks|optimizers) import", re.MULTILINE
)


def _run(args, cwd, env_extra, timeout=120):
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _check(proc, pattern):
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{output}"
    assert re.search(pattern, proc.stdout), f"{pattern!r} not in stdout:\n{proc.stdout}"


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("[0-9][0-9]_*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_quick(name, tmp_path):
    if name in WRITES and importlib.util.find_spec("h5py") is None:
        pytest.skip("Keras's files need h5py (Keras 3 depends on it; lstmcore does not)")
    # -W error: a warning from lstmcore fails the run, as pytest's filterwarnings = error would
    proc = _run(["-W", "error", str(EXAMPLES / name)], tmp_path, {"LSTMCORE_EXAMPLE_QUICK": "1"})
    _check(proc, EXPECTED[name])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == WRITES.get(name, [])
    if name.startswith("08_"):  # with the mask, the amount of padding leaves the predictions as they are
        change = re.search(rf"with mask: .* largest change of a prediction ({NUMBER})", proc.stdout)
        assert change is not None and float(change.group(1)) < 1e-5, proc.stdout


def test_quick_flag(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LSTMCORE_EXAMPLE_QUICK"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "09_stateful.py"), "--quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    _check(proc, EXPECTED["09_stateful.py"])


def test_examples_differ_from_keras_programs_only_in_imports():
    for name in EXPECTED:
        text = _KERAS_IMPORTS.sub(r"from keras.\1 import", (EXAMPLES / name).read_text())
        lstmcore_lines = [line for line in text.splitlines() if re.search(r"\blstmcore\b", line)]
        if name == "01_forecasting.py":  # the dataset and the windows: no Keras counterpart
            assert lstmcore_lines == [
                "from lstmcore import timeseries as ts",
                "from lstmcore.datasets import load_dataset",
            ]
        else:
            assert all(line.lstrip().startswith("# lstmcore:") for line in lstmcore_lines), lstmcore_lines


# 09 is left out: Keras 3.15's torch backend fails to train a stateful LSTM ("one of the variables
# needed for gradient computation has been modified by an inplace operation", keras-team/keras#23462)
# Keras's first fit takes seconds to warm up, the next ones about one each: seven programs cost
# little more than one
KERAS_RUNS = [
    "02_stacked.py",
    "07_embedding_sentiment.py",
    "10_multiclass.py",
    "11_save_load_callbacks.py",
    "12_seq2seq_functional.py",
    "13_anomaly_autoencoder.py",
    "14_conv_classification.py",
]
# 15 is left out too: Keras's timeseries_dataset_from_array makes a tf.data dataset, which needs
# TensorFlow beside the torch backend

_DRIVER = """\
import runpy, sys
import keras  # once, for all the programs: importing it takes seconds
for path in sys.argv[1:]:
    sys.argv = [path]
    runpy.run_path(path, run_name="__main__")
"""


@pytest.mark.slow
def test_examples_run_under_keras(tmp_path):
    for module in ("keras", "torch"):  # found, not imported: keras needs KERAS_BACKEND first
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    paths = []
    for name in KERAS_RUNS:
        path = tmp_path / f"keras_{name}"
        path.write_text(_KERAS_IMPORTS.sub(r"from keras.\1 import", (EXAMPLES / name).read_text()))
        paths.append(str(path))
    env = {"KERAS_BACKEND": "torch", "LSTMCORE_EXAMPLE_QUICK": "1"}
    proc = _run(["-c", _DRIVER, *paths], tmp_path, env, timeout=300)
    for name in KERAS_RUNS:
        _check(proc, EXPECTED[name])
