"""CSVLogger, LearningRateScheduler, LambdaCallback and TerminateOnNaN: driven with the same logs as
Keras 3's own callbacks (live, where Keras is installed) and through ``Sequential.fit``, which calls
the hooks in Keras's order (on_train_batch_begin included) and stops at the batch that sets
``stop_training``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmcore import Sequential, set_random_seed
from lstmcore.callbacks import (
    Callback,
    CSVLogger,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from lstmcore.layers import LSTM, Dense
from lstmcore.optimizers import SGD

# Keras 3.15 on NumPy 2 warns (DeprecationWarning) in its own convert_to_numpy
KERAS_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EPOCH_LOGS = [
    {"loss": 0.5, "mae": 0.25, "val_loss": 0.75, "val_mae": 0.125},
    {"loss": 0.375, "mae": 0.1875, "val_loss": 0.5, "val_mae": 0.0625},
    {"loss": 1 / 3, "mae": 0.1, "val_loss": float("nan"), "val_mae": np.float64(0.2)},
]


class FakeModel:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.stop_training = False


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3, 2)).astype(np.float32)
    return x, (x.sum(axis=(1, 2)) * 0.3)[:, None]


def _model(optimizer="sgd", metrics=None):
    model = Sequential([LSTM(4, input_shape=(3, 2)), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", metrics=metrics)
    return model


def _drive(cb, logs_per_epoch):
    cb.on_train_begin()
    for epoch, logs in enumerate(logs_per_epoch):
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, dict(logs))
    cb.on_train_end()


# CSVLogger ----------------------------------------------------------------------------------------


def test_csv_logger_columns_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    _drive(CSVLogger(path), EPOCH_LOGS)
    text = path.read_bytes().decode()
    lines = text.split("\r\n")  # the csv module's excel dialect, as Keras writes it
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae"  # epoch first, then the keys sorted
    assert lines[1] == "0,0.5,0.25,0.75,0.125"
    assert lines[3] == f"2,{1 / 3!r},0.1,nan,0.2"
    assert lines[4] == "" and len(lines) == 5


def test_csv_logger_adds_val_columns_and_appends(tmp_path):
    path = tmp_path / "log.tsv"
    logs = [{"mae": 0.5, "loss": 1.0}, {"mae": 0.25, "loss": 0.5, "extra": 3}]
    _drive(CSVLogger(path, separator="\t"), logs)
    _drive(CSVLogger(path, separator="\t", append=True), logs[:1])
    lines = path.read_bytes().decode().split("\r\n")
    # no val_ key in the first epoch: Keras adds a val_ twin of each key, written as NA; keys that
    # appear later (extra) are not columns
    assert lines[0] == "epoch\tloss\tmae\tval_loss\tval_mae"
    assert lines[1] == "0\t1.0\t0.5\tNA\tNA"
    assert lines[2] == "1\t0.5\t0.25\tNA\tNA"
    assert lines[3] == "0\t1.0\t0.5\tNA\tNA"  # appended, without a second header
    assert len(lines) == 5


def test_csv_logger_writes_sequences_and_rejects_bad_separator(tmp_path):
    path = tmp_path / "log.csv"
    _drive(CSVLogger(path), [{"loss": 1.0, "precision": np.array([0.5, 0.25]), "val_loss": 2.0}])
    assert path.read_bytes().decode().split("\r\n")[1] == '0,1.0,"""[0.5, 0.25]""",2.0'
    with pytest.raises(ValueError, match="separator"):
        CSVLogger(path, separator=",,")


@KERAS_WARNINGS
@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_file_equals_keras(tmp_path, keras, append):
    logs = EPOCH_LOGS + [{"loss": 0.1, "mae": np.float32(0.5), "val_loss": 0.2, "val_mae": 1e-20}]
    for name, cls in (("ours", CSVLogger), ("keras", keras.callbacks.CSVLogger)):
        path = tmp_path / f"{name}.csv"
        if append:
            path.write_text("")  # an empty file: the header is written
        cb = cls(str(path), separator=";", append=append)
        _drive(cb, logs)
        _drive(cls(str(path), separator=";", append=True), logs[1:2])
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "keras.csv").read_bytes()


def test_csv_logger_through_fit(tmp_path):
    x, y = _data()
    model = _model(metrics=["mae"])
    path = tmp_path / "fit.csv"
    history = model.fit(
        x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)]
    )
    lines = path.read_bytes().decode().strip().split("\r\n")
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae"
    for epoch, line in enumerate(lines[1:]):
        values = line.split(",")
        assert int(values[0]) == epoch
        for key, value in zip(["loss", "mae", "val_loss", "val_mae"], values[1:], strict=True):
            assert float(value) == history.history[key][epoch]


# LearningRateScheduler ----------------------------------------------------------------------------


def _rates(cb, model, epochs):
    cb.set_model(model)
    rates, logged = [], []
    for epoch in range(epochs):
        cb.on_epoch_begin(epoch)
        rates.append(float(model.optimizer.learning_rate))
        logs = {"loss": 1.0}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    return rates, logged


SCHEDULES = [
    lambda epoch, lr: lr if epoch < 2 else lr * math.exp(-0.1),  # the new API
    lambda epoch: 0.1 / (epoch + 1),  # the old one
    lambda epoch, lr: np.float32(lr * 0.5),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["epoch-lr", "epoch", "float32"])
def test_learning_rate_scheduler_sets_the_rate(schedule):
    rates, logged = _rates(LearningRateScheduler(schedule), FakeModel(SGD(learning_rate=0.1)), 5)
    lr, want = 0.1, []
    for epoch in range(5):
        try:
            lr = float(schedule(epoch, lr))
        except TypeError:
            lr = float(schedule(epoch))
        want.append(lr)
    assert rates == pytest.approx(want, rel=1e-7)
    assert logged == rates


@KERAS_WARNINGS
@pytest.mark.parametrize("schedule", SCHEDULES, ids=["epoch-lr", "epoch", "float32"])
def test_learning_rate_scheduler_equals_keras(keras, schedule):
    ours, ours_logged = _rates(LearningRateScheduler(schedule), FakeModel(SGD(learning_rate=0.1)), 6)
    theirs, theirs_logged = _rates(
        keras.callbacks.LearningRateScheduler(schedule), FakeModel(keras.optimizers.SGD(learning_rate=0.1)), 6
    )
    # Keras keeps the rate in a float32 variable
    assert ours == pytest.approx(theirs, rel=1e-7)
    assert ours_logged == pytest.approx(theirs_logged, rel=1e-7)


def test_learning_rate_scheduler_keras_example_through_fit(capsys):
    # keras/src/callbacks/learning_rate_scheduler.py: the rate is kept for ten epochs, then decays
    x, y = _data()
    model = _model(SGD())
    cb = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * math.exp(-0.1), verbose=1)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, callbacks=[cb])
    assert round(model.optimizer.learning_rate, 5) == 0.00607
    assert history.history["learning_rate"][9] == pytest.approx(0.01)
    assert history.history["learning_rate"][-1] == pytest.approx(0.01 * math.exp(-0.5))
    assert "Epoch 15: LearningRateScheduler setting learning rate to 0.0060653" in capsys.readouterr().out


def test_learning_rate_scheduler_errors():
    model = FakeModel(SGD())
    for bad in (lambda epoch: 1, lambda epoch, lr: "0.1", lambda epoch, lr: None):
        cb = LearningRateScheduler(bad)
        cb.set_model(model)
        with pytest.raises(ValueError, match="should be a float"):
            cb.on_epoch_begin(0)
    cb = LearningRateScheduler(lambda epoch, lr: -0.1)  # lstmcore's optimizers need a rate > 0
    cb.set_model(model)
    with pytest.raises(ValueError, match="learning_rate"):
        cb.on_epoch_begin(0)
    with pytest.raises(TypeError, match="callable"):
        LearningRateScheduler(0.1)


def test_learning_rate_scheduler_and_reduce_lr_on_plateau_share_the_rate():
    x, y = _data()
    model = _model(SGD(learning_rate=0.05))
    sched = LearningRateScheduler(lambda epoch, lr: lr)  # keeps what ReduceLROnPlateau set
    # min_delta so large that no epoch after the first improves: the rate halves after epochs 1 and 2
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[sched, plateau])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.025])  # logged before
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


# LambdaCallback -----------------------------------------------------------------------------------


def test_lambda_callback_through_fit():
    x, y = _data(24)
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, round(logs["loss"], 12))),
        on_train_end=lambda logs: calls.append(("train_end", logs)),
    )
    history = _model().fit(x, y, epochs=2, batch_size=12, verbose=0, callbacks=[cb])
    loss = [round(v, 12) for v in history.history["loss"]]
    assert calls == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        ("batch_begin", 0),
        ("batch_end", 0, ["loss"]),
        ("batch_begin", 1),
        ("batch_end", 1, ["loss"]),
        ("epoch_end", 0, loss[0]),
        ("epoch_begin", 1, {}),
        ("batch_begin", 0),
        ("batch_end", 0, ["loss"]),
        ("batch_begin", 1),
        ("batch_end", 1, ["loss"]),
        ("epoch_end", 1, loss[1]),
        ("train_end", {}),
    ]


def test_lambda_callback_calls_as_keras_does():
    seen = []
    cb = LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(("begin", batch, logs)),
        on_batch_end=lambda batch, logs=None: seen.append(("legacy_end", batch, logs)),
    )
    cb.on_train_batch_begin(3)  # called as Keras calls it: batch, logs={}
    cb.on_train_batch_end(3, {"loss": 1.0})  # not given: the legacy on_batch_end, as Keras
    cb.on_epoch_begin(0)  # not given: nothing
    assert seen == [("begin", 3, {}), ("legacy_end", 3, {"loss": 1.0})]
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end=3)
    assert isinstance(LambdaCallback(), Callback)


@KERAS_WARNINGS
def test_lambda_callback_arguments_equal_keras(keras):
    def record(into):
        return {
            "on_train_begin": lambda logs: into.append(("train_begin", logs)),
            "on_epoch_begin": lambda epoch, logs: into.append(("epoch_begin", epoch, logs)),
            "on_train_batch_begin": lambda batch, logs: into.append(("batch_begin", batch, logs)),
            "on_train_batch_end": lambda batch, logs: into.append(("batch_end", batch, logs)),
            "on_epoch_end": lambda epoch, logs: into.append(("epoch_end", epoch, logs)),
            "on_train_end": lambda logs: into.append(("train_end", logs)),
        }

    def drive(cb):
        # the arguments Keras's CallbackList passes ({} for no logs; batch hooks with logs=)
        cb.on_train_begin({})
        cb.on_epoch_begin(0, {})
        cb.on_train_batch_begin(0, logs={})
        cb.on_train_batch_end(0, logs={"loss": 1.0})
        cb.on_epoch_end(0, {"loss": 1.0})
        cb.on_train_end({"loss": 1.0})

    ours, theirs = [], []
    drive(LambdaCallback(**record(ours)))
    drive(keras.callbacks.LambdaCallback(**record(theirs)))
    assert ours == theirs


# TerminateOnNaN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_terminate_on_nan_stops_on_a_bad_loss(loss, capsys):
    model = FakeModel(SGD())
    cb = TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    cb.on_train_batch_end(1, {})
    assert not model.stop_training
    cb.on_train_batch_end(2, {"loss": loss})
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"
    cb = TerminateOnNaN(raise_error=True)
    cb.set_model(FakeModel(SGD()))
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 4"):
        cb.on_train_batch_end(4, {"loss": loss})


@KERAS_WARNINGS
def test_terminate_on_nan_equals_keras(keras, capsys):
    for cls in (TerminateOnNaN, keras.callbacks.TerminateOnNaN):
        model = FakeModel(None)
        cb = cls()
        cb.set_model(model)
        cb.on_train_batch_end(0, logs={"loss": 2.0})
        assert not model.stop_training
        cb.on_train_batch_end(5, logs={"loss": float("nan")})
        assert model.stop_training
    out = capsys.readouterr().out.splitlines()
    assert out[0] == out[1] == "Batch 5: Invalid loss, terminating training"


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_terminate_on_nan_stops_a_diverging_fit(capsys):
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 2)).astype(np.float32)
    y = 100 * rng.standard_normal((64, 1)).astype(np.float32)
    seen = []  # (epoch, batch, loss)
    record = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append((epoch, None, None)),
        on_train_batch_end=lambda batch, logs: seen.append((seen[-1][0], batch, logs["loss"])),
    )
    model = Sequential([LSTM(4, activation="relu", input_shape=(3, 2)), Dense(1)])
    model.compile(optimizer=SGD(learning_rate=10.0), loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0, callbacks=[record, TerminateOnNaN()])
    epoch, batch, _ = next(s for s in seen if s[1] is not None and not np.isfinite(s[2]))
    # the loss blows up; as Keras, fit stops at that batch, then ends the epoch and the training
    assert seen[-1][:2] == (epoch, batch) and epoch < 19 and history.epoch == list(range(epoch + 1))
    assert not np.isfinite(history.history["loss"][-1]) and model.stop_training
    assert capsys.readouterr().out == f"Batch {batch}: Invalid loss, terminating training\n"
