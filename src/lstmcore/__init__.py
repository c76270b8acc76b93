"""lstmcore: a fast CPU engine for LSTM networks.

The functional core (batch-first at the edge, float32 or float64 taken from ``x``)::

    y, h_n, c_n = lstm_forward(x, w_x, w_h, b, h0=None, c0=None, activation="tanh")
    y, h_n, c_n, cache = lstm_forward(x, w_x, w_h, b, return_cache=True)
    grads = lstm_backward(dy, cache, dh_n=None, dc_n=None)   # dx, dw_x, dw_h, db, dh0, dc0
    h, c = lstm_cell_forward(x_t, w_x, w_h, b, h_prev, c_prev)  # one streaming step

``lstmcore.reference`` holds the same functions in plain NumPy.
"""

from ._backend import NAME as backend
from ._backend import lstm_backward, lstm_cell_forward, lstm_forward
from ._cache import LSTMCache
from ._threads import _init_from_env, get_num_threads, set_num_threads, threadpool_info

__version__ = "0.1.0"

__all__ = [
    "LSTMCache",
    "backend",
    "get_num_threads",
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "set_num_threads",
    "threadpool_info",
]

_init_from_env()
del _init_from_env
