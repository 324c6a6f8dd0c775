"""Schedules of gamma and alpha (tdnumpy.masks.ramps) against their formulas."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.masks.ramps import Fixed, LinearRamp, TwoPhaseRamp, as_schedule


def test_the_two_phase_ramp_is_the_released_code_s_formula():
    ramp = TwoPhaseRamp(0.8, 100)
    for t in (0, 1, 50, 99, 100, 101, 150, 200, 250, 10**6):
        expected = 0.95 * 0.8 * min(1, t / 100) + 0.05 * 0.8 * max(0, min(1, (t - 100) / 100))
        assert ramp(t) == pytest.approx(expected, rel=1e-12), t
    assert ramp(50) == pytest.approx(0.38) and ramp(150) == pytest.approx(0.78) and ramp(200) == 0.8


def test_the_linear_ramp_and_a_fixed_value():
    ramp = LinearRamp(0.6, 4)
    assert [ramp(t) for t in range(6)] == pytest.approx([0.0, 0.15, 0.3, 0.45, 0.6, 0.6])
    assert Fixed(0.25)(0) == Fixed(0.25)(10**9) == 0.25
    assert as_schedule(0.5, "gamma")(7) == 0.5 and as_schedule(ramp, "gamma") is ramp


@pytest.mark.parametrize("make, match", [
    (lambda: LinearRamp(1.5, 10), "'final' parameter of LinearRamp must be a float in the range \\[0.0, 1.0\\]"),
    (lambda: TwoPhaseRamp(0.5, 0), "'steps' parameter of TwoPhaseRamp must be an int"),
    (lambda: Fixed(-0.1), "'value' parameter of Fixed"),
    (lambda: as_schedule(np.nan, "alpha"), "'alpha'"),
])
def test_bad_values_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    with pytest.raises(TypeError, match="'gamma' parameter must be a float in \\[0, 1\\] or a schedule"):
        as_schedule("0.5", "gamma")
