"""lstmcore: a fast CPU engine for LSTM networks.

The model API, in Keras's names::

    from lstmcore import Sequential, load_model
    from lstmcore.layers import LSTM, GRU, SimpleRNN, Dense, Dropout
    model = Sequential([LSTM(50, activation="relu", input_shape=(3, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse"); model.fit(X, y, epochs=200, verbose=0)

The functional core (batch-first at the edge, float32 or float64 taken from ``x``)::

    y, h_n, c_n = lstm_forward(x, w_x, w_h, b, h0=None, c0=None, activation="tanh")
    y, h_n, c_n, cache = lstm_forward(x, w_x, w_h, b, return_cache=True)
    grads = lstm_backward(dy, cache, dh_n=None, dc_n=None)   # dx, dw_x, dw_h, db, dh0, dc0
    h, c = lstm_cell_forward(x_t, w_x, w_h, b, h_prev, c_prev)    # one step, stateless
    stepper = LSTMStepper(w_x, w_h, b, batch_size=1)             # streaming: weights packed once
    h = stepper.step(x_t)                                        # state carried, microseconds
    y, h_n = gru_forward(x, w_x, w_h, b, reset_after=True)       # the same for the GRU ...
    y, h_n = rnn_forward(x, w_x, w_h, b, activation="tanh")      # ... and the simple RNN
    y, h_n, c_n = lstm_forward(x, w_x, w_h, b, peepholes=p, proj=w_hr, clip=3.0)  # LSTM options
    y, h_n = gru_forward(x, w_x, w_h, b, lengths=lengths, reverse=True)  # lengths, mask=, reverse
    y, h_n, c_n = stack_forward("lstm", x, weights, bidirectional=True)  # L layers x 2 directions

``lstmcore.reference`` holds the same functions in plain NumPy.
"""

from .engine import _env  # noqa: F401, I001 - first: loads the BLAS libraries with a short worker spin
from . import callbacks, constraints, initializers, layers, losses, optimizers, regularizers
from .engine._backend import NAME as backend
from .engine._backend import (
    GRUStepper,
    LSTMStepper,
    RNNStepper,
    StackStepper,
    gru_backward,
    gru_cell_forward,
    gru_forward,
    lstm_backward,
    lstm_cell_forward,
    lstm_forward,
    release_workspaces,
    rnn_backward,
    rnn_cell_forward,
    rnn_forward,
    set_workspace_limit,
    stack_backward,
    stack_forward,
)
from .engine._cache import GRUCache, LSTMCache, RNNCache
from .engine._stack import StackCache
from .engine._threads import _init_from_env, get_num_threads, set_num_threads, threadpool_info
from .initializers import set_random_seed
from .layers import (
    GRU,
    LSTM,
    Activation,
    AveragePooling1D,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Conv1DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    LayerNormalization,
    Masking,
    MaxPooling1D,
    RepeatVector,
    Reshape,
    SimpleRNN,
    TimeDistributed,
)
from .model import Sequential, load_model
from .functional import Model
from . import models, ops, preprocessing, reference, utils  # noqa: F401 - keras.models, .ops, ...

__version__ = "0.1.0"

__all__ = [
    "Model",
    "Activation",
    "AveragePooling1D",
    "BatchNormalization",
    "Conv1D",
    "Conv1DTranspose",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "LayerNormalization",
    "MaxPooling1D",
    "RepeatVector",
    "Reshape",
    "Bidirectional",
    "Embedding",
    "Masking",
    "TimeDistributed",
    "Dense",
    "GRU",
    "GRUCache",
    "GRUStepper",
    "RNNCache",
    "RNNStepper",
    "StackCache",
    "StackStepper",
    "stack_backward",
    "stack_forward",
    "gru_backward",
    "gru_cell_forward",
    "gru_forward",
    "rnn_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "Dropout",
    "Input",
    "LSTM",
    "LSTMCache",
    "LSTMStepper",
    "Sequential",
    "SimpleRNN",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "models",
    "optimizers",
    "regularizers",
    "set_random_seed",
    "utils",
    "backend",
    "get_num_threads",
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "release_workspaces",
    "set_num_threads",
    "set_workspace_limit",
    "threadpool_info",
]

_init_from_env()
del _init_from_env
