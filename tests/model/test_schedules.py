"""Learning-rate schedules (lstmcore.optimizers.schedules) against Keras 3: their values step by
step, optimizers driven by them, configs, model files, callbacks and errors. The numbers come from
tests/model/data/keras_schedules.npz (make_schedule_golden.py) and, where Keras is installed, from
Keras itself."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from make_schedule_golden import CASES, PATH, STEPS, keras_rates, keras_steps, optimizers

import lstmcore
from lstmcore.optimizers import schedules


@pytest.fixture(scope="module")
def golden():
    data = np.load(PATH)
    assert int(data["format_version"]) == 1 and json.loads(str(data["cases"])) == json.loads(
        json.dumps(CASES)
    )
    return data


def _rates(name, config):
    schedule = getattr(schedules, name)(**config)
    return np.array([schedule(step) for step in range(STEPS)])


def _steps(optimizer, w0, grads, dtype):
    w = np.array(w0, dtype=dtype)
    optimizer.build(w, [slice(0, w.size)])
    out = []
    for g in grads:
        optimizer.apply(w, np.array(g, dtype=dtype))
        out.append(w.astype(np.float64))
    return np.stack(out)


@pytest.mark.parametrize("i", range(len(CASES)))
def test_rates_match_keras_golden(golden, i):
    name, config = CASES[i]
    np.testing.assert_allclose(_rates(name, config), golden[f"rates/{i}"], rtol=5e-7, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimizers_driven_by_a_schedule_match_keras_golden(golden, dtype):
    name, config = CASES[0]
    for key, opt in optimizers(lstmcore, getattr(schedules, name)(**config)):
        got = _steps(opt, golden["w0"], golden["grads"], dtype)
        np.testing.assert_allclose(
            got, golden[f"{key}/{dtype}"], rtol=2e-6 if dtype == "float32" else 1e-7, atol=1e-7
        )
        assert opt.iterations == STEPS and opt.learning_rate == pytest.approx(
            golden["rates/0"][-1] * 0.5 ** (1 / 5)
        )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("i", range(len(CASES)))
def test_rates_match_keras_live(i):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    name, config = CASES[i]
    np.testing.assert_allclose(_rates(name, config), keras_rates(keras, name, config), rtol=5e-7, atol=0)
    if i < 3:  # and the optimizers over them
        w0, grads = np.linspace(-1, 1, 6), np.cos(np.arange(STEPS * 6.0)).reshape(STEPS, 6)
        mine = optimizers(lstmcore, getattr(schedules, name)(**config))
        theirs = optimizers(keras, getattr(keras.optimizers.schedules, name)(**config))
        for (_, a), (_, b) in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(
                _steps(a, w0, grads, "float32"),
                keras_steps(keras, b, w0, grads, "float32"),
                rtol=2e-6,
                atol=1e-7,
            )


def test_config_round_trip_and_keras_form():
    opt = lstmcore.optimizers.Adam(schedules.ExponentialDecay(0.01, 100, 0.9))
    config = opt.get_config()
    assert config["learning_rate"] == {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.01,
            "decay_steps": 100,
            "decay_rate": 0.9,
            "staircase": False,
            "name": "ExponentialDecay",
        },
        "registered_name": None,
    }
    again = lstmcore.optimizers.get(json.loads(json.dumps(config)))
    assert type(again.schedule) is schedules.ExponentialDecay and again.get_config() == config
    assert opt.learning_rate == pytest.approx(0.01)


def test_a_model_trains_saves_and_loads_with_a_schedule(tmp_path):
    lstmcore.set_random_seed(0)
    model = lstmcore.Sequential([lstmcore.layers.LSTM(4, input_shape=(5, 2)), lstmcore.layers.Dense(1)])
    model.compile(lstmcore.optimizers.SGD(schedules.PiecewiseConstantDecay([2], [0.1, 0.01])), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 5, 2)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.1)  # after 2 steps: step 2 is <= 2
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    for name in ("m.lstmcore", "m.keras"):
        model.save(tmp_path / name)
        again = lstmcore.load_model(tmp_path / name)
        assert again.optimizer.schedule.get_config() == model.optimizer.schedule.get_config()
    assert lstmcore.load_model(tmp_path / "m.lstmcore").optimizer.iterations == 4


def test_callbacks_cannot_set_a_scheduled_rate():
    opt = lstmcore.optimizers.SGD(schedules.InverseTimeDecay(0.1, 10, 1.0))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5
    opt.learning_rate = schedules.CosineDecay(0.1, 10)  # another schedule replaces it, as Keras
    assert type(opt.schedule) is schedules.CosineDecay


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
            ValueError,
            "decay_steps must be a finite number > 0",
        ),
        (
            lambda: schedules.ExponentialDecay("a", 10, 0.5),
            TypeError,
            "initial_learning_rate must be a number",
        ),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), ValueError, "one boundary fewer"),
        (lambda: schedules.CosineDecay(0.1, -1), ValueError, "decay_steps"),
        (lambda: schedules.deserialize({"class_name": "OneCycle", "config": {}}), ValueError, "unknown"),
        (
            lambda: schedules.CosineDecayRestarts(0.1, 5, t_mul=0),
            ValueError,
            "t_mul must be a finite number > 0",
        ),
        (lambda: schedules.LearningRateSchedule()(0), NotImplementedError, "__call__"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
