"""What each backward needs from its forward (``lstm_backward`` from ``lstm_forward`` and so on):
one class per cell for both backends."""

from __future__ import annotations

import numpy as np


class _Cache:
    """What the caches share: every argument of ``__init__`` kept under its own name, ``nbytes``
    and ``repr``. ``sequence``: the call's ``_sequence.Plan`` (reverse, lengths, mask) or None; with
    a plan, every time-major array (x, h, gates, ...) and the recurrent mask are in the plan's
    processing order (its rows and steps). A cache names in ``_SAVED`` the activations it holds
    (the weights are shared, not counted) and gives its sizes with ``_sizes``."""

    __slots__ = ("x", "w_x", "w_h", "h", "recurrent_mask", "sequence")
    _SAVED: tuple = ()

    def _keep(self, args: dict) -> None:
        """Store each of ``args`` (the ``locals()`` of ``__init__``) but ``self`` as an attribute."""
        for name, value in args.items():
            if name != "self":
                setattr(self, name, value)

    @property
    def nbytes(self) -> int:
        """Bytes held by the saved activations (the weights are shared, not counted)."""
        return sum(a.nbytes for a in (getattr(self, name) for name in self._SAVED) if a is not None)

    def _sizes(self) -> tuple:
        """(T, B, H, dtype) of the forward call."""
        raise NotImplementedError

    def _repr_options(self) -> str:
        """What ``repr`` shows after the dtype, each as ", name=value"."""
        return ""

    def __repr__(self) -> str:
        T, B, H, dtype = self._sizes()
        mask = ", recurrent_mask=True" if self.recurrent_mask is not None else ""
        if self.sequence is not None:
            mask += f", sequence={self.sequence!r}"
        return (
            f"{type(self).__name__}(T={T}, B={B}, I={self.x.shape[2]}, H={H}, "
            f"dtype={np.dtype(dtype).name}{self._repr_options()}{mask})"
        )


class LSTMCache(_Cache):
    """Saved-for-backward state of one LSTM layer, time-major and C-contiguous.

    x (T, B, I) | gates (T, B, G) activated i, f, g, o | h, c (T+1, B, H), row 0 = h0, c0
    w_x (I, G) | w_h (H, G): references to the weights of the forward call, not copies, so the
    weights must not be changed in place between ``lstm_forward`` and ``lstm_backward``.

    ``tanh(c)`` (or the chosen cell activation) is not stored: the backward recomputes it from
    ``c``, trading a little compute for (T, B, H) of memory. ``h_activation``: the activation the
    compiled forward computed h with (None: unknown); while ``activation`` is still it, the
    compiled backward may take tanh(c) as h / o instead (a cache whose activation was changed
    since its forward is recomputed, as the reference does).

    The options of the call, kept as given (keywords, so the positional form stays):
    peepholes (3, H) or None | proj: w_hr (H, P) or None, then h is (T+1, B, P) | clip float or
    None | input_forget bool | output_activation (None: ``activation``) |
    z (T, B, G) the clipped pre-activations, only when clip is set | m (T, B, H) = o * out_act(c),
    only when proj is set.
    """

    __slots__ = (
        "gates",
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
        "h_activation",
    )
    _SAVED = ("x", "gates", "h", "c", "z", "m", "recurrent_mask")

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
        sequence=None,
        h_activation=None,
    ):
        self._keep(locals())

    def _sizes(self) -> tuple:
        T, B, G = self.gates.shape
        return T, B, G // 4, self.gates.dtype

    def _repr_options(self) -> str:
        options = f", activation={self.activation!r}, recurrent_activation={self.recurrent_activation!r}"
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
        return options


class GRUCache(_Cache):
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

    __slots__ = ("gates", "extra", "reset_after", "activation", "recurrent_activation")
    _SAVED = ("x", "gates", "h", "extra", "recurrent_mask")

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
        sequence=None,
    ):
        self._keep(locals())

    def _sizes(self) -> tuple:
        T, B, G = self.gates.shape
        return T, B, G // 3, self.gates.dtype

    def _repr_options(self) -> str:
        return (
            f", reset_after={self.reset_after!r}, activation={self.activation!r}, "
            f"recurrent_activation={self.recurrent_activation!r}"
        )


class RNNCache(_Cache):
    """Saved-for-backward state of one simple RNN layer, time-major and C-contiguous.

    x (T, B, I) | h (T+1, B, H), row 0 = h0 | w_x (I, H) | w_h (H, H): references, not copies.
    The activation's derivative is written from its output, so h is all the backward needs.
    recurrent_mask (B, H) or None: the recurrent dropout mask, which multiplied h_prev in
    h_prev @ w_h; a reference, as the weights. Keyword, default None.
    """

    __slots__ = ("activation",)
    _SAVED = ("x", "h", "recurrent_mask")

    def __init__(self, x, w_x, w_h, h, activation, *, recurrent_mask=None, sequence=None):
        self._keep(locals())

    def _sizes(self) -> tuple:
        T1, B, H = self.h.shape
        return T1 - 1, B, H, self.h.dtype

    def _repr_options(self) -> str:
        return f", activation={self.activation!r}"
