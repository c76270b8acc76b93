"""Sequence classification with categorical cross-entropy.

Each sequence is a noisy sine, square or sawtooth wave with a random frequency and phase; a stacked
LSTM reads it and a softmax head names the shape. Run: python examples/classify_sequences.py
"""

import time

import numpy as np

from lstmcore import Sequential, set_random_seed
from lstmcore.callbacks import EarlyStopping
from lstmcore.layers import LSTM, Dense, Dropout

CLASSES = ["sine", "square", "sawtooth"]


def make_waves(n, steps, rng):
    t = np.arange(steps)
    labels = rng.integers(0, len(CLASSES), n)
    freq = rng.uniform(0.03, 0.12, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    angle = 2 * np.pi * freq * t + phase
    waves = np.where(labels[:, None] == 0, np.sin(angle), 0)
    waves = np.where(labels[:, None] == 1, np.sign(np.sin(angle)), waves)
    waves = np.where(labels[:, None] == 2, 2 * ((angle / (2 * np.pi)) % 1) - 1, waves)
    waves += rng.normal(0, 0.3, waves.shape)
    one_hot = np.eye(len(CLASSES))[labels]
    return waves[:, :, None].astype(np.float32), one_hot.astype(np.float32)


set_random_seed(0)
rng = np.random.default_rng(0)
x_train, y_train = make_waves(2000, 40, rng)
x_test, y_test = make_waves(500, 40, rng)

model = Sequential(
    [
        LSTM(32, return_sequences=True, input_shape=(40, 1)),
        Dropout(0.1),
        LSTM(16),
        Dense(len(CLASSES), activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()
start = time.perf_counter()
model.fit(
    x_train,
    y_train,
    epochs=15,
    batch_size=32,
    validation_split=0.1,
    verbose=2,
    callbacks=[EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True)],
)
print(f"fit: {time.perf_counter() - start:.1f}s")
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.3f} (chance: {1 / len(CLASSES):.3f})")
