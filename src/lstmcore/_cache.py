"""What each backward needs from its forward (``lstm_backward`` from ``lstm_forward`` and so on):
one class per cell for both backends."""

from __future__ import annotations

import numpy as np


class LSTMCache:
    """Saved-for-backward state of one LSTM layer, time-major and C-contiguous.

    x (T, B, I) | gates (T, B, G) activated i, f, g, o | h, c (T+1, B, H), row 0 = h0, c0
    w_x (I, G) | w_h (H, G): references to the weights of the forward call, not copies, so the
    weights must not be changed in place between ``lstm_forward`` and ``lstm_backward``.

    ``tanh(c)`` (or the chosen cell activation) is not stored: the backward recomputes it from
    ``c``, trading a little compute for (T, B, H) of memory.

    The options of the call, kept as given (keywords, so the positional form stays):
    peepholes (3, H) or None | proj: w_hr (H, P) or None, then h is (T+1, B, P) | clip float or
    None | input_forget bool | output_activation (None: ``activation``) |
    z (T, B, G) the clipped pre-activations, only when clip is set | m (T, B, H) = o * out_act(c),
    only when proj is set.
    """

    __slots__ = (
        "x",
        "w_x",
        "w_h",
        "gates",
        "h",
        "c",
        "activation",
        "recurrent_activation",
        "peepholes",
        "proj",
        "clip",
        "input_forget",
        "output_activation",
        "z",
        "m",
        "recurrent_mask",
    )

    def __init__(
        self,
        x,
        w_x,
        w_h,
        gates,
        h,
        c,
        activation,
        recurrent_activation,
        *,
        peepholes=None,
        proj=None,
        clip=None,
        input_forget=False,
        output_activation=None,
        z=None,
        m=None,
        recurrent_mask=None,
    ):
        self.x = x
        self.w_x = w_x
        self.w_h = w_h
        self.gates = gates
        self.h = h
        self.c = c
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.peepholes = peepholes
        self.proj = proj
        self.clip = clip
        self.input_forget = input_forget
        self.output_activation = output_activation
        self.z = z
        self.m = m
        self.recurrent_mask = recurrent_mask

    @property
    def nbytes(self) -> int:
        """Bytes held by the saved activations (the weights are shared, not counted)."""
        arrays = (self.x, self.gates, self.h, self.c, self.z, self.m, self.recurrent_mask)
        return sum(a.nbytes for a in arrays if a is not None)

    def __repr__(self) -> str:
        T, B, G = self.gates.shape
        options = ""
        if self.output_activation is not None:
            options += f", output_activation={self.output_activation!r}"
        if self.peepholes is not None:
            options += ", peepholes=True"
        if self.proj is not None:
            options += f", P={self.proj.shape[1]}"
        if self.clip is not None:
            options += f", clip={self.clip!r}"
        if self.input_forget:
            options += ", input_forget=True"
        if self.recurrent_mask is not None:
            options += ", recurrent_mask=True"
        return (
            f"LSTMCache(T={T}, B={B}, I={self.x.shape[2]}, H={G // 4}, "
            f"dtype={np.dtype(self.gates.dtype).name}, activation={self.activation!r}, "
            f"recurrent_activation={self.recurrent_activation!r}{options})"
        )


class GRUCache:
    """Saved-for-backward state of one GRU layer, time-major and C-contiguous.

    x (T, B, I) | gates (T, B, 3H) activated z, r, n | h (T+1, B, H), row 0 = h0 |
    extra (T, B, H): zh_n = h_prev @ w_hn + b[1]_n when reset_after, r * h_prev when not (what
    the backward of n needs and cannot get from the gates) |
    w_x (I, 3H) | w_h (H, 3H): references to the weights of the forward call, not copies.
    reset_after, activation and recurrent_activation are kept as given.
    recurrent_mask (B, H) or None: the recurrent dropout mask, which multiplied h_prev in the
    recurrent products (then extra is r * h_prev * mask without reset_after); a reference, as the
    weights. Keyword, default None.
    """

    __slots__ = (
        "x",
        "w_x",
        "w_h",
        "gates",
        "h",
        "extra",
        "reset_after",
        "activation",
        "recurrent_activation",
        "recurrent_mask",
    )

    def __init__(
        self,
        x,
        w_x,
        w_h,
        gates,
        h,
        extra,
        reset_after,
        activation,
        recurrent_activation,
        *,
        recurrent_mask=None,
    ):
        self.x = x
        self.w_x = w_x
        self.w_h = w_h
        self.gates = gates
        self.h = h
        self.extra = extra
        self.reset_after = reset_after
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.recurrent_mask = recurrent_mask

    @property
    def nbytes(self) -> int:
        """Bytes held by the saved activations (the weights are shared, not counted)."""
        arrays = (self.x, self.gates, self.h, self.extra, self.recurrent_mask)
        return sum(a.nbytes for a in arrays if a is not None)

    def __repr__(self) -> str:
        T, B, G = self.gates.shape
        return (
            f"GRUCache(T={T}, B={B}, I={self.x.shape[2]}, H={G // 3}, "
            f"dtype={np.dtype(self.gates.dtype).name}, reset_after={self.reset_after!r}, "
            f"activation={self.activation!r}, recurrent_activation={self.recurrent_activation!r}"
            f"{', recurrent_mask=True' if self.recurrent_mask is not None else ''})"
        )


class RNNCache:
    """Saved-for-backward state of one simple RNN layer, time-major and C-contiguous.

    x (T, B, I) | h (T+1, B, H), row 0 = h0 | w_x (I, H) | w_h (H, H): references, not copies.
    The activation's derivative is written from its output, so h is all the backward needs.
    recurrent_mask (B, H) or None: the recurrent dropout mask, which multiplied h_prev in
    h_prev @ w_h; a reference, as the weights. Keyword, default None.
    """

    __slots__ = ("x", "w_x", "w_h", "h", "activation", "recurrent_mask")

    def __init__(self, x, w_x, w_h, h, activation, *, recurrent_mask=None):
        self.x = x
        self.w_x = w_x
        self.w_h = w_h
        self.h = h
        self.activation = activation
        self.recurrent_mask = recurrent_mask

    @property
    def nbytes(self) -> int:
        """Bytes held by the saved activations (the weights are shared, not counted)."""
        mask = 0 if self.recurrent_mask is None else self.recurrent_mask.nbytes
        return self.x.nbytes + self.h.nbytes + mask

    def __repr__(self) -> str:
        T1, B, H = self.h.shape
        return (
            f"RNNCache(T={T1 - 1}, B={B}, I={self.x.shape[2]}, H={H}, "
            f"dtype={np.dtype(self.h.dtype).name}, activation={self.activation!r}"
            f"{', recurrent_mask=True' if self.recurrent_mask is not None else ''})"
        )
