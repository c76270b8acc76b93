"""A GRU on the adding problem, the classic test of memory in recurrent networks.

Each step carries two features: a random value in [0, 1] and a marker that is 1 at exactly two
steps. The target is the sum of the two marked values, so the network has to notice them and carry
them to the end. Always answering 1.0 (the expected sum) gives an MSE of about 0.17; the GRU does
far better.

Run: python examples/06_gru.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import GRU, Dense, Input
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

STEPS = 25
set_random_seed(42)
rng = np.random.default_rng(42)


def make_adding(n):
    values = rng.uniform(0, 1, (n, STEPS))
    markers = np.zeros((n, STEPS))
    for row in markers:
        row[rng.choice(STEPS, 2, replace=False)] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")  # (n, STEPS, 2)
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")  # (n, 1)
    return x, y


x_train, y_train = make_adding(300 if QUICK else 2500)
x_test, y_test = make_adding(100 if QUICK else 500)

model = Sequential([Input(shape=(STEPS, 2)), GRU(32), Dense(1)])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
model.fit(x_train, y_train, epochs=2 if QUICK else 15, batch_size=32, validation_split=0.1, verbose=0)

mse, mae = model.evaluate(x_test, y_test, verbose=0)
baseline = float(np.mean((y_test - 1.0) ** 2))
print(f"GRU test MSE: {mse:.4f} (MAE {mae:.3f})  constant-1.0 MSE: {baseline:.4f}")
