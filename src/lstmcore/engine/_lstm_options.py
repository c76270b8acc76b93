"""Checks of the LSTM options, shared by the compiled backend and the reference.

The options are keywords of ``lstm_forward``, ``lstm_cell_forward`` and ``LSTMStepper``; their
defaults give the plain LSTM:

    activation            g's activation, and phi of m = o * phi(c) when output_activation is None
    recurrent_activation  the activation of the gates i, f, o
    output_activation     phi (None: activation)
    peepholes             p (3, H), rows p_i, p_f, p_o
    proj                  w_hr (H, P), 1 <= P < H: h = m @ w_hr; then w_h is (P, G), and
                          h0 / h_prev / y / h_n / dy / dh_n have P columns; c keeps H
    clip                  a float > 0: every gate pre-activation clipped to [-clip, clip]
    input_forget          f = 1 - i (the f columns of w_x, w_h, b and p_f get zero gradient)

The maths (z = x @ w_x + h_prev @ w_h + b, blocks i, f, g, o; ract = recurrent_activation,
act = activation; each pre clipped when clip is set):

    pre_i = z_i + p_i * c_prev;  pre_f = z_f + p_f * c_prev;  pre_g = z_g
    i = ract(pre_i);  f = 1 - i if input_forget else ract(pre_f);  g = act(pre_g)
    c = f * c_prev + i * g;  pre_o = z_o + p_o * c;  o = ract(pre_o)
    m = o * phi(c);  h = m @ proj if proj else m

Clip's gradient passes where the stored (clipped) pre-activation lies strictly inside
(-clip, clip), clip taken in the dtype of the call; one at exactly +-clip counts as clipped.
The cache then keeps z (T, B, G), the clipped pre-activations, and with proj m (T, B, H).

Every activation argument is a name or a tuple (see :func:`lstmcore.engine._validate.activation_spec`).
:func:`check_lstm_options` turns the options into an :class:`LSTMOptions`; :func:`check_forward`,
:func:`check_cell`, :func:`check_weights`, :func:`check_backward` and :func:`check_cache` are the
twins of the functions of the same name in ``_validate``, with the shapes that ``proj`` changes;
each returns the checked arrays and the options. Without proj the weights go through
``_validate.check_weights``, and every array through ``_validate.as_arrays``, so their messages
are those of ``_validate``.

The recurrent dropout mask of a sequence call (``lstm_forward``'s ``recurrent_mask`` (B, P), checked
by :func:`check_forward`, read back from the cache by :func:`check_cache`) is carried as
``LSTMOptions.recurrent_mask`` (None otherwise, and always for the cell and the stepper): it
multiplies h_prev where it enters the recurrent product, z = x @ w_x + (h_prev * mask) @ w_h + b.

``LSTMOptions.plain`` is True when the call is the plain LSTM of the tuned kernels: no peepholes,
proj, clip, input_forget or recurrent_mask; activation tanh, relu, sigmoid or linear;
recurrent_activation sigmoid or hard_sigmoid with Keras's (1/6, 0.5); output_activation None or the
activation. ``codes`` are then the old ``(act, ract)`` codes of ``_validate.ACTIVATIONS`` /
``RECURRENT_ACTIVATIONS``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _validate
from ._cache import LSTMCache

_CODES = _validate.CELL_ACTIVATIONS
# Activation specs the tuned kernels compute, and their codes in the old tables.
_PLAIN_ACT = {_CODES[name]: code for name, code in _validate.ACTIVATIONS.items()}
_PLAIN_RACT = {
    (_CODES["sigmoid"], 0.0, 0.0): _validate.RECURRENT_ACTIVATIONS["sigmoid"],
    (_CODES["hard_sigmoid"], 1 / 6, 0.5): _validate.RECURRENT_ACTIVATIONS["hard_sigmoid"],
}


class LSTMOptions(NamedTuple):
    """The checked options of one call.

    act, ract, out_act: (code, alpha, beta) of activation, recurrent_activation and
    output_activation (that of activation when it is None) | peepholes (3, H) or None |
    proj (H, P) or None | clip: float or None | input_forget: bool | plain: bool |
    codes: (act, ract) of the old tables when plain, else None |
    recurrent_mask: (B, P) or None, the recurrent dropout mask of a sequence call.
    """

    act: tuple
    ract: tuple
    out_act: tuple
    peepholes: np.ndarray | None
    proj: np.ndarray | None
    clip: float | None
    input_forget: bool
    plain: bool
    codes: tuple | None
    recurrent_mask: np.ndarray | None = None

    def out_size(self, H: int) -> int:
        """P, the columns of h: proj's when given, else H."""
        return H if self.proj is None else self.proj.shape[1]


# Scalars ----------------------------------------------------------------------------------------


def _specs(activation, recurrent_activation, output_activation, prefix=""):
    act = _validate.activation_spec(activation, f"{prefix}activation")
    ract = _validate.activation_spec(recurrent_activation, f"{prefix}recurrent_activation")
    if output_activation is None:
        return act, ract, act
    return act, ract, _validate.activation_spec(output_activation, f"{prefix}output_activation")


def _clip(value, name="clip"):
    """None, or a positive finite real number as a float."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be None or a positive finite number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _plain(act, ract, out_act, peepholes, proj, clip, input_forget, recurrent_mask=None):
    """(plain, codes): see the module docstring."""
    plain = (
        recurrent_mask is None
        and peepholes is None
        and proj is None
        and clip is None
        and not input_forget
        and act in ((code, 0.0, 0.0) for code in _PLAIN_ACT)
        and out_act == act
        and ract in _PLAIN_RACT
    )
    return plain, ((_PLAIN_ACT[act[0]], _PLAIN_RACT[ract]) if plain else None)


# Options ----------------------------------------------------------------------------------------


def check_lstm_options(
    dtype,
    H,
    check_finite,
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    output_activation=None,
    peepholes=None,
    proj=None,
    clip=None,
    input_forget=False,
):
    """The options of a call whose gates have ``H`` units, as an :class:`LSTMOptions`.

    peepholes (3, H) and proj (H, P) with 1 <= P < H are converted and checked like the other
    arrays (:func:`lstmcore.engine._validate.as_arrays`: the dtype of x, finite when ``check_finite``).
    """
    act, ract, out_act = _specs(activation, recurrent_activation, output_activation)
    clip = _clip(clip)
    input_forget = _validate.flag("input_forget", input_forget)
    specs = []
    if peepholes is not None:
        specs.append(("peepholes", peepholes, (3, H)))
    if proj is not None:
        shape = np.shape(proj)
        if len(shape) != 2 or shape[0] != H or not 1 <= shape[1] < H:
            raise ValueError(f"proj must have shape (H, P) with 1 <= P < H = {H}, got {shape}")
        specs.append(("proj", proj, shape))
    checked = iter(_validate.as_arrays(dtype, check_finite, *specs))
    peepholes = None if peepholes is None else next(checked)
    proj = None if proj is None else next(checked)
    plain, codes = _plain(act, ract, out_act, peepholes, proj, clip, input_forget)
    return LSTMOptions(act, ract, out_act, peepholes, proj, clip, input_forget, plain, codes)


def check_weights(w_x, w_h, b, dtype, check_finite, **options):
    """Checked ``w_x (I, G)``, ``w_h (P, G)``, ``b (G)`` and the options: ``(w_x, w_h, b, opts)``.

    Without proj, P = H and the weights go through :func:`lstmcore.engine._validate.check_weights`.
    With proj, H is read from w_h's G = 4H columns and P from proj (H, P).
    """
    if options.get("proj") is None:
        w_x, w_h, b = _validate.check_weights(w_x, w_h, b, dtype, check_finite)
        return w_x, w_h, b, check_lstm_options(dtype, w_h.shape[0], check_finite, **options)
    shape = np.shape(w_h)
    if len(shape) != 2 or shape[1] % 4 or shape[1] == 0:
        raise ValueError(f"w_h must have shape (P, 4*H) with proj, got {shape}")
    H = shape[1] // 4
    w_x, I = _validate._check_w_x(w_x, H, 4 * H)
    opts = check_lstm_options(dtype, H, check_finite, **options)
    P = opts.out_size(H)
    w_x, w_h, b = _validate.as_arrays(
        dtype, check_finite, ("w_x", w_x, (I, 4 * H)), ("w_h", w_h, (P, 4 * H)), ("b", b, (4 * H,))
    )
    return w_x, w_h, b, opts


# The options of a plain call spelt with Keras's activation names, by (activation,
# recurrent_activation): such a call (the common one) takes _validate's shorter checks.
_PLAIN_OPTIONS: dict = {}
_OPTION_DEFAULTS = {
    "output_activation": None,
    "peepholes": None,
    "proj": None,
    "clip": None,
    "input_forget": False,
}


def _plain_call(options) -> LSTMOptions | None:
    """The options of the plain LSTM when ``options`` are the defaults (no option given, and the
    activations by their names in ``_validate.ACTIVATIONS`` / ``RECURRENT_ACTIVATIONS``), else
    None."""
    for name, default in _OPTION_DEFAULTS.items():
        if options.get(name, default) is not default:
            return None
    key = (options.get("activation", "tanh"), options.get("recurrent_activation", "sigmoid"))
    if type(key[0]) is not str or type(key[1]) is not str:
        return None
    opts = _PLAIN_OPTIONS.get(key)
    if opts is None and key[0] in _validate.ACTIVATIONS and key[1] in _validate.RECURRENT_ACTIVATIONS:
        opts = _PLAIN_OPTIONS[key] = check_lstm_options(
            np.dtype(np.float64), 1, False, activation=key[0], recurrent_activation=key[1]
        )
    return opts


def _activation_names(options) -> tuple:
    return options.get("activation", "tanh"), options.get("recurrent_activation", "sigmoid")


def check_forward(x, w_x, w_h, b, h0, c0, check_finite, *, recurrent_mask=None, **options):
    """:func:`lstmcore.engine._validate.check_forward` with the options and the recurrent dropout mask.

    -> x (B, T, I), w_x (I, G), w_h (P, G), b (G), h0 (B, P), c0 (B, H) (zeros when None), opts,
    with opts.recurrent_mask the checked (B, P) mask (:func:`lstmcore.engine._validate.check_recurrent_mask`)
    or None; a mask makes opts.plain False.
    """
    plain = None if recurrent_mask is not None else _plain_call(options)
    if plain is not None:
        x, w_x, w_h, b, h0, c0, _, _ = _validate.check_forward(
            x, w_x, w_h, b, h0, c0, *_activation_names(options), check_finite
        )
        return x, w_x, w_h, b, h0, c0, plain
    dtype, x = _validate._input(x, 3)
    w_x, w_h, b, opts = check_weights(w_x, w_h, b, dtype, check_finite, **options)
    B, T, _ = x.shape
    I, H = w_x.shape[0], w_x.shape[1] // 4
    P = opts.out_size(H)
    _validate._positive_sizes(B=B, T=T, TB=T * B, TG=T * 4 * H)  # BLAS's sizes and row strides
    x, h0, c0 = _validate._with_states(
        dtype, check_finite, ("x", x, (B, T, I)), ("h0", h0, (B, P)), ("c0", c0, (B, H))
    )
    recurrent_mask = _validate.check_recurrent_mask(recurrent_mask, dtype, B, P, check_finite)
    if recurrent_mask is not None:
        opts = opts._replace(recurrent_mask=recurrent_mask, plain=False, codes=None)
    return x, w_x, w_h, b, h0, c0, opts


def check_cell(x_t, w_x, w_h, b, h_prev, c_prev, check_finite, **options):
    """As :func:`check_forward` for one step: x_t (B, I), h_prev (B, P), c_prev (B, H)."""
    plain = _plain_call(options)
    if plain is not None:
        x_t, w_x, w_h, b, h_prev, c_prev, _, _ = _validate.check_cell(
            x_t, w_x, w_h, b, h_prev, c_prev, *_activation_names(options), check_finite
        )
        return x_t, w_x, w_h, b, h_prev, c_prev, plain
    dtype, x_t = _validate._input(x_t, 2)
    w_x, w_h, b, opts = check_weights(w_x, w_h, b, dtype, check_finite, **options)
    B = x_t.shape[0]
    I, H = w_x.shape[0], w_x.shape[1] // 4
    _validate._positive_sizes(B=B)
    x_t, h_prev, c_prev = _validate._with_states(
        dtype,
        check_finite,
        ("x_t", x_t, (B, I)),
        ("h_prev", h_prev, (B, opts.out_size(H))),
        ("c_prev", c_prev, (B, H)),
    )
    return x_t, w_x, w_h, b, h_prev, c_prev, opts


# Backward ---------------------------------------------------------------------------------------


def check_backward(dy, cache, dh_n, dc_n, check_finite):
    """:func:`lstmcore.engine._validate.check_backward` with the options of the cache.

    -> dy (B, T, P) or None, dh_n (B, P), dc_n (B, H) (zeros when None), opts
    """
    if type(cache) is LSTMCache and cache.z is None and cache.m is None and cache.recurrent_mask is None:
        plain = _plain_call(
            {
                "activation": cache.activation,
                "recurrent_activation": cache.recurrent_activation,
                **{name: getattr(cache, name) for name in _OPTION_DEFAULTS},
            }
        )
        if plain is not None:
            return (*_validate.check_backward(dy, cache, dh_n, dc_n, check_finite), plain)
    _validate._cache_of(cache, LSTMCache, "lstm_forward")
    opts = check_cache(cache)
    T, B, G = cache.gates.shape
    H = G // 4
    P = opts.out_size(H)
    dy, dh, dc = _validate._with_states(
        cache.gates.dtype,
        check_finite,
        ("dy", dy, (B, T, P)),
        ("dh_n", dh_n, (B, P)),
        ("dc_n", dc_n, (B, H)),
    )
    return dy, dh, dc, opts


def check_cache(cache: LSTMCache) -> LSTMOptions:
    """The kernels trust the cache: its arrays (the shapes of ``_validate._check_cache``, with
    P columns for w_h and h, and peepholes (3, H), proj (H, P), z (T, B, G) when clip is set,
    m (T, B, H) when proj is set, recurrent_mask (B, P) when set) and its options, returned as an
    :class:`LSTMOptions`."""
    T, B, G, H = _validate._cache_gates(cache, 4)
    proj_shape = getattr(cache.proj, "shape", ())
    P = proj_shape[1] if cache.proj is not None and len(proj_shape) == 2 else H
    expected = _validate._lstm_cache_shapes(T, B, G, H, P)
    if cache.peepholes is not None:
        expected["peepholes"] = (3, H)
    if cache.proj is not None:
        if len(proj_shape) != 2 or proj_shape[0] != H or not 1 <= P < H:
            raise ValueError(f"cache.proj must have shape (H, P) with 1 <= P < H = {H}, got {cache.proj!r}")
        expected["proj"] = (H, P)
        expected["m"] = (T, B, H)
    if cache.clip is not None:
        expected["z"] = (T, B, G)
    if cache.recurrent_mask is not None:
        expected["recurrent_mask"] = (B, P)
    _validate._check_cache_arrays(cache, "gates", expected)
    act, ract, out_act = _specs(
        cache.activation, cache.recurrent_activation, cache.output_activation, prefix="cache."
    )
    clip = _clip(cache.clip, "cache.clip")
    input_forget = _validate.flag("cache.input_forget", cache.input_forget)
    mask = cache.recurrent_mask
    plain, codes = _plain(act, ract, out_act, cache.peepholes, cache.proj, clip, input_forget, mask)
    return LSTMOptions(
        act, ract, out_act, cache.peepholes, cache.proj, clip, input_forget, plain, codes, mask
    )
