"""The package's one argument-check vocabulary (tdnumpy._validation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdnumpy._validation import Interval, ParameterError, check_int, check_real


@pytest.mark.parametrize("interval, inside, outside", [
    (Interval(float, 0.0, 1.0), [0.0, 0.5, 1.0], [-1e-12, 1.0 + 1e-12, math.nan, math.inf]),
    (Interval(float, 0.0, 1.0, "left"), [0.0, 0.999], [1.0, -0.0 - 1e-300]),
    (Interval(float, 0.0, None, "neither"), [1e-300, 1e300], [0.0, math.inf]),
    (Interval(float), [-1e300, 0.0, 1e300], [math.nan, -math.inf]),
    (Interval(int, 1), [1, 10**30], [0, -5]),
    (Interval(int, 1, 16), [1, 16], [0, 17]),
])
def test_membership(interval, inside, outside):
    assert all(v in interval for v in inside), inside
    assert not any(v in interval for v in outside), outside


def test_ranges_print_as_mathematics():
    assert [str(i) for i in (Interval(float, 0.0, 1.0), Interval(float, 0.0, 1.0, "left"), Interval(int, 1),
                             Interval(float, None, 1.0, "right"), Interval(float))] == \
        ["[0.0, 1.0]", "[0.0, 1.0)", "[1, inf)", "(-inf, 1.0]", "(-inf, inf)"]


def test_check_converts_and_names_the_parameter_and_the_value():
    assert check_real(np.float32(0.25), "gamma", "f", low=0, high=1) == 0.25
    assert type(check_int(np.int64(3), "n", "f", low=1)) is int
    with pytest.raises(ValueError, match=r"^The 'gamma' parameter of f must be a float in the range \[0, 1\]. "
                                         r"Got 1.5 instead.$"):
        check_real(1.5, "gamma", "f", low=0, high=1)
    with pytest.raises(TypeError, match="'n' parameter of f must be an int .* Got 2.0 of type float"):
        check_int(2.0, "n", "f")
    for flag in (True, np.bool_(False)):
        with pytest.raises(TypeError, match="of type"):
            check_real(flag, "p", "f")
    with pytest.raises(TypeError, match="Got '0.5' of type str"):
        check_real("0.5", "p", "f")


def test_a_parameter_error_spells_names_for_its_reader():
    error = ParameterError("`layers` and `skip_output` leave no layer; `x`.")
    assert str(error) == "'layers' and 'skip_output' leave no layer; 'x'."
    assert error.spelled(lambda n: "--" + n.replace("_", "-")) == "--layers and --skip-output leave no layer; --x."
    assert isinstance(error, ValueError)
