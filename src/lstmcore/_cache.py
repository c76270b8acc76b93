"""What ``lstm_backward`` needs from ``lstm_forward``: one class for both backends."""

from __future__ import annotations

import numpy as np


class LSTMCache:
    """Saved-for-backward state of one LSTM layer, time-major and C-contiguous.

    x (T, B, I) | gates (T, B, G) activated i, f, g, o | h, c (T+1, B, H), row 0 = h0, c0
    w_x (I, G) | w_h (H, G): references to the weights of the forward call, not copies, so the
    weights must not be changed in place between ``lstm_forward`` and ``lstm_backward``.

    ``tanh(c)`` (or the chosen cell activation) is not stored: the backward recomputes it from
    ``c``, trading a little compute for (T, B, H) of memory.
    """

    __slots__ = ("x", "w_x", "w_h", "gates", "h", "c", "activation", "recurrent_activation")

    def __init__(self, x, w_x, w_h, gates, h, c, activation: str, recurrent_activation: str):
        self.x = x
        self.w_x = w_x
        self.w_h = w_h
        self.gates = gates
        self.h = h
        self.c = c
        self.activation = activation
        self.recurrent_activation = recurrent_activation

    @property
    def nbytes(self) -> int:
        """Bytes held by the saved activations (the weights are shared, not counted)."""
        return sum(a.nbytes for a in (self.x, self.gates, self.h, self.c))

    def __repr__(self) -> str:
        T, B, G = self.gates.shape
        return (
            f"LSTMCache(T={T}, B={B}, I={self.x.shape[2]}, H={G // 4}, "
            f"dtype={np.dtype(self.gates.dtype).name}, activation={self.activation!r}, "
            f"recurrent_activation={self.recurrent_activation!r})"
        )
