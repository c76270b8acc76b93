"""Time-series classification with a fully convolutional network (keras.io's "Timeseries
classification from scratch", on synthetic series of its kind).

Each series is 200 steps of a noisy signal of one of two kinds (FordA's engine-noise task is
binary too): a sine of a higher frequency or of a lower one. Three Conv1D + BatchNormalization
+ ReLU blocks (32 filters each; keras.io's have 64), GlobalAveragePooling1D and a softmax Dense
layer are trained with sparse_categorical_crossentropy, keeping the best model in
best_model.keras (ModelCheckpoint) and lowering the learning rate on plateaus; the best model is
then loaded and evaluated on a test set.

Run: python examples/14_conv_classification.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from lstmcore.layers import BatchNormalization, Conv1D, Dense, GlobalAveragePooling1D, Input, ReLU
from lstmcore.models import Model, load_model
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

STEPS = 100 if QUICK else 200
set_random_seed(42)
rng = np.random.default_rng(42)


def make(n):
    y = rng.integers(0, 2, n)
    t = np.arange(STEPS) / STEPS
    cycles = np.where(y == 1, rng.uniform(9, 11, n), rng.uniform(6, 8, n))[:, None]
    x = np.sin(2 * np.pi * cycles * t + rng.uniform(0, 2 * np.pi, (n, 1))) + rng.normal(0, 0.7, (n, STEPS))
    return x.reshape((n, STEPS, 1)), y


x_train, y_train = make(100 if QUICK else 600)
x_test, y_test = make(50 if QUICK else 300)
num_classes = len(np.unique(y_train))


def make_model(input_shape):
    input_layer = Input(input_shape)
    x = input_layer
    for _ in range(3):
        x = Conv1D(filters=32, kernel_size=3, padding="same")(x)
        x = BatchNormalization()(x)
        x = ReLU()(x)
    gap = GlobalAveragePooling1D()(x)
    output_layer = Dense(num_classes, activation="softmax")(gap)
    return Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
callbacks = [
    ModelCheckpoint("best_model.keras", save_best_only=True, monitor="val_loss"),
    ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001),
    EarlyStopping(monitor="val_loss", patience=50, verbose=0),
]
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"]
)
history = model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=2 if QUICK else 20,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=0,
)
model = load_model("best_model.keras")
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print(f"trained {len(history.history['loss'])} epochs")
print(f"best model test accuracy: {test_acc:.3f}, test loss: {test_loss:.3f}")
