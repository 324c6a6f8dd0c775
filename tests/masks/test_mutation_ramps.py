"""Schedules of gamma and alpha (tdnumpy.masks.ramps): values outside [0, 1]
are refused in full, and a ramp of a single step is allowed.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import pytest

from tdnumpy import masks

ERRORS = [
    (lambda: masks.Fixed(1.5), "The 'value' parameter of Fixed must be a float in the range [0.0, 1.0]. Got 1.5 instead."),
    (lambda: masks.Fixed(2.5), "The 'value' parameter of Fixed must be a float in the range [0.0, 1.0]. Got 2.5 instead."),
    (lambda: masks.LinearRamp(0.5, 0),
     "The 'steps' parameter of LinearRamp must be an int in the range [1, inf). Got 0 instead."),
    (lambda: masks.as_schedule(1.5, "gamma"),
     "The 'gamma' parameter of as_schedule must be a float in the range [0.0, 1.0]. Got 1.5 instead."),
    (lambda: masks.as_schedule(-0.5, "alpha"),
     "The 'alpha' parameter of as_schedule must be a float in the range [0.0, 1.0]. Got -0.5 instead."),
]


@pytest.mark.parametrize("call, message", ERRORS, ids=[f"case{i}" for i in range(len(ERRORS))])
def test_a_value_outside_0_1_gets_the_documented_message_in_full(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_a_ramp_of_one_step_reaches_its_final_value_at_step_one():
    assert masks.LinearRamp(0.5, 1)(0) == 0.0 and masks.LinearRamp(0.5, 1)(1) == 0.5
    assert masks.TwoPhaseRamp(0.5, 1)(2) == 0.5
