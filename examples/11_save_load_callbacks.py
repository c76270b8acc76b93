"""Callbacks and saving: ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, CSVLogger, load_model.

An LSTM learns to predict the next value of a noisy sine. During fit, ModelCheckpoint keeps the
model with the best validation loss in best.keras (Keras 3's own format), ReduceLROnPlateau
lowers the learning rate when the validation loss stalls, EarlyStopping ends training when it
stops improving, and CSVLogger writes one line per epoch to training.csv. Then load_model reads
best.keras back and its predictions are checked against the trained model's. The files are
written into the current directory.

Run: python examples/11_save_load_callbacks.py [--quick]
"""

import argparse
import csv
import os

import numpy as np

from lstmcore.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Sequential, load_model
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

STEPS = 20
set_random_seed(42)
rng = np.random.default_rng(42)

t = np.arange(300 if QUICK else 3000)
series = np.sin(2 * np.pi * t / 30) + rng.normal(0, 0.1, t.size)
x = np.stack([series[i : i + STEPS] for i in range(series.size - STEPS)])[..., None].astype("float32")
y = series[STEPS:, None].astype("float32")
n_train = int(len(x) * 0.8)

model = Sequential([Input(shape=(STEPS, 1)), LSTM(32), Dense(1)])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
callbacks = [
    ModelCheckpoint("best.keras", monitor="val_loss", save_best_only=True),
    EarlyStopping(monitor="val_loss", patience=6, restore_best_weights=True),
    ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5),
    CSVLogger("training.csv"),
]
history = model.fit(
    x[:n_train],
    y[:n_train],
    epochs=3 if QUICK else 40,
    batch_size=32,
    validation_split=0.2,
    callbacks=callbacks,
    verbose=0,
)
with open("training.csv", newline="") as f:
    rows = list(csv.DictReader(f))
print(f"trained {len(history.history['loss'])} epochs; training.csv has {len(rows)} rows: {list(rows[0])}")
print(f"learning rate at the end: {float(rows[-1]['learning_rate']):.2g}")

best = load_model("best.keras")
x_test, y_test = x[n_train:], y[n_train:]
same = np.allclose(best.predict(x_test, verbose=0), model.predict(x_test, verbose=0), atol=1e-5)
test_mse, test_mae = best.evaluate(x_test, y_test, verbose=0)
print(f"best.keras reloaded: test MSE {test_mse:.4f}, MAE {test_mae:.3f}; ", end="")
print(f"same predictions as the model: {same}")
