"""LSTMStepper (streaming inference with packed weights): both backends against lstm_forward."""

import numpy as np
import pytest
from helpers import (
    ACTIVATIONS,
    DTYPES,
    RECURRENT_ACTIVATIONS,
    SHAPES,
    assert_close,
    check_step_forms,
    make_lstm,
    stepped,
)

import lstmcore
from lstmcore import reference

BACKENDS = {"reference": reference}
if lstmcore.backend == "compiled":
    BACKENDS["compiled"] = lstmcore.engine._lstm


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_steps_equal_lstm_forward(rng, isa, backend, dtype, shape):
    B, T, I, H = SHAPES[shape]
    p = make_lstm(rng, B, T, I, H, dtype)
    stepper = BACKENDS[backend].LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=B)
    y_ref, h_ref, c_ref = reference.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"])
    stepper.reset(p["h0"], p["c0"])
    y = stepped(stepper, p["x"])
    assert_close(y, y_ref, dtype, "y")
    assert_close(stepper.h, h_ref, dtype, "h")
    assert_close(stepper.c, c_ref, dtype, "c")
    stepper.reset()  # from zeros
    y0 = stepped(stepper, p["x"])
    assert_close(y0, reference.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"])[0], dtype, "y from zeros")


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
def test_activations(rng, isa, backend, activation, recurrent_activation):
    opts = {"activation": activation, "recurrent_activation": recurrent_activation}
    for dtype in DTYPES:
        p = make_lstm(rng, 2, 6, 3, 37, dtype, state=False)  # 37: a partial last panel
        stepper = BACKENDS[backend].LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2, **opts)
        y_ref = reference.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], **opts)[0]
        assert_close(stepped(stepper, p["x"]), y_ref, dtype, f"{opts}")


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled kernels' instruction sets")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [1, 5])
@pytest.mark.parametrize("H", [37, 33])
def test_stepper_keeps_the_kernels_it_packed_for(rng, dtype, B, H):
    """A stepper packed with one instruction set's kernels steps with them after the process
    switches to another: the layout of the packed panels is the kernels' own (AVX2 stores
    strips of columns, whole rows for a batch of 1), so stepping with another set would read
    them wrongly."""
    lc = lstmcore.engine._lstm
    isas = lc._available_isas()
    before = lc._kernel_isa()
    # 37 units: a narrow last panel; 33: one a vector wide where that is the kernels' (AVX2)
    p = make_lstm(rng, B, 4, 7, H, dtype, state=False)
    y_ref = reference.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"])[0]
    try:
        for packed_with in isas:
            lc._set_kernel_isa(packed_with)
            stepper = lc.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=B)
            for stepped_with in isas:
                lc._set_kernel_isa(stepped_with)
                stepper.reset()
                assert_close(stepped(stepper, p["x"]), y_ref, dtype, f"{packed_with} -> {stepped_with}")
    finally:
        lc._set_kernel_isa(before)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled kernels' own paths")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H", [5, 33, 37, 50, 128, 600])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_batch_of_one_steps_to_the_packed_sequences_bits(rng, isa, dtype, H, activation):
    """A stepper of batch 1 runs every panel's products first, then the gate maths over all its
    units at once (up to 512 units; 600 takes the panels' own path): the same bits as the packed
    sequence, whose gate maths run panel by panel, on every instruction set."""
    lc = lstmcore.engine._lstm
    p = make_lstm(rng, 1, 5, 7, H, dtype, state=False)
    stepper = lc.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=1, activation=activation)
    limits = lc._packed_limits()
    lc._set_packed_limits(1, 1 << 30, 1)  # the sequence on the packed kernels, as the stepper
    try:
        y = lc.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], activation=activation)[0]
    finally:
        lc._set_packed_limits(*limits)
    assert np.array_equal(stepped(stepper, p["x"]), y)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_input_forms_buffers_and_copies(rng, backend):
    p = make_lstm(rng, 1, 4, 3, 5, np.float32, state=False)
    mod = BACKENDS[backend]
    a = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"])
    b = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"])
    c = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"])
    p["w_h"][...] = 0  # the steppers copied (packed) the weights: this changes nothing
    # Lists of numbers are converted (integer arrays are refused, see test_reliability.py).
    ys = check_step_forms(a, b, c, p["x"])
    assert ys.shape == (1, 4, 5) and ys[:, -1].any()


def test_stepper_uses_unchanged_weights(rng):
    p = make_lstm(rng, 1, 5, 3, 4, np.float64, state=False)
    y_ref = reference.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"])[0]
    for mod in BACKENDS.values():
        w_h = p["w_h"].copy()
        stepper = mod.LSTMStepper(p["w_x"], w_h, p["b"])
        w_h[...] = 0
        assert_close(stepped(stepper, p["x"]), y_ref, np.float64, type(stepper).__module__)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_bad_input_is_refused(rng, backend):
    p = make_lstm(rng, 2, 1, 3, 4, np.float32, state=False)
    mod = BACKENDS[backend]
    with pytest.raises(ValueError, match="batch_size"):
        mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=1.5)
    with pytest.raises(ValueError, match="activation"):
        mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], activation="swish")
    with pytest.raises(ValueError):
        mod.LSTMStepper(p["w_x"], p["w_h"][:, :-1], p["b"])
    bad_w = p["w_h"].copy()
    bad_w[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        mod.LSTMStepper(p["w_x"], bad_w, p["b"])
    s = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2)
    for bad in (
        np.zeros((3, 3), np.float32),
        np.zeros((2, 4), np.float32),
        np.zeros(3, np.float32),
        np.zeros((2, 2, 3), np.float32),
        np.float32(1.0),
    ):
        with pytest.raises(ValueError, match="x_t must have shape"):
            s.step(bad)
    with pytest.raises(TypeError, match="float32"):
        s.step(np.zeros((2, 3), np.float64))
    with pytest.raises(TypeError, match="must have dtype float32"):
        s.step(np.array([["a", "b", "c"]] * 2))
    x = np.zeros((2, 3), np.float32)
    x[1, 2] = np.inf
    with pytest.raises(ValueError, match="finite"):
        s.step(x)
    with pytest.raises(ValueError):
        s.reset(np.zeros((2, 5), np.float32))
    s.reset()
    unchecked = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2, check_finite=False)
    assert np.isnan(unchecked.step(np.full((2, 3), np.nan, np.float32))).all()


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="threads of the compiled backend")
def test_threads_give_the_same_result(rng):
    p = make_lstm(rng, 3, 4, 64, 512, np.float32, state=False)  # large enough to split panels
    before = lstmcore.get_num_threads()
    try:
        lstmcore.set_num_threads(1)
        one = stepped(lstmcore.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=3), p["x"])
        lstmcore.set_num_threads(2)
        two = stepped(lstmcore.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=3), p["x"])
    finally:
        lstmcore.set_num_threads(before)
    assert np.array_equal(one, two)


def test_public_name_is_the_backends():
    assert lstmcore.LSTMStepper is (
        reference.LSTMStepper if lstmcore.backend == "reference" else lstmcore.engine._lstm.LSTMStepper
    )
    s = lstmcore.LSTMStepper(np.zeros((2, 8)), np.zeros((2, 8)), np.zeros(8))
    assert "units=2" in repr(s) and s.dtype == np.float64
