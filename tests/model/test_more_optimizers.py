"""Nadam, Adagrad, Adadelta, Adamax and Lion: the flat-buffer updates against a per-variable float64
loop written from Keras 3's formulas, against Keras's own numbers (the golden file written by
make_convenience_golden.py, and Keras live where it is installed), state, configs, argument checks,
and a model trained with each through ``compile(optimizer=name)``."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from lstmcore import Sequential, optimizers, set_random_seed
from lstmcore.layers import LSTM, Dense
from lstmcore.optimizers import Adadelta, Adagrad, Adamax, Lion, Nadam

# Keras 3.15 on NumPy 2 warns (DeprecationWarning) in its own convert_to_numpy / Variable.numpy
KERAS_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning")
GOLDEN = Path(__file__).resolve().parent / "data" / "keras_convenience.npz"
NEW = [Nadam, Adagrad, Adadelta, Adamax, Lion]
# Keras runs in float32 (and, for float64 variables, keeps the learning rate in a float32 variable
# and computes its scalars in float32): a few float32 ulps per step.
TOL = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 2e-6, "atol": 1e-7}}


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as f:
        data = {k: f[k] for k in f.files}
    assert int(data["format_version"]) == 1
    return data


def opt_cases(golden):
    return json.loads(str(golden["opt_cases"]))


def parts(golden):
    shapes = [tuple(s) for s in json.loads(str(golden["opt_shapes"]))]
    bounds = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def flat_steps(opt, w0, grads, slices, dtype, schedule=None) -> np.ndarray:
    """The optimizer on the model's flat buffer; the weights after each step (float64 copies)."""
    params = np.asarray(w0, dtype=dtype).copy()
    opt.build(params, slices)
    out = []
    for step, g in enumerate(grads):
        if schedule is not None:
            opt.learning_rate = schedule[step]
        opt.apply(params, np.asarray(g, dtype=dtype).copy())
        out.append(params.astype(np.float64))
    return np.stack(out)


def assert_close(actual, expected, rtol, atol, name):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    ok = np.isclose(actual, expected, rtol=rtol, atol=atol)
    if not ok.all():
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"{name}: {int((~ok).sum())} of {ok.size} differ; largest abs diff "
            f"{np.max(np.abs(actual - expected)):.3e}; first mismatch at {first}: {actual[first]!r} vs "
            f"{expected[first]!r} (rtol={rtol}, atol={atol})"
        )


# A plain per-variable float64 loop, straight from keras/src/optimizers/*.py ------------------------


def reference(name, hp, w0, grads, slices, schedule=None) -> np.ndarray:
    hp = dict(hp)
    lr0 = hp.pop("learning_rate", 0.001)
    wd = hp.pop("weight_decay", None)
    clipnorm, gclip, cval = (
        hp.pop("clipnorm", None),
        hp.pop("global_clipnorm", None),
        hp.pop("clipvalue", None),
    )
    b1 = hp.pop("beta_1", 0.9)
    b2 = hp.pop("beta_2", 0.99 if name == "Lion" else 0.999)
    eps = hp.pop("epsilon", 1e-7)
    rho = hp.pop("rho", 0.95)
    init = hp.pop("initial_accumulator_value", 0.1)
    assert not hp, hp
    ws = [w0[sl].copy() for sl in slices]
    st = [{"a": np.zeros_like(w), "b": np.zeros_like(w) + (init if name == "Adagrad" else 0.0)} for w in ws]
    u_product = 1.0
    out = []
    for it, g_flat in enumerate(grads):
        lr = lr0 if schedule is None else schedule[it]
        gs = [g_flat[sl].copy() for sl in slices]
        if clipnorm:
            gs = [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in gs]
        elif gclip:
            norm = np.sqrt(sum(np.sum(g * g) for g in gs))
            gs = [g * gclip * min(1.0 / norm, 1.0 / gclip) for g in gs]
        elif cval:
            gs = [np.clip(g, -cval, cval) for g in gs]
        if wd is not None:
            ws = [w - w * wd * lr for w in ws]
        t = it + 1
        if name == "Nadam":
            u_t = b1 * (1 - 0.5 * 0.96**t)
            u_t1 = b1 * (1 - 0.5 * 0.96 ** (t + 1))
            u_product = u_product * u_t
        for i, (w, g, s) in enumerate(zip(ws, gs, st, strict=True)):
            if name == "Nadam":
                s["a"] = s["a"] + (g - s["a"]) * (1 - b1)
                s["b"] = s["b"] + (g * g - s["b"]) * (1 - b2)
                m_hat = u_t1 * s["a"] / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
                v_hat = s["b"] / (1 - b2**t)
                w = w - m_hat * lr / (np.sqrt(v_hat) + eps)
            elif name == "Adagrad":
                s["b"] = s["b"] + g * g
                w = w - lr * g / np.sqrt(s["b"] + eps)
            elif name == "Adadelta":
                s["a"] = rho * s["a"] + (1 - rho) * g * g
                delta = -np.sqrt(s["b"] + eps) * g / np.sqrt(s["a"] + eps)
                s["b"] = rho * s["b"] + (1 - rho) * delta * delta
                w = w + lr * delta
            elif name == "Adamax":
                s["a"] = s["a"] + (g - s["a"]) * (1 - b1)
                s["b"] = np.maximum(b2 * s["b"], np.abs(g))
                w = w - lr * s["a"] / ((1 - b1**t) * (s["b"] + eps))
            elif name == "Lion":
                w = w - lr * np.sign(s["a"] * b1 + g * (1 - b1))
                s["a"] = s["a"] * b2 + g * (1 - b2)
            ws[i] = w
        out.append(np.concatenate([w.ravel() for w in ws]))
    return np.stack(out)


def test_golden_file_covers_every_new_optimizer(golden):
    assert {name for name, _, _ in opt_cases(golden)} == {cls.__name__ for cls in NEW}


def test_matches_per_variable_reference_float64(golden):
    slices = parts(golden)
    for i, (name, hp, schedule) in enumerate(opt_cases(golden)):
        opt = optimizers.get({"class_name": name, "config": hp})
        got = flat_steps(opt, golden["opt/w0"], golden["opt/grads"], slices, np.float64, schedule)
        want = reference(name, hp, golden["opt/w0"], golden["opt/grads"], slices, schedule)
        assert_close(got, want, 1e-12, 1e-14, f"case {i} {name} {hp}")
        assert opt.iterations == len(golden["opt/grads"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_keras_golden(golden, dtype):
    slices = parts(golden)
    for i, (name, hp, schedule) in enumerate(opt_cases(golden)):
        opt = optimizers.get({"class_name": name, "config": hp})
        got = flat_steps(opt, golden["opt/w0"], golden["opt/grads"], slices, dtype, schedule)
        assert_close(got, golden[f"opt/{i}/{dtype}"], **TOL[dtype], name=f"case {i} {name} {hp} {dtype}")
        for key, value in opt.get_state().items():
            if key != "iterations":
                assert value.dtype == np.dtype(dtype), (name, key)


def test_float32_defaults_match_keras_bit_for_bit(golden):
    # Without clipping or weight decay the float32 arithmetic is Keras's, operation for operation.
    slices = parts(golden)
    for i, (name, hp, schedule) in enumerate(opt_cases(golden)):
        if hp or schedule:
            continue
        got = flat_steps(
            optimizers.get(name.lower()), golden["opt/w0"], golden["opt/grads"], slices, "float32"
        )
        np.testing.assert_array_equal(got, golden[f"opt/{i}/float32"], err_msg=name)


@KERAS_WARNINGS
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_keras_live(golden, keras, dtype):
    from make_convenience_golden import keras_optimizer_steps

    slices = parts(golden)
    for i, (name, hp, schedule) in enumerate(opt_cases(golden)):
        live = keras_optimizer_steps(keras, name, hp, schedule, golden["opt/w0"], golden["opt/grads"], dtype)
        opt = optimizers.get({"class_name": name, "config": hp})
        got = flat_steps(opt, golden["opt/w0"], golden["opt/grads"], slices, dtype, schedule)
        assert_close(got, live, **TOL[dtype], name=f"case {i} {name} {hp} {dtype} (Keras live)")
        assert_close(live, golden[f"opt/{i}/{dtype}"], **TOL[dtype], name=f"golden file, case {i}")


@KERAS_WARNINGS
def test_defaults_and_config_keys_are_keras(keras):
    for cls in NEW:
        ours = cls().get_config()
        theirs = getattr(keras.optimizers, cls.__name__)().get_config()
        assert ours.pop("class_name") == cls.__name__
        assert set(theirs) - set(ours) == set(optimizers._KERAS_DEFAULTS), cls.__name__
        assert theirs.pop("name").startswith(ours.pop("name"))  # Keras numbers its names: nadam_3
        for key, value in ours.items():
            want = pytest.approx(theirs[key]) if isinstance(value, float) else theirs[key]
            assert value == want, (cls.__name__, key)
        # Keras's own config (with its extra keys at their defaults) builds the same optimizer
        again = optimizers.get({"class_name": cls.__name__, "config": theirs})
        assert type(again) is cls
        # Keras keeps the learning rate in a float32 variable: its config has 0.0010000000474974513
        assert again.learning_rate == pytest.approx(0.001, rel=1e-7)
        again.learning_rate = 0.001
        assert again.get_config() == {**cls().get_config(), "name": again.name}


def test_defaults():
    common = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None}

    def hyper(o):
        return {k: v for k, v in o.get_config().items() if k not in ("class_name", *common)}

    assert hyper(Nadam()) == {
        "name": "nadam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert hyper(Adagrad()) == {
        "name": "adagrad",
        "learning_rate": 0.001,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-7,
    }
    assert hyper(Adadelta()) == {"name": "adadelta", "learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7}
    assert hyper(Adamax()) == {
        "name": "adamax",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert hyper(Lion()) == {"name": "lion", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99}


# Keras's own test numbers (keras/src/optimizers/*_test.py) ----------------------------------------


def _one_variable(opt, x, grads_list, dtype=np.float32):
    x = np.array(x, dtype=dtype)
    opt.build(x, [slice(0, x.size)])
    out = []
    for g in grads_list:
        opt.apply(x, np.array(g, dtype=dtype))
        out.append(x.copy())
    return out


@pytest.mark.parametrize(
    ("opt", "want"),
    [
        (Nadam(learning_rate=0.5), [0.4686, 1.4686, 2.4686, 3.4686]),
        (Adagrad(learning_rate=0.5), [0.5233, 1.5007, 2.5005, 3.5061]),
        (Adadelta(learning_rate=0.5), [0.9993, 1.9993, 2.9993, 3.9993]),
        (Adamax(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
        (Lion(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
    ],
    ids=["nadam", "adagrad", "adadelta", "adamax", "lion"],
)
def test_keras_single_step(opt, want):
    (x,) = _one_variable(opt, [1.0, 2.0, 3.0, 4.0], [[1.0, 6.0, 7.0, 2.0]])
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("opt", "golden"),
    [
        (
            Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5),
            [
                [0.4281] * 10,
                [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
                [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
                [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
                [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454],
            ],
        ),
        (
            Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
            [
                [0.9963] * 10,
                [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
                [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
                [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
                [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
            ],
        ),
        (
            Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6),
            [[v] * 10 for v in (0.9978, 0.9947, 0.9915, 0.9882, 0.9849)],
        ),
        (
            Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6),
            [
                [0.8] * 10,
                [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
                [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
                [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
                [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126],
            ],
        ),
        (Lion(), [[v] * 10 for v in (0.999, 0.998, 0.997, 0.996, 0.995)]),
    ],
    ids=["nadam", "adagrad", "adadelta", "adamax", "lion"],
)
def test_keras_golden(opt, golden):
    # Keras: one step with gradients 0.01, then steps with arange(0.1, 1.1, 0.1); golden[i] is the
    # variable after 1 + i steps.
    grads = [np.full(10, 0.01)] + [np.arange(0.1, 1.1, 0.1)] * 4
    xs = _one_variable(opt, np.ones(10), grads)
    for i, (x, want) in enumerate(zip(xs, golden, strict=True)):
        np.testing.assert_allclose(x, want, rtol=5e-4, atol=5e-4, err_msg=f"step {i}")


@pytest.mark.parametrize("cls", NEW)
def test_keras_weight_decay(cls):
    # Keras applies three fresh optimizers (weight_decay=0.004, learning_rate=1) with zero gradients.
    # Lion's sign(0) = 0, Adadelta's delta 0: only the decay moves the weight.
    x = np.array([2.0], dtype=np.float32)
    for _ in range(3):
        opt = cls(learning_rate=1.0, weight_decay=0.004)
        opt.build(x, [slice(0, 1)])
        opt.apply(x, np.zeros(1, dtype=np.float32))
    assert x[0] == pytest.approx(1.9760959, abs=1e-6)


# State, configs, look-up, arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "hp", "slots"),
    [
        (Nadam, {}, {"momentum", "velocity", "u_product"}),
        (Adagrad, {"initial_accumulator_value": 0.3}, {"accumulator"}),
        (Adadelta, {"learning_rate": 1.0}, {"accumulated_grad", "accumulated_delta_var"}),
        (Adamax, {}, {"momentum", "norm"}),
        (Lion, {}, {"momentum"}),
    ],
)
def test_state_round_trip_continues_identically(golden, cls, hp, slots):
    slices, grads = parts(golden), golden["opt/grads"]
    a = cls(**hp)
    params_a = golden["opt/w0"].copy()
    a.build(params_a, slices)
    if cls is Adagrad:
        assert (a.get_state()["accumulator"] == 0.3).all()
    for g in grads[:3]:
        a.apply(params_a, g.copy())
    state = a.get_state()
    assert set(state) == slots | {"iterations"}
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf) as f:
        loaded = {k: f[k] for k in f.files}
    b = optimizers.get(json.loads(json.dumps(a.get_config())))
    params_b = params_a.copy()
    b.build(params_b, slices)
    b.set_state(loaded)
    for g in grads[3:]:
        a.apply(params_a, g.copy())
        b.apply(params_b, g.copy())
    np.testing.assert_array_equal(params_a, params_b)


def test_nadam_state_checks_u_product():
    opt = Nadam()
    opt.build(np.zeros(4), [slice(0, 4)])
    good = opt.get_state()
    assert good["u_product"].shape == () and good["u_product"] == 1.0
    for bad, word in [
        ({k: v for k, v in good.items() if k != "u_product"}, "u_product"),
        ({**good, "u_product": np.array([1.0, 2.0])}, "u_product"),
        ({**good, "u_product": np.array(1.0, dtype=np.float32)}, "u_product"),
        ({**good, "u_product": np.array(np.nan)}, "u_product"),
        ({**good, "bogus": np.zeros(4)}, "entries"),
    ]:
        with pytest.raises(ValueError, match=word):
            opt.set_state(bad)
    opt.apply(np.zeros(4), np.ones(4))
    opt.build(np.zeros(4), [slice(0, 4)])  # a new build starts over, u_product included
    assert opt.get_state()["u_product"] == 1.0 and opt.iterations == 0


@pytest.mark.parametrize(
    "opt",
    [
        Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5, clipnorm=2.0),
        Adagrad(learning_rate=0.5, initial_accumulator_value=0.0, epsilon=1e-5, weight_decay=0.01),
        Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6, global_clipnorm=3.0),
        Adamax(learning_rate=0.5, beta_1=0.5, beta_2=1.0, epsilon=1e-5, clipvalue=0.1),
        Lion(learning_rate=0.5, beta_1=1.0, beta_2=0.0, weight_decay=0.1, name="my_lion"),
    ],
    ids=["nadam", "adagrad", "adadelta", "adamax", "lion"],
)
def test_config_round_trip(opt):
    config = opt.get_config()
    assert config == json.loads(json.dumps(config))
    again = optimizers.get(config)
    assert type(again) is type(opt) and again.get_config() == config
    assert type(opt).from_config(config).get_config() == config
    assert optimizers.serialize(opt) == config
    assert repr(opt).startswith(type(opt).__name__ + "(")


@pytest.mark.parametrize("cls", NEW)
def test_get_by_keras_names(cls):
    for name in (cls.__name__, cls.__name__.lower()):
        opt = optimizers.get(name)
        assert type(opt) is cls and opt.get_config() == cls().get_config()
    with pytest.raises(ValueError, match="'nadam', 'adagrad', 'adadelta', 'adamax', 'lion'"):
        optimizers.get("adafactor")


@pytest.mark.parametrize(
    ("cls", "kwargs", "word"),
    [
        (Nadam, {"beta_1": 1.0}, "beta_1"),
        (Nadam, {"beta_2": -0.1}, "beta_2"),
        (Nadam, {"epsilon": 0.0}, "epsilon"),
        (Nadam, {"learning_rate": 0.0}, "learning_rate"),
        (Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
        (Adagrad, {"initial_accumulator_value": "0.1"}, "initial_accumulator_value"),
        (Adagrad, {"epsilon": float("nan")}, "epsilon"),
        (Adadelta, {"rho": 1.5}, "rho"),
        (Adadelta, {"rho": True}, "rho"),
        (Adadelta, {"epsilon": -1e-7}, "epsilon"),
        (Adamax, {"beta_1": 1.0}, "beta_1"),
        (Adamax, {"beta_2": 1.1}, "beta_2"),
        (Adamax, {"epsilon": None}, "epsilon"),
        (Lion, {"beta_1": 0.0}, "beta_1"),  # Keras: beta_1 in (0, 1], else sign SGD
        (Lion, {"beta_1": 1.5}, "beta_1"),
        (Lion, {"beta_2": -0.5}, "beta_2"),
        (Lion, {"learning_rate": float("inf")}, "learning_rate"),
        (Lion, {"clipnorm": 1.0, "clipvalue": 1.0}, "only one"),
        (Adamax, {"weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_bad_hyper_parameters_raise(cls, kwargs, word):
    with pytest.raises(ValueError, match=word) as info:
        cls(**kwargs)
    assert "received" in str(info.value)
    value = next(iter(kwargs.values()))
    assert repr(value) in str(info.value)


def test_unknown_argument_raises_type_error():
    with pytest.raises(TypeError, match="bogus"):
        Nadam(bogus=1)
    with pytest.raises(ValueError, match="invalid config"):
        optimizers.get({"class_name": "Lion", "config": {"epsilon": 1e-7}})  # Lion has no epsilon


def test_apply_allocates_no_buffer_sized_temporaries(rng):
    n = 250_000
    for opt in [
        Nadam(clipnorm=1.0, weight_decay=0.01),
        Adagrad(global_clipnorm=1.0),
        Adadelta(clipvalue=0.1),
        Adamax(),
        Lion(weight_decay=0.1),
    ]:
        params, grads = rng.standard_normal(n), rng.standard_normal(n)
        opt.build(params, [slice(0, 1000), slice(1000, n)])
        opt.apply(params, grads.copy())
        tracemalloc.start()
        try:
            g = grads.copy()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            opt.apply(params, g)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert peak < n * 8 // 10, f"{type(opt).__name__}: apply() peaked at {peak} bytes for {n} float64s"


# Through the model ----------------------------------------------------------------------------------


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None] * 0.25
    return x, y


@pytest.mark.parametrize(
    ("name", "lr"), [("nadam", 0.01), ("adagrad", 0.1), ("adadelta", 1.0), ("adamax", 0.01), ("lion", 0.003)]
)
def test_sequential_trains_with_each(name, lr, tmp_path):
    set_random_seed(0)
    x, y = _data()
    model = Sequential([LSTM(8, input_shape=(4, 2)), Dense(1)])
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is type(optimizers.get(name))
    model.optimizer.learning_rate = lr
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0, shuffle=False)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert after < 0.8 * before, (name, before, after)  # Adadelta is the slowest: 0.61 here
    assert model.optimizer.iterations == 15 * 4
    # the file keeps the optimizer and its state (Nadam's u_product too): training goes on identically
    path = tmp_path / f"{name}.lstmcore"
    model.save(path)
    from lstmcore import load_model

    again = load_model(path)
    assert type(again.optimizer) is type(model.optimizer)
    state, state_again = model.optimizer.get_state(), again.optimizer.get_state()
    assert set(state) == set(state_again)
    for key in state:
        np.testing.assert_array_equal(state[key], state_again[key], err_msg=key)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    again.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
