"""Callbacks with Keras's names and behaviour: History, EarlyStopping, ReduceLROnPlateau,
ModelCheckpoint, CSVLogger, LearningRateScheduler, LambdaCallback, TerminateOnNaN, and the progress
bar of ``fit(verbose=1)`` (tqdm when installed).

A callback gets ``set_model(model)`` and ``set_params(params)`` before training, then the hooks
``on_train_begin/end``, ``on_epoch_begin/end(epoch, logs)`` and ``on_train_batch_begin/end(batch,
logs)``. ``logs`` holds the epoch's ``loss``, the metrics, and their ``val_`` twins. As in Keras,
``on_train_batch_begin/end`` call the legacy ``on_batch_begin/end`` unless overridden.
"""

from __future__ import annotations

import collections.abc
import csv
import math
import numbers
import operator
import os
import sys
import time
import warnings

import numpy as np

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "ModelCheckpoint",
    "ProgbarLogger",
    "CSVLogger",
    "LearningRateScheduler",
    "LambdaCallback",
    "TerminateOnNaN",
]


class Callback:
    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras: for backwards compatibility

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """What ``fit`` returns: ``history`` maps each log name to its value per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _count(owner: str, name: str, value) -> int:
    """A non-negative int of any integer type (``operator.index``: int, np.int64, ...); bool and
    float are refused, not truncated."""
    expected = f"{owner}: {name} must be a non-negative int"
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{expected}, got {value!r} (bool)")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})") from None
    if value < 0:
        raise ValueError(f"{expected}, got {value}")
    return value


def _real(owner: str, name: str, value) -> float:
    """A finite real number of any type (int, float, np.float32, ...) as a float; bool is refused."""
    expected = f"{owner}: {name} must be a finite number"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{expected}, got {value!r}")
    return float(value)


def _mode_op(mode: str, monitor: str, name: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        # Keras: accuracy-like quantities are maximized, everything else minimized.
        mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
    return (np.less, mode) if mode == "min" else (np.greater, mode)


class _Monitor(Callback):
    """Shared by EarlyStopping and ReduceLROnPlateau: is the monitored value an improvement?"""

    def __init__(self, monitor, min_delta, mode):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.min_delta = abs(_real(type(self).__name__, "min_delta", min_delta))
        self.monitor_op, self.mode = _mode_op(mode, monitor, type(self).__name__)

    def _better(self, current, reference) -> bool:
        if self.mode == "min":
            return bool(np.less(current, reference - self.min_delta))
        return bool(np.greater(current, reference + self.min_delta))

    def _value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} is conditioned on {self.monitor!r}, which is not in the logs; "
                f"available: {sorted(logs or {})}",
                RuntimeWarning,
                stacklevel=3,
            )
        return value


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, min_delta, mode)
        self.patience = _count("EarlyStopping", "patience", patience)
        self.verbose = verbose
        self.baseline = None if baseline is None else _real("EarlyStopping", "baseline", baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.stopped_epoch = 0
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # the first epoch's, as Keras does
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, min_delta, mode)
        self.factor = _real("ReduceLROnPlateau", "factor", factor)
        if not 0 < self.factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        self.patience = _count("ReduceLROnPlateau", "patience", patience)
        self.verbose = verbose
        self.cooldown = _count("ReduceLROnPlateau", "cooldown", cooldown)
        self.min_lr = _real("ReduceLROnPlateau", "min_lr", min_lr)
        if self.min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr!r}")

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._value(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:.4g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class ModelCheckpoint(_Monitor):
    """Saves the model (or only its weights) after each epoch, or only when ``monitor`` improves.

    ``filepath`` may hold format fields from the epoch number and the logs, e.g.
    ``'ckpt-{epoch:02d}-{val_loss:.3f}.lstmcore'`` (epochs count from 1, as in Keras).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
    ):
        super().__init__(monitor, 0, mode)
        self.filepath = str(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} names {exc}, which is not in the logs "
                f"{sorted(logs)}"
            ) from None
        if self.save_best_only:
            current = self._value(logs)
            if current is None or not self._better(current, self.best):
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                    f"saving model to {path}"
                )
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """``verbose=1``: a bar per epoch with the running loss and metrics; ``verbose=2``: one line per epoch.

    Uses tqdm when it is installed, a plain carriage-return line otherwise.
    """

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream

    def _out(self):
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs = self.params.get("epochs", 1)
        self.steps = self.params.get("steps", 0)
        self._start = time.perf_counter()
        self._bar = None
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=self.steps,
                    desc=f"Epoch {epoch + 1}/{self.epochs}",
                    unit="batch",
                    file=self._out(),
                    leave=True,
                    dynamic_ncols=True,
                )
            else:
                self._line(epoch, 0, {})

    def _line(self, epoch, batch, logs, end=""):
        text = f"\rEpoch {epoch + 1}/{self.epochs} {batch}/{self.steps}"
        if logs:
            text += " - " + _format_logs(logs)
        self._out().write(text + end)
        self._out().flush()
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose != 1:
            return
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in (logs or {}).items()}, refresh=False)
        else:
            self._line(self._epoch, batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        logs = logs or {}
        if self.verbose == 1 and self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=True)
            self._bar.close()
        elif self.verbose == 1:
            self._line(epoch, self.steps, logs, end=f" - {elapsed:.2f}s\n")
        elif self.verbose == 2:
            self._out().write(f"Epoch {epoch + 1}/{self.epochs} - {elapsed:.2f}s - {_format_logs(logs)}\n")
            self._out().flush()


class CSVLogger(Callback):
    """Writes the logs of each epoch as a row of a CSV file, as Keras ``CSVLogger``.

    The columns are ``epoch`` (from 0), then the log keys of the first epoch, sorted; when none of
    them starts with ``val_``, Keras adds a ``val_`` twin of each (written as ``NA``), and so does
    this. Sequences are written as ``"[a, b]"``. ``append=True`` appends to an existing file and
    writes the header only when the file is empty. Rows end in CRLF (Python's csv 'excel' dialect).
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got separator={separator!r}")
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(v):
            if isinstance(v, str):
                return v
            if isinstance(v, collections.abc.Iterable) and not (isinstance(v, np.ndarray) and v.ndim == 0):
                return '"[' + ", ".join(map(str, v)) + ']"'
            return v

        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, handle_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or,
    when that raises TypeError, ``schedule(epoch)``), as Keras ``LearningRateScheduler``; at the
    end of the epoch the rate is written into the logs as ``learning_rate``.

    The schedule must return a float (Python, np.float32 or np.float64; an int is refused, as in
    Keras); lstmcore's optimizers also require it to be finite and > 0.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:  # the new API: schedule(epoch, lr)
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one: schedule(epoch)
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr!r}")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class LambdaCallback(Callback):
    """A callback made of functions, as Keras ``LambdaCallback``. Each is called as Keras calls it:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, ``on_train_batch_begin(batch, logs=logs)``,
    ``on_train_batch_end(batch, logs=logs)``, with ``logs`` a dict ({} where ``fit`` has none to give).
    Any other hook may be given by keyword (``on_batch_end=...``) and replaces that method as is.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in given.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable or None, got {fn!r}")
        self._fns = {name: fn for name, fn in given.items() if fn is not None}
        for name, fn in kwargs.items():
            if fn is not None:
                setattr(self, name, fn)

    def _call(self, name, *args, **kwargs):
        fn = self._fns.get(name)
        if fn is not None:
            fn(*args, **kwargs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", {} if logs is None else logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", {} if logs is None else logs)

    def on_train_batch_begin(self, batch, logs=None):
        if "on_train_batch_begin" in self._fns:
            self._call("on_train_batch_begin", batch, logs={} if logs is None else logs)
        else:
            super().on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if "on_train_batch_end" in self._fns:
            self._call("on_train_batch_end", batch, logs={} if logs is None else logs)
        else:
            super().on_train_batch_end(batch, logs)


class TerminateOnNaN(Callback):
    """Stops training when the loss in a batch's logs is NaN or infinite, as Keras ``TerminateOnNaN``:
    prints ``Batch N: Invalid loss, terminating training`` and sets ``model.stop_training``, or, with
    ``raise_error=True``, raises RuntimeError at once (``on_train_end`` is then not called).
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
