"""The tracked weight targets equal the plain exact-k selection, bit for bit.

WeightTargetTracker reuses each column's threshold from the previous step,
repairs the thresholds of columns whose count moved by one or two and ranks
the others again (see tdnumpy.masks.tracking). These tests compare it with
tdnumpy.masks.weight_targets at every step of generated weight sequences
(small moves, ties created and broken, gamma changes, new shapes) and of real
training runs, where the rule's masks must also equal
masks.targeted_weight_keep drawn from the same generator state.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdnumpy import masks
from tdnumpy.data.datasets import to_inputs
from tdnumpy.masks.ramps import LinearRamp
from tdnumpy.masks.tracking import MAX_SHIFT, WeightTargetTracker, smallest_distinct
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import TargetedWeightDropout
from tdnumpy.nn.weighted import attach
from tdnumpy.training.fit import fit
from tdnumpy.training.optim import SGD

from strategies import FRACTIONS, SHAPES

MOVES = st.sampled_from(["nudge", "nudge", "creep", "creep", "tie", "gamma", "scale", "jump"])


@settings(max_examples=300, deadline=None)
@given(shape=SHAPES, dtype=st.sampled_from([np.float16, np.float32, np.float64]), gamma=FRACTIONS,
       moves=st.lists(MOVES, min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1),
       direct_size=st.sampled_from([0, 0, 40]), repair_size=st.sampled_from([0, 0, 2**15]))
def test_tracked_targets_equal_the_plain_selection_at_every_step(shape, dtype, gamma, moves, seed, direct_size,
                                                                 repair_size):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    w = np.asfortranarray(w) if seed % 2 else np.ascontiguousarray(w)  # both memory orders
    # direct_size 0: always tracked; 40: small shapes ranked afresh. repair_size 0: always repaired
    tracker = WeightTargetTracker(direct_size, repair_size)
    for move in ["start"] + moves:
        if move == "nudge":     # what an SGD step does: every weight moves a little
            w += (1e-2 * rng.standard_normal(shape)).astype(dtype)
        elif move == "creep":   # a smaller step: a few weights cross a threshold (what the repair handles)
            w += (1e-3 * rng.standard_normal(shape)).astype(dtype)
        elif move == "tie":     # copy one entry onto others of its column (ties at the threshold)
            col = rng.integers(shape[1])
            w[rng.integers(shape[0], size=2), col] = w[rng.integers(shape[0]), col]
        elif move == "gamma":
            gamma = float(rng.random())
        elif move == "scale":
            w *= dtype(-2.0)
        elif move == "jump":
            w[...] = rng.standard_normal(shape).astype(dtype)
        got = tracker.rows(w, gamma)
        assert got.flags.c_contiguous and got.shape == shape[::-1]
        np.testing.assert_array_equal(got, masks.weight_targets(w, gamma).T)


@pytest.mark.parametrize("direct_size", [0, 16384])
def test_a_new_shape_or_dtype_starts_afresh(direct_size):
    rng = np.random.default_rng(0)
    tracker = WeightTargetTracker(direct_size)
    for shape, dtype in [((20, 5), np.float32), ((20, 5), np.float64), ((7, 9), np.float64), ((20, 5), np.float32)]:
        w = rng.standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(tracker.rows(w, 0.4), masks.weight_targets(w, 0.4).T)
        assert tracker.reranked == shape[1]


def test_only_columns_whose_count_moved_are_ranked_again():
    rng = np.random.default_rng(1)
    w = np.asfortranarray(rng.standard_normal((50, 8)))
    tracker = WeightTargetTracker(direct_size=0)
    tracker.rows(w, 0.5)
    assert tracker.reranked == 8
    tracker.rows(w, 0.5)
    assert tracker.reranked == 0                       # nothing moved
    w[:, 3] = rng.standard_normal(50)                  # one column replaced
    np.testing.assert_array_equal(tracker.rows(w, 0.5), masks.weight_targets(w, 0.5).T)
    assert tracker.reranked <= 1


def _column_pair(dtype):
    """Two columns of 40 distinct magnitudes 1..40 (k = 20 at gamma 0.5), signs mixed."""
    w = np.stack([np.arange(1, 41), np.arange(40, 0, -1)], axis=1).astype(dtype)
    w[::3] *= -1
    return np.asfortranarray(w)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shift", [1, 2, -1, -2])
def test_a_count_moved_by_one_or_two_is_repaired_without_ranking(shift, dtype):
    """Column 0's magnitudes 1..40: targets 1..20, threshold between 20 and 21.
    Moving |shift| targets above it (shift < 0) or non-targets below it (> 0)
    moves the count by shift; column 1 keeps its count."""
    w = _column_pair(dtype)
    tracker = WeightTargetTracker(direct_size=0, repair_size=0)
    tracker.rows(w, 0.5)
    if shift > 0:
        w[20 : 20 + shift, 0] = np.sign(w[20 : 20 + shift, 0]) * dtype(0.5) * np.arange(1, shift + 1)  # 21.. -> 0.5, 1.0
    else:
        w[20 + shift : 20, 0] = np.sign(w[20 + shift : 20, 0]) * dtype(50) * np.arange(1, -shift + 1)  # ..20 -> 50, 100
    got = tracker.rows(w, 0.5)
    np.testing.assert_array_equal(got, masks.weight_targets(w, 0.5).T)
    assert (tracker.repaired, tracker.reranked) == (1, 0)


@pytest.mark.parametrize("shift", [MAX_SHIFT + 1, -MAX_SHIFT - 1])
def test_a_count_moved_further_is_ranked(shift):
    w = _column_pair(np.float32)
    tracker = WeightTargetTracker(direct_size=0, repair_size=0)
    tracker.rows(w, 0.5)
    moved = slice(20, 20 + shift) if shift > 0 else slice(20 + shift, 20)
    w[moved, 0] = np.float32(0.5) if shift > 0 else np.float32(50) + np.arange(-shift)
    np.testing.assert_array_equal(tracker.rows(w, 0.5), masks.weight_targets(w, 0.5).T)
    assert (tracker.repaired, tracker.reranked) == (0, 1)


@pytest.mark.parametrize("tied", ["at the new boundary", "at zero"])
def test_ties_among_the_keys_a_repair_finds_send_the_column_to_ranking(tied):
    """Two non-targets fall below the threshold (count + 2) onto equal magnitudes:
    the new k-th and (k+1)-th keys are equal, so no threshold separates them,
    and the tie rule (lower row first) decides which is a target."""
    w = _column_pair(np.float32)
    tracker = WeightTargetTracker(direct_size=0, repair_size=0)
    tracker.rows(w, 0.5)
    w[[20, 21], 0] = 19.5 if tied == "at the new boundary" else 0.0
    if tied == "at zero":
        w[:19, 0] = 0.0     # 21 zeros: the k-th and (k+1)-th smallest are both 0
    np.testing.assert_array_equal(tracker.rows(w, 0.5), masks.weight_targets(w, 0.5).T)
    assert (tracker.repaired, tracker.reranked) == (0, 1)


def test_repair_size_decides_between_repairing_and_ranking():
    w = _column_pair(np.float32)
    repairing, ranking = WeightTargetTracker(0, repair_size=40), WeightTargetTracker(0, repair_size=41)
    for tracker in (repairing, ranking):
        tracker.rows(w, 0.5)
    w[20, 0] = 0.5                                  # column 0, 40 entries, count + 1
    for tracker in (repairing, ranking):
        np.testing.assert_array_equal(tracker.rows(w, 0.5), masks.weight_targets(w, 0.5).T)
    assert (repairing.repaired, repairing.reranked, ranking.repaired, ranking.reranked) == (1, 0, 0, 1)


@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from([np.uint16, np.uint32, np.uint64]), n=st.integers(1, 6), m=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1))
def test_smallest_distinct_finds_the_smallest_distinct_values_below_half_the_range(dtype, n, m, seed):
    """Rows mixing small values (with repeats), values at or above 2^(b-1) and the extremes."""
    rng = np.random.default_rng(seed)
    half = 1 << (8 * np.dtype(dtype).itemsize - 1)
    pool = np.array([0, 1, 2, 3, half - 1, half, half + 1, 2 * half - 1], dtype=np.uint64)
    small = rng.integers(0, 6, (n, m)).astype(np.uint64)
    values = np.where(rng.random((n, m)) < 0.5, small, pool[rng.integers(0, len(pool), (n, m))])
    values = values.astype(dtype)
    counts = rng.integers(1, MAX_SHIFT + 2, n)
    found = smallest_distinct(values.copy(), counts)
    assert found.shape == (MAX_SHIFT + 1, n) and found.dtype == dtype
    for i in range(n):
        distinct = np.unique(values[i])
        for j in range(MAX_SHIFT + 1):
            if j >= counts[i]:
                assert found[j, i] == 0
            elif j < len(distinct) and distinct[j] < half:
                assert found[j, i] == distinct[j]


def test_small_matrices_are_ranked_afresh_at_every_step():
    w = np.asfortranarray(np.random.default_rng(2).standard_normal((50, 8)))
    small, tracked = WeightTargetTracker(direct_size=400), WeightTargetTracker(direct_size=399)
    for _ in range(2):
        np.testing.assert_array_equal(small.rows(w, 0.5), tracked.rows(w, 0.5))
    assert (small.reranked, tracked.reranked) == (8, 0)
    for gamma in (0.0, 1.0):  # k = 0 or k = fan_in: nothing to rank on either path
        np.testing.assert_array_equal(small.rows(w, gamma), masks.weight_targets(w, gamma).T)
        assert small.reranked == 0


@pytest.mark.parametrize("repair_size", [0, 2**15])  # repaired, ranked
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_thresholds_between_adjacent_floats(dtype, repair_size):
    """The k-th and (k+1)-th magnitudes one ulp apart: the only threshold in the
    gap is the k-th key itself, and the next step moves one weight across it."""
    w = np.linspace(1, 2, 10).astype(dtype)[:, None].repeat(3, axis=1)
    w[4] = np.nextafter(w[3], dtype(np.inf))                 # rows 3 and 4: adjacent floats
    tracker = WeightTargetTracker(direct_size=0, repair_size=repair_size)
    repaired = []
    for step in range(4):
        np.testing.assert_array_equal(tracker.rows(w, 0.4), masks.weight_targets(w, 0.4).T)
        repaired.append(tracker.repaired)
        w[3 + step % 2, step % 3] = np.nextafter(w[4 - step % 2, step % 3], dtype(np.inf))
    assert repaired == ([0, 1, 0, 1] if repair_size == 0 else [0, 0, 0, 0])


@pytest.mark.parametrize("direct_size", [0, 10**6])  # tracked, ranked afresh
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
def test_tracker_refuses_non_finite_weights(bad, direct_size):
    """Also in training: an infinite weight behind tanh could train on unnoticed."""
    tracker = WeightTargetTracker(direct_size)
    w = np.asfortranarray(np.random.default_rng(0).standard_normal((300, 60)))
    tracker.rows(w, 0.5)
    w[2, 1] = bad
    with pytest.raises(ValueError, match="'w' parameter of WeightTargetTracker must be finite"):
        tracker.rows(w, 0.5)


@pytest.mark.parametrize("gamma", [1.5, -0.1, float("nan")])
def test_tracker_refuses_a_bad_gamma(gamma):
    with pytest.raises(ValueError, match="'gamma' parameter of WeightTargetTracker"):
        WeightTargetTracker().rows(np.ones((4, 3)), gamma)


@pytest.mark.parametrize("size", [-1, 2.5, True])
def test_tracker_refuses_a_bad_direct_size(size):
    with pytest.raises((TypeError, ValueError), match="'direct_size' parameter of WeightTargetTracker"):
        WeightTargetTracker(size)
    with pytest.raises((TypeError, ValueError), match="'repair_size' parameter of WeightTargetTracker"):
        WeightTargetTracker(repair_size=size)


class CheckedTargetedWeightDropout(TargetedWeightDropout):
    """The layer rule, checked at every step against the plain spec function
    drawing from a copy of the same generator state."""

    def __init__(self, gamma, alpha):
        super().__init__(gamma, alpha)
        self.steps = self.partly_reused = self.repairing = 0

    def _sample(self, layer, batch, step):
        twin = copy.deepcopy(layer.rng)
        keep = super()._sample(layer, batch, step)
        expected = masks.targeted_weight_keep(layer.weight.value, self.gamma(step), self.alpha(step), twin)
        np.testing.assert_array_equal(keep.weight, expected)
        assert layer.rng.bit_generator.state == twin.bit_generator.state  # the same draws, no more
        self.steps += 1
        self.partly_reused += 0 < self.tracker.reranked + self.tracker.repaired < layer.weight.shape[1]
        self.repairing += self.tracker.repaired > 0
        return keep


def _train_checked(x, y, model_spec, gamma, steps, batch_size=64):
    model = build_model(model_spec, seed=0)
    rules = []
    attach(model, lambda: rules.append(CheckedTargetedWeightDropout(gamma, 0.5)) or rules[-1])
    fit(model, x[:steps * batch_size], y[:steps * batch_size], optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9),
        epochs=1, batch_size=batch_size, rng=np.random.default_rng(0), progress=False)
    assert all(rule.steps == steps for rule in rules)
    return rules


@pytest.mark.mnist
def test_rule_masks_on_real_training_steps(mnist):
    """150 steps of LeNet-300-100 on MNIST, then 40 of LeNet-5 with a gamma ramp."""
    images = mnist.train.images[:150 * 64]
    rules = _train_checked(to_inputs(images, (784,)), mnist.train.labels, "lenet300", 0.5, steps=150)
    assert rules[0].partly_reused > 100  # the reuse path, not only full re-ranking, was exercised
    assert rules[0].repairing > 100      # and the repair of thresholds
    _train_checked(to_inputs(images, (1, 28, 28)), mnist.train.labels, "lenet5", LinearRamp(0.7, 20),
                   steps=40, batch_size=32)


def test_rule_masks_on_synthetic_training_steps():
    """The same check without the data files: separable random inputs."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 60 * 32)
    x = (rng.standard_normal((len(y), 784)) + 0.5 * np.eye(10)[y] @ rng.standard_normal((10, 784))).astype(np.float32)
    rules = _train_checked(x, y, "lenet300", 0.5, steps=60, batch_size=32)
    assert rules[0].partly_reused > 30 and rules[0].repairing > 30
