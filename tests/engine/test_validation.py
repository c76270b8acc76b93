"""Bad input at the Python edge, for both backends (policy: the docstring of lstmcore.engine._validate).

Every rule is one parametrized case, run against the compiled module and the NumPy reference, for
``lstm_forward``, ``lstm_backward`` and ``lstm_cell_forward``. Each case checks the exception type
and that the message names what was expected and what was received. Conversions the policy
promises (non-contiguous, Fortran, big-endian, read-only, nested lists) must give the result of
the contiguous native array. A hypothesis fuzz feeds random shapes and dtypes to the compiled
``lstm_forward``: it returns arrays of the right shape or raises ValueError/TypeError, nothing else.
"""

from __future__ import annotations

import re

import lstmcore.engine._lstm as compiled
import numpy as np
import pytest
from helpers import TOL, make_lstm, strided
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lstmcore.reference as reference
from lstmcore import LSTMCache

MODULES = {"compiled": compiled, "reference": reference}

# Sizes of the valid call every case starts from; all distinct so a message shows which is which.
B, T, I, H = 2, 3, 4, 5
G = 4 * H


@pytest.fixture(params=sorted(MODULES))
def mod(request):
    return MODULES[request.param]


def says(*parts: str) -> str:
    """A regex matching a message that contains ``parts`` in this order."""
    return ".*".join(re.escape(p) for p in parts)


def valid(dtype=np.float64) -> dict:
    """Valid inputs of all three functions (forward, cell and backward names side by side)."""
    a = make_lstm(np.random.default_rng(0), B, T, I, H, dtype)
    rng = np.random.default_rng(1)
    a["x_t"] = np.ascontiguousarray(a["x"][:, 0])
    a["h_prev"], a["c_prev"] = a["h0"].copy(), a["c0"].copy()
    a["dy"] = rng.standard_normal((B, T, H)).astype(dtype)
    a["dh_n"] = rng.standard_normal((B, H)).astype(dtype)
    a["dc_n"] = rng.standard_normal((B, H)).astype(dtype)
    return a


def call(mod, func: str, bad: dict | None = None, tamper=None, dtype=np.float64, **kw):
    """Call ``func`` of ``mod`` on the valid inputs with the entries of ``bad`` replaced.

    For "backward" the cache comes from a valid forward of the same module; ``tamper(cache)``
    may change it in place, or return ``[replacement]`` to pass something else as the cache.
    """
    a = valid(dtype)
    a.update(bad or {})
    if func == "forward":
        return mod.lstm_forward(a["x"], a["w_x"], a["w_h"], a["b"], a["h0"], a["c0"], **kw)
    if func == "cell":
        return mod.lstm_cell_forward(a["x_t"], a["w_x"], a["w_h"], a["b"], a["h_prev"], a["c_prev"], **kw)
    assert func == "backward"
    v = valid(dtype)
    cache = mod.lstm_forward(v["x"], v["w_x"], v["w_h"], v["b"], v["h0"], v["c0"], return_cache=True)[3]
    if tamper is not None:
        out = tamper(cache)
        if isinstance(out, list):
            (cache,) = out
    return mod.lstm_backward(a["dy"], cache, a["dh_n"], a["dc_n"], **kw)


def with_nonfinite(a: np.ndarray, value: float) -> np.ndarray:
    a = a.copy()
    a.flat[a.size // 2] = value
    return a


# The rules --------------------------------------------------------------------------------------
# (id, func, bad inputs (a function of the valid ones), keyword arguments, exception, message regex)

CASES = []


def case(id, func, bad=None, exc=ValueError, match="", tamper=None, **kw):
    CASES.append(pytest.param(func, bad, tamper, kw, exc, match, id=id))


INPUTS = {
    "forward": ["x", "w_x", "w_h", "b", "h0", "c0"],
    "cell": ["x_t", "w_x", "w_h", "b", "h_prev", "c_prev"],
    "backward": ["dy", "dh_n", "dc_n"],
}

# The cases as a table, one per line or two (ruff format would give each argument a line).
# fmt: off
# Wrong rank.
for func in ("forward", "cell"):
    case(f"{func}-w_h-rank1", func, lambda a: {"w_h": a["w_h"].ravel()},
         match=says("w_h must have shape (H, 4*H)", f"got ({H * G},)"))
    case(f"{func}-w_h-rank3", func, lambda a: {"w_h": a["w_h"][..., None]},
         match=says("w_h must have shape (H, 4*H)", f"got ({H}, {G}, 1)"))
    case(f"{func}-w_x-rank1", func, lambda a: {"w_x": a["w_x"].ravel()},
         match=says(f"w_x must have shape (I, {G})", f"got ({I * G},)"))
    case(f"{func}-w_x-rank3", func, lambda a: {"w_x": a["w_x"][None]},
         match=says(f"w_x must have shape (I, {G})", f"got (1, {I}, {G})"))
    case(f"{func}-b-rank2", func, lambda a: {"b": a["b"][None]},
         match=says(f"b must have shape ({G})", f"got (1, {G})"))
    case(f"{func}-b-rank0", func, lambda a: {"b": a["b"][0]},
         match=says(f"b must have shape ({G})", "got ()"))
case("forward-x-rank2", "forward", lambda a: {"x": a["x"][:, 0]},
     match=says("x must be 3-D (B, T, I)", f"got shape ({B}, {I})"))
case("forward-x-rank4", "forward", lambda a: {"x": a["x"][None]},
     match=says("x must be 3-D (B, T, I)", f"got shape (1, {B}, {T}, {I})"))
case("cell-x_t-rank3", "cell", lambda a: {"x_t": a["x"]},
     match=says("x_t must be 2-D (B, I)", f"got shape ({B}, {T}, {I})"))
case("cell-x_t-rank1", "cell", lambda a: {"x_t": a["x_t"][0]},
     match=says("x_t must be 2-D (B, I)", f"got shape ({I},)"))
for func, names in (("forward", ("h0", "c0")), ("cell", ("h_prev", "c_prev"))):
    for name in names:
        case(f"{func}-{name}-rank1", func, lambda a, n=name: {n: a[n][0]},
             match=says(f"{name} must have shape ({B}, {H})", f"got ({H},)"))
        case(f"{func}-{name}-rank3", func, lambda a, n=name: {n: a[n][None]},
             match=says(f"{name} must have shape ({B}, {H})", f"got (1, {B}, {H})"))
case("backward-dy-rank2", "backward", lambda a: {"dy": a["dy"][:, 0]},
     match=says(f"dy must have shape ({B}, {T}, {H})", f"got ({B}, {H})"))
for name in ("dh_n", "dc_n"):
    case(f"backward-{name}-rank1", "backward", lambda a, n=name: {n: a[n][0]},
         match=says(f"{name} must have shape ({B}, {H})", f"got ({H},)"))
    case(f"backward-{name}-rank3", "backward", lambda a, n=name: {n: a[n][None]},
         match=says(f"{name} must have shape ({B}, {H})", f"got (1, {B}, {H})"))

# Wrong shape, right rank.
for func in ("forward", "cell"):
    case(f"{func}-w_h-not-H-4H", func, lambda a: {"w_h": a["w_h"][:, :-1]},
         match=says("w_h must have shape (H, 4*H)", f"got ({H}, {G - 1})"))
    case(f"{func}-w_h-square", func, lambda a: {"w_h": a["w_h"][:, :H]},
         match=says("w_h must have shape (H, 4*H)", f"got ({H}, {H})"))
    case(f"{func}-w_x-cols", func, lambda a: {"w_x": a["w_x"][:, :-4]},
         match=says(f"w_x must have shape ({I}, {G})", f"got ({I}, {G - 4})"))
    case(f"{func}-b-length", func, lambda a: {"b": a["b"][:-1]},
         match=says(f"b must have shape ({G})", f"got ({G - 1},)"))
case("forward-w_x-rows-ne-I", "forward", lambda a: {"w_x": a["w_x"][:-1]},
     match=says(f"x must have shape ({B}, {T}, {I - 1})", f"got ({B}, {T}, {I})"))
case("cell-w_x-rows-ne-I", "cell", lambda a: {"w_x": a["w_x"][:-1]},
     match=says(f"x_t must have shape ({B}, {I - 1})", f"got ({B}, {I})"))
for func, names in (("forward", ("h0", "c0")), ("cell", ("h_prev", "c_prev"))):
    for name in names:
        case(f"{func}-{name}-wrong-B", func, lambda a, n=name: {n: a[n][:1]},
             match=says(f"{name} must have shape ({B}, {H})", f"got (1, {H})"))
        case(f"{func}-{name}-wrong-H", func, lambda a, n=name: {n: a[n][:, :-1]},
             match=says(f"{name} must have shape ({B}, {H})", f"got ({B}, {H - 1})"))
case("backward-dy-wrong-T", "backward", lambda a: {"dy": a["dy"][:, :-1]},
     match=says(f"dy must have shape ({B}, {T}, {H})", f"got ({B}, {T - 1}, {H})"))
case("backward-dy-time-major", "backward", lambda a: {"dy": a["dy"].transpose(1, 0, 2)},
     match=says(f"dy must have shape ({B}, {T}, {H})", f"got ({T}, {B}, {H})"))
for name in ("dh_n", "dc_n"):
    case(f"backward-{name}-wrong-B", "backward", lambda a, n=name: {n: a[n][:1]},
         match=says(f"{name} must have shape ({B}, {H})", f"got (1, {H})"))

# Zero-sized dimensions.
for func in ("forward", "cell"):
    case(f"{func}-H0", func, lambda a: {"w_x": np.zeros((I, 0)), "w_h": np.zeros((0, 0)),
                                        "b": np.zeros(0)},
         match=says("H must be at least 1", "got 0"))
case("forward-B0", "forward", lambda a: {"x": a["x"][:0], "h0": None, "c0": None},
     match=says("B must be at least 1", "got 0"))
case("forward-T0", "forward", lambda a: {"x": a["x"][:, :0]},
     match=says("T must be at least 1", "got 0"))
case("forward-I0", "forward", lambda a: {"x": a["x"][:, :, :0], "w_x": a["w_x"][:0]},
     match=says("I must be at least 1", "got 0"))
case("cell-B0", "cell", lambda a: {"x_t": a["x_t"][:0], "h_prev": None, "c_prev": None},
     match=says("B must be at least 1", "got 0"))
case("cell-I0", "cell", lambda a: {"x_t": a["x_t"][:, :0], "w_x": a["w_x"][:0]},
     match=says("I must be at least 1", "got 0"))
case("backward-dy-B0", "backward", lambda a: {"dy": a["dy"][:0]},
     match=says(f"dy must have shape ({B}, {T}, {H})", f"got (0, {T}, {H})"))

# Non-float x: refused, never converted.
BAD_X_DTYPES = {"int64": np.int64, "int32": np.int32, "bool": np.bool_, "complex128": np.complex128,
                "float16": np.float16, "object": object}
for func, xname in (("forward", "x"), ("cell", "x_t")):
    for dname, dt in BAD_X_DTYPES.items():
        case(f"{func}-x-{dname}", func, lambda a, n=xname, dt=dt: {n: a[n].astype(dt)},
             exc=TypeError, match=says("float32 or float64", f"got dtype {dname}"))
case("forward-x-longdouble", "forward", lambda a: {"x": a["x"].astype(np.longdouble)},
     exc=TypeError, match=says("float32 or float64", f"got dtype {np.dtype(np.longdouble)}"))

# Other arrays with a dtype other than that of x.
for func in ("forward", "cell"):
    for name in INPUTS[func][1:]:
        case(f"{func}-{name}-float32-for-float64", func,
             lambda a, n=name: {n: a[n].astype(np.float32)},
             exc=TypeError, match=says(f"{name} must have dtype float64", "got float32"))
        case(f"{func}-{name}-int", func, lambda a, n=name: {n: a[n].astype(np.int64)},
             exc=TypeError, match=says(f"{name} must have dtype float64", "got int64"))
    case(f"{func}-weights-float64-for-float32", func,
         lambda a, f=func: {INPUTS[f][0]: a[INPUTS[f][0]].astype(np.float32)},
         exc=TypeError, match=says("w_x must have dtype float32", "got float64"))
for name in INPUTS["backward"]:
    case(f"backward-{name}-float32-for-float64", "backward",
         lambda a, n=name: {n: a[n].astype(np.float32)},
         exc=TypeError, match=says(f"{name} must have dtype float64", "got float32"))
    case(f"backward-{name}-complex", "backward", lambda a, n=name: {n: a[n].astype(complex)},
         exc=TypeError, match=says(f"{name} must have dtype float64", "got complex128"))

# NaN and inf in each input.
NONFINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}
for func, names in INPUTS.items():
    for name in names:
        for vname, value in NONFINITE.items():
            case(f"{func}-{name}-{vname}", func,
                 lambda a, n=name, v=value: {n: with_nonfinite(a[n], v)},
                 match=says(f"{name} must be finite", f"got {vname}"))

# Activations.
for func in ("forward", "cell"):
    case(f"{func}-activation-unknown", func, activation="nope",
         match=says("activation must be one of", "'tanh'", "got 'nope'"))
    case(f"{func}-activation-capitalised", func, activation="Tanh",
         match=says("activation must be one of", "got 'Tanh'"))
    case(f"{func}-recurrent_activation-unknown", func, recurrent_activation="sigmoidal",
         match=says("recurrent_activation must be one of", "'sigmoid'", "got 'sigmoidal'"))
    case(f"{func}-activation-None", func, activation=None, exc=TypeError,
         match=says("activation must be a string", "got None"))
    case(f"{func}-activation-callable", func, activation=np.tanh, exc=TypeError,
         match=says("activation must be a string", "got <ufunc 'tanh'>"))
    case(f"{func}-recurrent_activation-int", func, recurrent_activation=0, exc=TypeError,
         match=says("recurrent_activation must be a string", "got 0"))


# Cache of the wrong type.
def _replace(obj):
    return lambda cache: [obj]


for cname, obj in (("None", None), ("dict", {}), ("tuple", ()), ("array", np.zeros((T, B, G)))):
    case(f"backward-cache-{cname}", "backward", tamper=_replace(obj), exc=TypeError,
         match=says("cache must be the LSTMCache", f"got {type(obj).__name__}"))


# Tampered caches: ValueError, never a crash.
def _set(**attrs):
    def tamper(cache):
        for k, v in attrs.items():
            setattr(cache, k, v(cache) if callable(v) else v)

    return tamper


def _all(f):
    """Apply ``f`` to every array of the cache (a consistent but unusable cache)."""

    def tamper(cache):
        for k in ("x", "w_x", "w_h", "gates", "h", "c"):
            setattr(cache, k, f(getattr(cache, k)))

    return tamper


TAMPERED = {
    "gates-fewer-rows": (_set(gates=lambda c: c.gates[:, :1]),
                         says(f"shape ({T}, 1, {I})", f"({T}, {B}, {I})")),
    "gates-fewer-steps": (_set(gates=lambda c: c.gates[:-1]),
                          says(f"shape ({T - 1}, {B}, {I})", f"({T}, {B}, {I})")),
    "gates-G-not-4H": (_set(gates=lambda c: c.gates[..., :-1]),
                       says("cache.gates must be an array (T, B, 4*H)", f"({T}, {B}, {G - 1})")),
    "gates-H-minus-1": (_set(gates=lambda c: np.ascontiguousarray(c.gates[..., :-4])),
                        says("cache.w_x", f"shape ({I}, {G - 4})", f"({I}, {G})")),
    "gates-None": (_set(gates=None), says("cache.gates must be an array", "None")),
    "gates-list": (_set(gates=lambda c: c.gates.tolist()), says("cache.gates must be an array")),
    "gates-float32": (_set(gates=lambda c: c.gates.astype(np.float32)),
                      says("cache.x must be a C-contiguous float32 array", "float64")),
    "gates-non-contiguous": (_set(gates=lambda c: np.asfortranarray(c.gates)),
                             says("cache.gates must be a non-empty C-contiguous aligned float array")),
    "h-float32": (_set(h=lambda c: c.h.astype(np.float32)),
                  says("cache.h must be a C-contiguous float64 array", "float32")),
    "c-float32": (_set(c=lambda c: c.c.astype(np.float32)),
                  says("cache.c must be a C-contiguous float64 array", "float32")),
    "h-no-row-0": (_set(h=lambda c: c.h[1:]),
                   says(f"cache.h must be a C-contiguous float64 array of shape ({T + 1}, {B}, {H})",
                        f"({T}, {B}, {H})")),
    "c-non-contiguous": (_set(c=lambda c: np.asfortranarray(c.c)),
                         says(f"cache.c must be a C-contiguous float64 array of shape ({T + 1}, {B}, {H})")),
    "x-wrong-I": (_set(x=lambda c: np.ascontiguousarray(c.x[..., :-1])),
                  says(f"cache.w_x must be a C-contiguous float64 array of shape ({I - 1}, {G})",
                       f"({I}, {G})")),
    "x-None": (_set(x=None), says("cache.x must be a C-contiguous float64 array", "NoneType")),
    "x-0d": (_set(x=lambda c: np.array(1.0)), says("cache.x must be a C-contiguous float64 array")),
    "w_h-transposed": (_set(w_h=lambda c: np.ascontiguousarray(c.w_h[:, :H].T)),
                       says(f"cache.w_h must be a C-contiguous float64 array of shape ({H}, {G})")),
    "w_x-list": (_set(w_x=lambda c: c.w_x.tolist()), says("cache.w_x must be", "list")),
    "activation-unknown": (_set(activation="nope"), says("cache.activation must be one of", "'nope'")),
    "recurrent_activation-unknown": (_set(recurrent_activation="relux"),
                                     says("cache.recurrent_activation must be one of", "'relux'")),
    "all-float16": (_all(lambda a: a.astype(np.float16)), says("float", "float16")),
    "all-big-endian": (_all(lambda a: a.astype(">f8")), says("float", ">f8")),
    "all-T0": (lambda c: [LSTMCache(c.x[:0], c.w_x, c.w_h, c.gates[:0], c.h[:1], c.c[:1],
                                    c.activation, c.recurrent_activation)],
               says("non-empty", f"(0, {B}, {G})")),
}
for tname, (tamper, match) in TAMPERED.items():
    case(f"backward-cache-{tname}", "backward", tamper=tamper, match=match)

# Backend keyword arguments that do not exist are a TypeError from Python itself.
case("forward-unknown-keyword", "forward", exc=TypeError, match=says("unexpected keyword", "units"),
     units=3)


@pytest.mark.parametrize("func, bad, tamper, kw, exc, match", CASES)
def test_rule(mod, func, bad, tamper, kw, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(mod, func, bad(valid()) if bad else None, tamper, **kw)
    assert type(info.value) is exc, f"{type(info.value).__name__} is a subclass of {exc.__name__}"


@pytest.mark.parametrize("func, bad, tamper, kw, exc, match", CASES)
def test_backends_raise_same_type(func, bad, tamper, kw, exc, match):
    got = {}
    for name, m in MODULES.items():
        try:
            call(m, func, bad(valid()) if bad else None, tamper, **kw)
        except Exception as e:  # noqa: BLE001 - whatever it is, both must agree
            got[name] = type(e)
        else:
            got[name] = None
    assert got["compiled"] is got["reference"], got


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", ["forward", "cell", "backward"])
@pytest.mark.parametrize("vname", sorted(NONFINITE))
def test_check_finite_false_skips_the_check(mod, func, dtype, vname):
    """With check_finite=False, non-finite inputs run through: no exception, no crash."""
    for name in INPUTS[func]:
        v = valid(dtype)
        # NumPy warns about inf - inf or 0 * inf in the reference; the user asked for no check.
        with np.errstate(all="ignore"):
            out = call(mod, func, {name: with_nonfinite(v[name], NONFINITE[vname])}, dtype=dtype,
                       check_finite=False)
        outs = out.values() if isinstance(out, dict) else out
        for o in outs:
            assert isinstance(o, np.ndarray) and o.dtype == dtype
        if func == "forward":
            assert [o.shape for o in out] == [(B, T, H), (B, H), (B, H)]
        elif func == "cell":
            assert [o.shape for o in out] == [(B, H), (B, H)]
        else:
            assert {k: o.shape for k, o in out.items()} == {
                "dx": (B, T, I), "dw_x": (I, G), "dw_h": (H, G), "db": (G,),
                "dh0": (B, H), "dc0": (B, H)}


# fmt: on


# Conversions that must work ---------------------------------------------------------------------


def _strided(a: np.ndarray, axis: int = -1) -> np.ndarray:
    view = strided(a, axis)
    assert not view.flags.c_contiguous
    return view


def _transposed(a: np.ndarray) -> np.ndarray:
    """A transposed (non-contiguous) view with the values of ``a``."""
    order = tuple(reversed(range(a.ndim)))
    view = np.ascontiguousarray(a.transpose(order)).transpose(order)
    assert not view.flags.c_contiguous or a.ndim < 2
    return view


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def _big_endian(a: np.ndarray) -> np.ndarray:
    out = a.astype(a.dtype.newbyteorder(">"))
    assert not out.dtype.isnative
    return out


CONVERSIONS = {
    "strided": _strided,
    "transposed": _transposed,
    "fortran": np.asfortranarray,
    "big-endian": _big_endian,
    "read-only": _readonly,
}


def _assert_same(got, want):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
            assert got[k].dtype == want[k].dtype
    else:
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
            assert g.dtype == w.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conv", sorted(CONVERSIONS))
@pytest.mark.parametrize("func", ["forward", "cell", "backward"])
def test_conversion_gives_same_result(mod, func, conv, dtype):
    """Each input converted on its own, then all at once: same result as contiguous native."""
    v = valid(dtype)
    want = call(mod, func, dtype=dtype)
    for name in INPUTS[func]:
        _assert_same(call(mod, func, {name: CONVERSIONS[conv](v[name])}, dtype=dtype), want)
    every = {name: CONVERSIONS[conv](v[name]) for name in INPUTS[func]}
    _assert_same(call(mod, func, every, dtype=dtype), want)


def test_misaligned_input_is_copied(mod):
    v = valid()
    raw = np.zeros(v["x"].nbytes + 1, dtype=np.uint8)
    x = raw[1:].view(np.float64).reshape(v["x"].shape)
    x[...] = v["x"]
    assert not x.flags.aligned
    _assert_same(call(mod, "forward", {"x": x}), call(mod, "forward"))


@pytest.mark.parametrize("func", ["forward", "cell", "backward"])
def test_nested_lists_with_float64_weights(mod, func):
    v = valid(np.float64)
    want = call(mod, func)
    lists = {name: v[name].tolist() for name in INPUTS[func]}
    # x alone as a list, then every input as a list.
    first = INPUTS[func][0]
    _assert_same(call(mod, func, {first: lists[first]}), want)
    _assert_same(call(mod, func, lists), want)


def test_float32_weights_as_lists_are_refused(mod):
    """A list becomes float64; with float32 x that is a dtype mismatch, not a silent cast."""
    v = valid(np.float32)
    with pytest.raises(TypeError, match=says("w_h must have dtype float32", "got float64")):
        mod.lstm_forward(v["x"], v["w_x"], v["w_h"].tolist(), v["b"])


def test_inputs_are_not_modified(mod):
    v = valid()
    before = {k: a.copy() for k, a in v.items()}
    y, h_n, c_n, cache = mod.lstm_forward(
        v["x"], v["w_x"], v["w_h"], v["b"], v["h0"], v["c0"], return_cache=True
    )
    mod.lstm_backward(v["dy"], cache, v["dh_n"], v["dc_n"])
    mod.lstm_cell_forward(v["x_t"], v["w_x"], v["w_h"], v["b"], v["h_prev"], v["c_prev"])
    for k in before:
        np.testing.assert_array_equal(v[k], before[k], err_msg=k)


def test_backends_agree_after_conversion():
    """The compiled result on converted input matches the reference on native input."""
    v = valid()
    conv = {
        "x": _big_endian(_transposed(v["x"])),
        "w_x": np.asfortranarray(v["w_x"]),
        "w_h": _readonly(v["w_h"]),
        "b": _strided(v["b"]),
    }
    got = call(compiled, "forward", conv)
    want = call(reference, "forward")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, **TOL[np.dtype(np.float64)])


# Fuzz ---------------------------------------------------------------------------------------------

DTYPE_CHOICES = [np.float32, np.float64, np.float16, np.int32, np.bool_, np.complex64]


@st.composite
def fuzz_inputs(draw):
    """Inputs that are mostly valid, each part wrong now and then (so about a third succeed)."""

    def rarely(n=12):
        return draw(st.integers(0, n - 1)) == 0

    def size():
        return draw(st.integers(0, 5)) if rarely(6) else draw(st.integers(1, 5))

    Bx, Tx, Ix, Hx = size(), size(), size(), size()
    x_dtype = draw(st.sampled_from(DTYPE_CHOICES)) if rarely() else draw(st.sampled_from(DTYPE_CHOICES[:2]))

    def shape(*right):
        s = tuple(draw(st.integers(0, 6)) if rarely(25) else r for r in right)
        if rarely(40):  # wrong rank
            s = s[:-1] if draw(st.booleans()) else s + (draw(st.integers(0, 3)),)
        return s

    def array(s, dt):
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        a = (rng.standard_normal(s) * 0.5).astype(dt)
        if a.size and np.issubdtype(a.dtype, np.floating) and rarely(30):
            a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        if a.ndim >= 2 and rarely(8):
            a = np.asfortranarray(a)
        return a

    def weight_dtype():
        return draw(st.sampled_from(DTYPE_CHOICES)) if rarely(25) else x_dtype

    x = array(shape(Bx, Tx, Ix), x_dtype)
    w_x = array(shape(Ix, 4 * Hx), weight_dtype())
    w_h = array(shape(Hx, 4 * Hx), weight_dtype())
    b = array(shape(4 * Hx), weight_dtype())
    h0 = None if draw(st.booleans()) else array(shape(Bx, Hx), weight_dtype())
    c0 = None if draw(st.booleans()) else array(shape(Bx, Hx), weight_dtype())
    kw = {
        "activation": "nope" if rarely(30) else draw(st.sampled_from(["tanh", "relu", "sigmoid", "linear"])),
        "recurrent_activation": "tanh" if rarely(30) else draw(st.sampled_from(["sigmoid", "hard_sigmoid"])),
        "check_finite": draw(st.booleans()),
        "return_cache": draw(st.booleans()),
    }
    return x, w_x, w_h, b, h0, c0, kw


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fuzz_inputs())
def test_fuzz_forward(args):
    x, w_x, w_h, b, h0, c0, kw = args
    try:
        out = compiled.lstm_forward(x, w_x, w_h, b, h0, c0, **kw)
    except (ValueError, TypeError) as e:
        event(type(e).__name__)
        return
    event("returned")
    Bx, Tx, _ = x.shape
    Hx = w_h.shape[0]
    assert len(out) == (4 if kw["return_cache"] else 3)
    y, h_n, c_n = out[:3]
    assert y.shape == (Bx, Tx, Hx) and h_n.shape == c_n.shape == (Bx, Hx)
    assert y.dtype == h_n.dtype == c_n.dtype == x.dtype
    if kw["return_cache"]:
        grads = compiled.lstm_backward(np.ones_like(y), out[3], check_finite=False)
        assert grads["dx"].shape == x.shape and grads["dw_h"].shape == w_h.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_check_finds_every_non_finite_value(dtype):
    """The compiled finite check (vectorized, whole-array OR) against NumPy, at every position
    of a vector's worth, at the ends, and for arrays that are not C-contiguous (NumPy's path)."""
    checks = pytest.importorskip("lstmcore.engine._checks")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1001).astype(dtype)
    assert checks.all_finite(a) and checks.all_finite(a[:0])
    for value in (np.nan, np.inf, -np.inf):
        for pos in (*range(17), 500, 999, 1000):
            b = a.copy()
            b[pos] = value
            assert not checks.all_finite(b), (value, pos)
        strided = np.stack([a, a], axis=1)  # (1001, 2): its column is not contiguous
        strided[3, 0] = value
        assert not checks.all_finite(strided[:, 0]) and checks.all_finite(strided[:, 1])
    big = np.full(1 << 12, np.finfo(dtype).max, dtype)  # large but finite
    assert checks.all_finite(big)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checked_in_compiled_code_or_in_python_the_same_bits(dtype):
    """The plain LSTM's ready calls are checked in compiled code (lstmcore.engine._lstm's
    _plain_forward and _plain_cache), the others by _lstm_options: both give the same bits.
    Explicit zero states and an explicit output activation equal to the cell's take the Python
    checks; a NaN the compiled checks pass on is still refused by the Python ones."""
    v = valid(dtype)
    args = (v["x"], v["w_x"], v["w_h"], v["b"])
    zeros = np.zeros((B, H), dtype)
    for kw in ({}, {"return_cache": True}):
        fast = compiled.lstm_forward(*args, **kw)
        slow = compiled.lstm_forward(*args, zeros, zeros.copy(), output_activation="tanh", **kw)
        for a, b in zip(fast[:3], slow[:3], strict=True):
            np.testing.assert_array_equal(a, b)
    cache = fast[3]
    fast = compiled.lstm_backward(v["dy"], cache)
    slow = compiled.lstm_backward(v["dy"], cache, zeros, zeros.copy())
    for k in fast:
        np.testing.assert_array_equal(fast[k], slow[k], err_msg=k)
    dy = v["dy"].copy()
    dy[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=says("dy must be finite", "nan")):
        compiled.lstm_backward(dy, cache)
    assert np.isnan(compiled.lstm_backward(dy, cache, check_finite=False)["dx"]).any()
    x = v["x"].copy()
    x[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=says("x must be finite", "inf")):
        compiled.lstm_forward(x, *args[1:])
