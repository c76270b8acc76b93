"""Variable-length sequences: pad them with pad_sequences and let a Masking layer skip the padding.

Each sequence has 5 to 30 values in [-1, 1]; the label is 1 when its first value is larger than
its last. pad_sequences pads in front (Keras's default) with 0.0 up to 30 steps, and Masking()
marks those steps so that the LSTM skips them: it starts reading at the first real value. The same
model without Masking must learn to ignore the padding by itself. Both are then scored on the test
sequences padded to 30 steps and to 60 steps: the masked model's predictions do not change with
the amount of padding, the unmasked model's do.

Run: python examples/08_masked_padding.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Input, Masking
from lstmcore.models import Sequential
from lstmcore.utils import pad_sequences, set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

MAXLEN = 30
set_random_seed(42)
rng = np.random.default_rng(42)


def make_sequences(n):
    sequences = [rng.uniform(-1, 1, (rng.integers(5, MAXLEN + 1), 1)) for _ in range(n)]
    labels = np.array([float(s[0, 0] > s[-1, 0]) for s in sequences], dtype="float32")
    return sequences, labels


train_seqs, y_train = make_sequences(300 if QUICK else 2000)
test_seqs, y_test = make_sequences(100 if QUICK else 500)
x_train = pad_sequences(train_seqs, maxlen=MAXLEN, dtype="float32", value=0.0)  # (n, MAXLEN, 1)
x_test = pad_sequences(test_seqs, maxlen=MAXLEN, dtype="float32", value=0.0)
x_test_long = pad_sequences(test_seqs, maxlen=2 * MAXLEN, dtype="float32", value=0.0)


def build(masked):
    layers = [Input(shape=(None, 1))]  # any number of steps
    if masked:
        layers.append(Masking(mask_value=0.0))
    layers += [LSTM(32), Dense(1, activation="sigmoid")]
    model = Sequential(layers)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


for masked in (True, False):
    model = build(masked)
    model.fit(x_train, y_train, epochs=2 if QUICK else 15, batch_size=32, validation_split=0.1, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    _, accuracy_long = model.evaluate(x_test_long, y_test, verbose=0)
    change = np.abs(model.predict(x_test, verbose=0) - model.predict(x_test_long, verbose=0)).max()
    print(
        f"{'with mask:   ' if masked else 'without mask:'} test accuracy {accuracy:.3f} padded to {MAXLEN}, "
        f"{accuracy_long:.3f} padded to {2 * MAXLEN}; largest change of a prediction {change:.2g}"
    )
