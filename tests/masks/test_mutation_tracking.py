"""The weight-target tracker (tdnumpy.masks.tracking): its documented
defaults, float32 weights (the largest finite value allowed, infinities
refused) and the exact errors.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy import masks


def test_a_new_tracker_has_the_documented_defaults():
    tracker = masks.WeightTargetTracker()
    assert tracker.direct_size == 16384 and tracker.reranked == 0


@pytest.mark.parametrize("direct_size", [0, 16384])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_largest_finite_weight_is_tracked_and_an_infinite_one_refused(dtype, direct_size):
    w = np.random.default_rng(0).standard_normal((6, 4)).astype(dtype)
    w[2, 1] = np.finfo(dtype).max
    tracker = masks.WeightTargetTracker(direct_size)
    np.testing.assert_array_equal(tracker.rows(w, 0.5), masks.weight_targets(w, 0.5).T)
    w[3, 2] = np.inf
    with pytest.raises(ValueError) as caught:
        tracker.rows(w, 0.5)
    assert str(caught.value) == "The 'w' parameter of WeightTargetTracker must be finite. Got NaN or infinite entries."


def test_a_weight_that_is_not_a_matrix_is_refused_naming_the_tracker():
    with pytest.raises(ValueError) as caught:
        masks.WeightTargetTracker().rows(np.ones(3), 0.5)
    assert str(caught.value) == ("The 'w' parameter of WeightTargetTracker must be a non-empty 2-D array "
                                 "(fan_in, units). Got shape (3,) instead.")
