"""The released TensorFlow code's targets (tdnumpy.masks.released): boolean
targets at gamma = 1, float32 norms taken from the float32 cast of the
weights, and overflow to inf without floating-point warnings.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import warnings

import numpy as np

from tdnumpy import masks


def test_gamma_one_targets_every_weight_as_a_boolean_mask():
    targets = masks.tf_weight_targets(np.ones((3, 2)), 1.0)
    assert targets.dtype == np.bool_ and targets.all()
    keep = masks.tf_targeted_weight_keep(np.ones((3, 2)), 1.0, 1.0, np.random.default_rng(0))
    assert keep.dtype == np.bool_ and not keep.any()


def test_float64_weights_are_cast_to_float32_before_squaring():
    """Two columns equal once cast to float32 tie (no target under the strict
    threshold), though their float64 squares round to different float32 values."""
    x = 1 + 2.0**-24 + 2.0**-40
    w = np.array([[x, float(np.float32(x))]])
    assert masks.tf_unit_targets(w, 0.5).tolist() == [False, False]


def test_huge_and_tiny_weights_overflow_and_underflow_without_warnings():
    w = np.array([[1e20, 1.0], [1e-30, 2.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        targets = masks.tf_unit_targets(w, 0.5)
    assert targets.tolist() == [False, True]  # the first column's norm is inf
