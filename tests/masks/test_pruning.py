"""The pruning masks (tdnumpy.masks.pruning): what each rule removes, that pruning
is targeted dropout with alpha = 1, that pruning more removes a superset, pruning
on top of an earlier mask, and bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import FRACTIONS, weights
from tdnumpy import masks

ORDER = lambda w: np.abs(w).astype(np.float64)  # noqa: E731


def exact_square_sums(w: np.ndarray) -> list[Fraction]:
    """||W[:, o]||^2 for every column, exactly: the order units are pruned in."""
    return [sum((Fraction(float(x)) ** 2 for x in w[:, o]), Fraction(0)) for o in range(w.shape[1])]


def _some_removed_above_kept(scores: np.ndarray, keep: np.ndarray) -> bool:
    """Whether some removed score exceeds some kept one (never when either set is empty)."""
    return not keep.all() and keep.any() and scores[~keep].max() > scores[keep].min()


@given(w=weights(), f=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_weight_pruning_is_targeted_dropout_with_alpha_one(w, f, seed):
    keep = masks.weight_prune_keep(w, f)
    k = math.floor(f * w.shape[0])
    assert (np.count_nonzero(~keep, axis=0) == k).all()
    for o in range(w.shape[1]):
        assert not _some_removed_above_kept(ORDER(w[:, o]), keep[:, o])
    rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(keep, masks.targeted_weight_keep(w, f, 1.0, rng))


@given(w=weights(), f=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_unit_pruning_is_targeted_unit_dropout_with_alpha_one(w, f, seed):
    keep = masks.unit_prune_keep(w, f)
    assert keep.shape == (w.shape[1],)
    assert np.count_nonzero(~keep) == math.floor(f * w.shape[1])
    assert not _some_removed_above_kept(np.array(exact_square_sums(w), dtype=object), keep)
    np.testing.assert_array_equal(keep, masks.targeted_unit_keep(w, f, 1.0, np.random.default_rng(seed)))


def test_unit_pruning_ranks_exactly():
    """Equal norms whose float64 sums can differ (issue 14) tie, and go by index; a
    norm larger by a subnormal's square, far below float64's resolution, is larger;
    units an earlier mask dropped rank below the zero column and stay dropped."""
    w = np.array([[-2.2, 0.68], [0.05, 0.05], [0.68, -2.2]])
    np.testing.assert_array_equal(masks.unit_prune_keep(w, 0.5), [False, True])
    w = np.array([[1.0, 1.0, 0.0, 2.0], [0.0, 5e-324, 0.0, 0.0]])
    np.testing.assert_array_equal(masks.unit_prune_keep(w, 0.5), [False, True, False, True])
    np.testing.assert_array_equal(masks.unit_prune_keep(w, 0.25, np.array([True, True, True, False])),
                                  [True, True, True, False])
    np.testing.assert_array_equal(masks.unit_prune_keep(w, 0.5, np.array([True, True, True, False])),
                                  [True, True, False, False])


@given(w=weights(), f=FRACTIONS)
def test_layer_pruning_removes_the_smallest_of_the_whole_matrix(w, f):
    keep = masks.magnitude_prune_keep(w, f)
    assert np.count_nonzero(~keep) == math.floor(f * w.size)
    assert not _some_removed_above_kept(ORDER(w), keep)


@given(ws=st.lists(weights(), min_size=1, max_size=4), f=FRACTIONS)
def test_global_pruning_threshold_splits_the_union(ws, f):
    keeps = masks.global_prune_keep(ws, f)
    total = sum(w.size for w in ws)
    assert sum(np.count_nonzero(~k) for k in keeps) == math.floor(f * total)
    union = np.concatenate([ORDER(w).ravel() for w in ws])
    assert not _some_removed_above_kept(union, np.concatenate([k.ravel() for k in keeps]))


@given(w=weights(), q=st.floats(0.0, 3.0))
def test_std_pruning_keeps_what_reaches_q_standard_deviations(w, q):
    keep = masks.std_prune_keep(w, q)
    threshold = q * np.std(w.astype(np.float64))
    assert (ORDER(w)[keep] >= threshold).all() and (ORDER(w)[~keep] < threshold).all()


@given(w=weights(), f1=FRACTIONS, f2=FRACTIONS)
def test_pruning_more_removes_a_superset(w, f1, f2):
    f1, f2 = min(f1, f2), max(f1, f2)
    for rule in (masks.weight_prune_keep, masks.unit_prune_keep, masks.magnitude_prune_keep,
                 lambda w, f: masks.global_prune_keep([w, w[:1]], f)[0]):
        assert (rule(w, f2) <= rule(w, f1)).all()  # kept at f2 => kept at f1


@given(w=weights(ties=True), f=FRACTIONS, seed=st.integers(0, 2**32 - 1), density=st.floats(0.0, 1.0))
def test_pruning_on_top_of_any_previous_mask(w, f, seed, density):
    """With ``previous`` (here an arbitrary mask, its dropped entries zeroed as a
    model holds them), what it dropped stays dropped and ranks lowest, even
    below kept zeros: exactly max(k, already dropped) go, per column for the
    weight rule, per matrix for the layer rule, in all for units and global."""
    rng = np.random.default_rng(seed)
    before = rng.random(w.shape) >= density
    pruned = np.where(before, w, 0).astype(w.dtype)
    k = math.floor(f * w.shape[0])
    keep = masks.weight_prune_keep(pruned, f, before)
    assert (keep <= before).all()
    np.testing.assert_array_equal((~keep).sum(axis=0), np.maximum(k, (~before).sum(axis=0)))
    for keeps, n in ((masks.magnitude_prune_keep(pruned, f, before), w.size),
                     (masks.global_prune_keep([pruned, pruned], f, [before, before]), 2 * w.size)):
        keeps = np.asarray(keeps)
        assert (keeps <= before).all()
        assert np.count_nonzero(~keeps) == max(math.floor(f * n), np.count_nonzero(~before) * n // w.size)
    units_before = rng.random(w.shape[1]) >= density
    units = masks.unit_prune_keep(w * units_before, f, units_before)
    assert (units <= units_before).all()
    assert np.count_nonzero(~units) == max(math.floor(f * w.shape[1]), np.count_nonzero(~units_before))


@pytest.mark.parametrize("call, match", [
    (lambda w: masks.weight_prune_keep(w, 1.5), r"'fraction' parameter of weight_prune_keep must be a float in the range \[0, 1\]"),
    (lambda w: masks.unit_prune_keep(w, -0.1), "'fraction' parameter of unit_prune_keep"),
    (lambda w: masks.magnitude_prune_keep(w, float("nan")), "'fraction' parameter of magnitude_prune_keep"),
    (lambda w: masks.global_prune_keep([w], 2.0), "'fraction' parameter of global_prune_keep"),
    (lambda w: masks.global_prune_keep(w, 0.5), "'weights' parameter of global_prune_keep must be a non-empty list"),
    (lambda w: masks.global_prune_keep([], 0.5), "'weights' parameter of global_prune_keep"),
    (lambda w: masks.std_prune_keep(w, -1.0), r"'quality' parameter of std_prune_keep must be a float in the range \[0.0, inf\)"),
    (lambda w: masks.std_prune_keep(w, float("inf")), "'quality' parameter of std_prune_keep"),
    (lambda w: masks.weight_prune_keep(w.astype(int), 0.5), "'w' parameter of weight_prune_keep must be a float16"),
    (lambda w: masks.magnitude_prune_keep(np.where(w > 0, np.nan, w), 0.5), "'w' parameter of magnitude_prune_keep must be finite"),
    (lambda w: masks.weight_prune_keep(w, 0.5, np.ones(3, bool)), r"'previous' parameter of weight_prune_keep must be a boolean array of shape \(5, 4\)"),
    (lambda w: masks.unit_prune_keep(w, 0.5, np.ones(5, bool)), r"'previous' parameter of unit_prune_keep must be a boolean array of shape \(4,\)"),
    (lambda w: masks.global_prune_keep([w], 0.5, []), "'previous' parameter of global_prune_keep must hold one mask"),
    (lambda w: masks.std_prune_keep(w, 1.0, w[:2] > 0.5), "'previous' parameter of std_prune_keep"),
])
def test_pruning_masks_reject_bad_input(call, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng.standard_normal((5, 4)))
