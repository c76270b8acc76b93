"""Sequence classification with Bidirectional(LSTM): does the pulse come early or late?

Each sequence is 40 steps of noise with one short pulse at a random position; the label is 1 when
the pulse starts in the first half. Bidirectional runs one LSTM forwards and one backwards over
the sequence and joins their last outputs ([forward | backward], 2 x 16 features), so whichever end
the pulse is nearer, one direction has seen it recently. A sigmoid unit gives the probability.

Run: python examples/05_bidirectional.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Bidirectional, Dense, Input
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

STEPS = 40
set_random_seed(42)
rng = np.random.default_rng(42)


def make_pulses(n):
    x = rng.normal(0, 0.5, (n, STEPS, 1))
    start = rng.integers(0, STEPS - 3, n)
    for i, s in enumerate(start):
        x[i, s : s + 3, 0] += 2.0
    y = (start < STEPS // 2).astype("float32")
    return x.astype("float32"), y


x_train, y_train = make_pulses(200 if QUICK else 2000)
x_test, y_test = make_pulses(50 if QUICK else 500)

model = Sequential([Input(shape=(STEPS, 1)), Bidirectional(LSTM(16)), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=2 if QUICK else 15, batch_size=32, validation_split=0.1, verbose=0)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"bidirectional LSTM test accuracy: {accuracy:.3f} (chance 0.5)")
