"""Fuzz of the learning-rate schedules (lstmcore.optimizers.schedules): drawn arguments and steps.
The rules: a finite rate at every step; the decays that promise it never grow (exponential with a
rate at most 1, inverse-time, polynomial down to a lower end, cosine without warmup); each stays
between its end points; the config round-trips through JSON."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lstmcore.optimizers import schedules

rates = st.floats(1e-6, 1.0)
steps = st.integers(1, 1000)


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["exp", "piecewise", "poly", "inverse", "cosine", "warmup"]))
    if kind == "exp":
        return kind, schedules.ExponentialDecay(
            draw(rates), draw(steps), draw(st.floats(0.01, 1.0)), draw(st.booleans())
        )
    if kind == "piecewise":
        bounds = sorted(draw(st.lists(st.integers(0, 500), min_size=1, max_size=4, unique=True)))
        values = draw(st.lists(rates, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
        return kind, schedules.PiecewiseConstantDecay(bounds, values)
    if kind == "poly":
        start = draw(rates)
        end = draw(st.floats(0.0, start))
        cycle = draw(st.booleans())
        return kind, schedules.PolynomialDecay(start, draw(steps), end, draw(st.floats(0.1, 3.0)), cycle)
    if kind == "inverse":
        return kind, schedules.InverseTimeDecay(
            draw(rates), draw(steps), draw(st.floats(0.0, 5.0)), draw(st.booleans())
        )
    if kind == "cosine":
        return kind, schedules.CosineDecay(draw(rates), draw(steps), draw(st.floats(0.0, 1.0)))
    return kind, schedules.CosineDecay(
        draw(rates), draw(steps), 0.0, warmup_target=draw(rates), warmup_steps=draw(steps)
    )


@given(case=cases(), points=st.lists(st.integers(0, 5000), min_size=2, max_size=20))
def test_schedules_are_finite_bounded_and_monotone(case, points):
    kind, schedule = case
    points = sorted(points)
    values = np.array([schedule(s) for s in points])
    assert np.isfinite(values).all() and (values >= 0).all()
    config = schedule.get_config()
    if kind in ("exp", "inverse", "cosine") or (kind == "poly" and not schedule.cycle):
        assert (np.diff(values) <= 1e-7 * values[:-1] + 1e-12).all(), values
        assert values[0] <= np.float32(config["initial_learning_rate"]) * (1 + 1e-6)
    if kind == "piecewise":
        assert set(np.float32(values)) <= set(np.float32(config["values"]))
    again = schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule))))
    assert [again(s) for s in points] == list(values)
