"""The authors' released TensorFlow code (tdnumpy.masks.released): where it agrees
with the definition of tdnumpy.masks.targeted and where, and how, it departs."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings

from strategies import FRACTIONS, weights
from tdnumpy.masks._select import n_targets
from tdnumpy.masks.released import tf_targeted_unit_keep, tf_targeted_weight_keep, tf_unit_targets, tf_weight_targets
from tdnumpy.masks.targeted import unit_ranks, unit_targets, weight_targets


def float32_norms(w):
    """tf.norm(w, axis=0) on float32 weights, term by term: each square and each
    partial sum rounded to float32 (overflowing to inf, underflowing to 0)."""
    norms = []
    with np.errstate(over="ignore", under="ignore"):
        for column in w.astype(np.float32).T:
            total = np.float32(0)
            for x in column:
                total = np.float32(total + np.float32(x * x))
            norms.append(np.sqrt(total))
    return np.array(norms, np.float32)


@settings(max_examples=200, deadline=None)
@given(w=weights(ties=False, dtype=np.float64), gamma=FRACTIONS)
def test_released_code_agrees_on_tie_free_weights(w, gamma):
    """Where the float32 index equals floor(gamma N), the released code's strict
    threshold selects the same targets as the definition on tie-free columns (for
    units: float32 norms distinct and in the order of the exact ones)."""
    assume(int(np.float32(gamma) * np.float32(w.shape[0])) == n_targets(w.shape[0], gamma))
    assume(len(np.unique(np.abs(w))) == w.size)
    np.testing.assert_array_equal(tf_weight_targets(w, gamma), weight_targets(w, gamma))
    assume(int(gamma * w.shape[1]) == n_targets(w.shape[1], gamma))
    norms = float32_norms(w)
    assume(len(np.unique(norms)) == w.shape[1])
    assume((np.argsort(norms) == np.argsort(unit_ranks(w))).all())
    np.testing.assert_array_equal(tf_unit_targets(w, gamma), unit_targets(w, gamma))


def test_released_code_differs_under_ties_and_at_gamma_one():
    column = np.array([[0.0], [0.0], [0.0], [1.0], [2.0]])
    # more than k = 2 exact zeros: the strict threshold 0 < 0 targets nothing
    assert not tf_weight_targets(column, 0.4).any()
    assert weight_targets(column, 0.4).sum() == 2
    ties = np.array([[1.0], [1.0], [1.0], [3.0]])
    assert tf_weight_targets(ties, 0.5).sum() == 0 and weight_targets(ties, 0.5).sum() == 2
    w = np.random.default_rng(0).standard_normal((6, 4))
    assert tf_weight_targets(w, 1.0).all() and tf_unit_targets(w, 1.0).all()  # documented gamma = 1 behaviour


def test_released_code_evaluation_prunes_and_unit_noise_is_per_weight():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((30, 8))
    np.testing.assert_array_equal(tf_targeted_weight_keep(w, 0.5, 0.3, rng, training=False),
                                  ~tf_weight_targets(w, 0.5))
    keep = tf_targeted_unit_keep(w, 0.5, 0.5, rng)
    targeted = tf_unit_targets(w, 0.5)
    assert keep[:, ~targeted].all()
    partly = [(~keep[:, o]).sum() for o in np.flatnonzero(targeted)]
    assert any(0 < d < w.shape[0] for d in partly)  # columns lose some weights, not all or none
    np.testing.assert_array_equal(tf_targeted_unit_keep(w, 0.5, 0.5, rng, training=False),
                                  np.broadcast_to(~targeted, w.shape))


def test_released_code_index_is_a_float32_product():
    """float32(0.29) * float32(100) rounds to 29.0: the released code targets 29
    of 100, the definition floor(0.29 * 100) = 28."""
    w = np.random.default_rng(0).standard_normal((100, 3))
    assert (tf_weight_targets(w, 0.29).sum(axis=0) == 29).all()
    assert (weight_targets(w, 0.29).sum(axis=0) == 28).all()


def test_released_code_training_draws():
    """Training masks from the same draws the TensorFlow code makes: float32 U < alpha
    for weights, 1 - alpha < U per weight of a targeted unit."""
    w = np.random.default_rng(0).standard_normal((30, 8))
    keep = tf_targeted_weight_keep(w, 0.5, 0.3, np.random.default_rng(4))
    u = np.random.default_rng(4).random(w.shape[::-1], dtype=np.float32).T  # float32, column by column
    np.testing.assert_array_equal(keep, ~(tf_weight_targets(w, 0.5) & (u < np.float32(0.3))))
    keep = tf_targeted_unit_keep(w, 0.5, 0.3, np.random.default_rng(4))
    u = np.random.default_rng(4).random(w.shape, dtype=np.float32)  # in C order of w
    np.testing.assert_array_equal(keep, ~(tf_unit_targets(w, 0.5) & (np.float32(1 - 0.3) < u)))


def test_released_unit_norms_overflow_and_underflow_as_float32():
    """tf.norm on float32 weights: a square (2^64, 3e19) or a sum (two 1.5e19) above
    float32's largest value is inf, and those columns tie with each other; a square
    of 1e-23 or 2e-23 underflows to 0 and those columns tie at 0. The definition
    ranks the exact norms."""
    w = np.array([[2.0 ** 64, 0.0], [1e19, 0.0], [3e19, 0.0], [1.5e19, 1.5e19], [1.0, 0.0]], np.float32).T
    assert np.isinf(float32_norms(w)).tolist() == [True, False, True, True, False]
    # idx = 3 of sorted [1, 1e19, inf, inf, inf]: the threshold is inf, and inf < inf is false
    np.testing.assert_array_equal(tf_unit_targets(w, 0.6), [False, True, False, False, True])
    np.testing.assert_array_equal(unit_targets(w, 0.6), [True, True, False, False, True])  # 2^64 < 1.5e19 sqrt(2)
    # the same weights in float64 are cast to float32 first, as the released models hold them
    np.testing.assert_array_equal(tf_unit_targets(w.astype(np.float64), 0.6), [False, True, False, False, True])
    np.testing.assert_array_equal(tf_unit_targets(np.array([[1e39, 1.0]]), 0.5), [False, True])
    tiny = np.array([[1e-23, 2e-23, 3e-23]], np.float32)
    np.testing.assert_array_equal(float32_norms(tiny) == 0, [True, True, False])
    np.testing.assert_array_equal(tf_unit_targets(tiny, 0.34), [False, False, False])  # 0 < 0 is false
    np.testing.assert_array_equal(unit_targets(tiny, 0.34), [True, False, False])
    np.testing.assert_array_equal(tf_unit_targets(tiny, 0.67), [True, True, False])
