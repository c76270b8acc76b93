"""Multi-class classification: which of four wave shapes is this noisy sequence?

Each sequence is a sine, square, sawtooth or triangle wave with a random period and phase, plus
noise. The integer labels become one-hot rows with to_categorical; a softmax Dense layer gives one
probability per class, trained with categorical cross-entropy. The test accuracy and the
per-class accuracy are printed.

Run: python examples/10_multiclass.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed, to_categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

CLASSES = ["sine", "square", "sawtooth", "triangle"]
STEPS = 40
set_random_seed(42)
rng = np.random.default_rng(42)


def make_waves(n):
    labels = rng.integers(0, len(CLASSES), n)
    cycles = np.arange(STEPS) / rng.uniform(8, 20, (n, 1)) + rng.uniform(0, 1, (n, 1))  # in periods
    frac = cycles % 1
    shapes = np.stack(
        [
            np.sin(2 * np.pi * cycles),
            np.where(frac < 0.5, 1.0, -1.0),
            2 * frac - 1,
            4 * np.abs(frac - 0.5) - 1,
        ]
    )  # (classes, n, STEPS)
    waves = shapes[labels, np.arange(n)] + rng.normal(0, 0.3, (n, STEPS))
    return waves[..., None].astype("float32"), labels


x_train, labels_train = make_waves(400 if QUICK else 4000)
x_test, labels_test = make_waves(100 if QUICK else 800)
y_train = to_categorical(labels_train, num_classes=len(CLASSES))  # (n, 4) one-hot
y_test = to_categorical(labels_test, num_classes=len(CLASSES))

model = Sequential([Input(shape=(STEPS, 1)), LSTM(32), Dense(len(CLASSES), activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=2 if QUICK else 15, batch_size=32, validation_split=0.1, verbose=0)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
predicted = model.predict(x_test, verbose=0).argmax(axis=1)
per_class = ", ".join(
    f"{name} {np.mean(predicted[labels_test == k] == k):.2f}" for k, name in enumerate(CLASSES)
)
print(f"per class: {per_class}")
print(f"multi-class test accuracy: {accuracy:.3f} (chance {1 / len(CLASSES):.2f})")
