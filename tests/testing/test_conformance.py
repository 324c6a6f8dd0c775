"""The conformance kit (tdnumpy.testing): this library's own masks pass every
check, plausible wrong implementations are caught by the property that names
their mistake, the conventions select what they say, and misuse is a clear
error.

The reference checks run once per seed in ``$TDNUMPY_CONFORMANCE_SEEDS``
(default 1: seed 0); ``TDNUMPY_CONFORMANCE_SEEDS=200`` runs the 200 seeds in a
row of the issue. Each check's false-alarm rate is at most 1e-6, so the
reference tests flake with probability at most 1e-6 per check and seed.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from mutants import MUTANTS
from tdnumpy import masks, testing
from tdnumpy.testing import stats
from tdnumpy.testing.conventions import count, expected

SEEDS = range(int(os.environ.get("TDNUMPY_CONFORMANCE_SEEDS", "1")))

REFERENCES = {
    "targeted_weight_keep": lambda **o: testing.check_targeted_weight_dropout(masks.targeted_weight_keep, **o),
    "targeted_unit_keep": lambda **o: testing.check_targeted_unit_dropout(masks.targeted_unit_keep, **o),
    "tf_targeted_weight_keep": lambda **o: testing.check_targeted_weight_dropout(
        masks.tf_targeted_weight_keep, preset="released", **o),
    "tf_targeted_unit_keep": lambda **o: testing.check_targeted_unit_dropout(
        masks.tf_targeted_unit_keep, preset="released", **o),
    "dropout_keep": lambda **o: testing.check_dropout(lambda x, p, rng: masks.dropout_keep(x.shape, p, rng), **o),
    "dropconnect_keep": lambda **o: testing.check_dropconnect(
        lambda w, p, rng: masks.dropconnect_keep(w.shape, p, rng), **o),
    "weight_dropout_keep": lambda **o: testing.check_dropconnect(
        lambda w, p, rng: w * masks.weight_dropout_keep(w.shape, p, rng) / w.dtype.type(1 - p),
        mode="inverted", returns="weights", **o),
    "unit_dropout_keep": lambda **o: testing.check_dropout(
        lambda x, p, rng: masks.unit_dropout_keep(x.size, p, rng).reshape(x.shape), **o),
    "spatial_dropout_keep": lambda **o: testing.check_dropconnect(
        lambda w, p, rng: masks.spatial_dropout_keep(w.shape[0], w.shape[1], p, rng), **o),
    "bernoulli": lambda **o: testing.check_dropout(lambda x, p, rng: ~masks.bernoulli(rng, p, x.shape), **o),
    "weight_prune_keep": lambda **o: testing.check_weight_pruning(masks.weight_prune_keep, **o),
    "magnitude_prune_keep": lambda **o: testing.check_weight_pruning(masks.magnitude_prune_keep, scope="layer", **o),
    "global_prune_keep": lambda **o: testing.check_weight_pruning(masks.global_prune_keep, scope="global", **o),
    "unit_prune_keep": lambda **o: testing.check_unit_pruning(masks.unit_prune_keep, **o),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", REFERENCES)
def test_every_reference_function_passes_its_check(name, seed):
    report = REFERENCES[name](seed=seed)
    assert report.passed
    assert all(r.status in ("pass", "skip") for r in report.results)
    assert sum(r.status == "pass" for r in report.results) >= 5


@pytest.mark.parametrize("name", MUTANTS)
def test_wrong_implementations_are_caught_by_the_property_naming_the_mistake(name):
    mutant = MUTANTS[name]
    report = getattr(testing, mutant.check)(mutant.fn, raises=False, **mutant.options)
    assert mutant.catch in report.failed, str(report)


def test_a_failure_raises_with_the_report_and_the_smallest_input():
    with pytest.raises(testing.ConformanceError) as caught:
        testing.check_targeted_weight_dropout(MUTANTS["ceil rounding"].fn, skip=("kept-fraction", "drop-frequency"))
    text = str(caught.value)
    assert caught.value.report.failed[0] == "targets"
    assert "column" in text and "k=" in text and "expected (1 = selected" in text and "observed" in text
    assert "allowed under rounding='ceil'" in text  # the convention the observation fits


def test_a_port_with_other_conventions_is_told_which_ones_it_fits():
    """The released code's strict threshold (with k = floor(f N) from the float64
    product) fails the default, lower-index ties on ties at the threshold, and the
    message says which conventions it fits; claimed, they pass."""
    def strict(w, fraction):
        k = math.floor(fraction * w.shape[0])
        mags = np.abs(w)
        return ~(mags < (np.sort(mags, axis=0)[k] if k < w.shape[0] else np.inf))

    report = testing.check_weight_pruning(strict, raises=False)
    assert report.failed == ["targets"]
    assert "allowed under rounding='floor' with ties 'strict'" in str(report)
    assert testing.check_weight_pruning(strict, ties="strict").passed


def test_returns_weights_and_units_first_layout_read_back_correctly():
    def torch_like(w, gamma, alpha, rng):  # (units, fan_in) in, masked weights out
        return w * masks.targeted_weight_keep(np.ascontiguousarray(w.T), gamma, alpha, rng).T

    assert testing.check_targeted_weight_dropout(torch_like, returns="weights", layout="units_first",
                                                 max_examples=30).passed


@pytest.mark.parametrize("n, fraction, rounding, k", [
    (100, 0.29, "floor", 28),  # 0.29 * 100 = 28.999999999999996
    (10, 0.25, "round", 2), (10, 0.35, "round", 4),  # half to even: 2.5 -> 2, 3.5 -> 4
    (10, 0.3, "floor", 3), (10, 0.3, "ceil", 3), (10, 0.31, "ceil", 4),
    (3, 0.1, "ceil", 1),  # 0.1 * 3 = 0.30000000000000004
    (7, 1.0, "ceil", 7), (5, 0.0, "ceil", 0)])
def test_rounding_conventions_count_from_the_float64_product(n, fraction, rounding, k):
    assert count(n, fraction, rounding) == k


def test_tie_conventions_on_a_worked_example():
    scores = np.array([3.0, 1.0, 2.0, 1.0, 1.0])  # k = 2: the threshold 1.0 is shared by three entries
    lower = expected(scores, 2, "lower-index")
    np.testing.assert_array_equal(lower.must, [False, True, False, True, False])
    assert lower.exact
    anyone = expected(scores, 2, "any")
    np.testing.assert_array_equal(anyone.must, [False] * 5)
    np.testing.assert_array_equal(anyone.may, [False, True, False, True, True])
    assert anyone.size == 2 and anyone.violations(np.array([0, 0, 0, 1, 1], bool)) == []
    assert anyone.violations(np.array([0, 1, 1, 0, 0], bool))  # 2.0 is above the threshold
    np.testing.assert_array_equal(expected(scores, 2, "strict").must, [False] * 5)  # 1.0 < 1.0 is false
    np.testing.assert_array_equal(expected(scores, 2, "inclusive").must, [False, True, False, True, True])
    np.testing.assert_array_equal(expected(scores, 5, "strict").must, [True] * 5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: testing.check_dropout(lambda x, p: x), TypeError, r"must accept \(x, p, rng\)"),
    (lambda: testing.check_weight_pruning(lambda w: w), TypeError, r"must accept \(w, fraction\)"),
    (lambda: testing.check_dropout(42), TypeError, "'fn' parameter of check_dropout must be callable"),
    (lambda: testing.check_weight_pruning(masks.weight_prune_keep, rounding="nearest"), ValueError,
     "'rounding' parameter of check_weight_pruning must be one of"),
    (lambda: testing.check_weight_pruning(masks.weight_prune_keep, ties="random"), ValueError, "'ties'"),
    (lambda: testing.check_unit_pruning(masks.unit_prune_keep, layout="nchw"), ValueError, "'layout'"),
    (lambda: testing.check_dropout(lambda x, p, rng: x, mode="scaled"), ValueError, "'mode'"),
    (lambda: testing.check_dropout(lambda x, p, rng: x, returns="mask"), ValueError, "'returns'"),
    (lambda: testing.check_targeted_weight_dropout(masks.targeted_weight_keep, preset="torch"), ValueError,
     "'preset'"),
    (lambda: testing.check_targeted_weight_dropout(masks.tf_targeted_weight_keep, preset="released",
                                                   ties="strict"), ValueError, "fixes rounding and ties"),
    (lambda: testing.check_weight_pruning(masks.weight_prune_keep, skip=("speed",)), ValueError,
     "names unknown properties"),
    (lambda: testing.check_dropout(lambda x, p, rng: x, max_examples=0), ValueError, "'max_examples' parameter"),
    (lambda: testing.check_dropout(lambda x, p, rng: x, seed=-1), ValueError, "'seed' parameter"),
    (lambda: testing.check_unit_pruning(masks.unit_prune_keep, dtypes=("int8",)), ValueError,
     "'dtypes' parameter of check_unit_pruning must be a non-empty tuple of float16"),
    (lambda: testing.check_unit_pruning(masks.unit_prune_keep, dtypes="float32"), ValueError, "'dtypes'"),
    (lambda: testing.check_weight_pruning(lambda w, f: np.ones(w.shape[::-1], bool)), ValueError,
     r"returned shape \(3, 4\) for an input of shape \(4, 3\).*check the 'layout' option"),
    (lambda: testing.check_weight_pruning(lambda w, f: np.ones(w.shape)), TypeError,
     "returned dtype float64; with returns='keep' it must return a boolean keep-mask"),
    (lambda: testing.check_weight_pruning(lambda w, f: w.astype(np.float64), returns="weights"), TypeError,
     "returned dtype float64 for a float32 input"),
    (lambda: testing.check_weight_pruning(lambda w, f: w.tolist()), TypeError, "must return a NumPy array"),
    (lambda: testing.check_weight_pruning(lambda ws, f: np.ones(ws[0].shape, bool), scope="global"), TypeError,
     "must return a list of 1 arrays"),
    (lambda: testing.check_weight_pruning(lambda w, f: np.ones(w.shape, bool), scope="global"), ValueError,
     "raised AttributeError: 'list' object has no attribute 'shape' on the first call of check_weight_pruning"),
])
def test_misuse_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_an_implementation_that_raises_or_modifies_its_input_fails_with_the_input_shown():
    def raises(w, fraction):
        if w.dtype == np.float16:
            raise RuntimeError("half precision is not supported")
        return masks.weight_prune_keep(w, fraction)

    others = ("limits", "nested", "idempotent", "scale-invariance", "permutation-equivariance")
    report = testing.check_weight_pruning(raises, raises=False, skip=others)
    assert "targets" in report.failed and "RuntimeError: half precision is not supported" in str(report)
    assert testing.check_weight_pruning(raises, dtypes=(np.float32, np.float64)).passed

    def modifies(w, fraction):
        keep = masks.weight_prune_keep(w, fraction)
        w *= keep
        return keep

    report = testing.check_weight_pruning(modifies, raises=False, skip=others)  # one property shows it
    assert "targets" in report.failed and "modified its input" in str(report)

    def modifies_at_once(w, gamma, alpha, rng):  # from the first call on: a finding, not misuse
        keep = masks.targeted_weight_keep(w, gamma, alpha, rng)
        w *= keep
        return keep

    rest = ("only-targets", "limits", "scale-invariance", "permutation-equivariance", "uses-rng", "kept-fraction",
            "drop-frequency", "independence")
    report = testing.check_targeted_weight_dropout(modifies_at_once, raises=False, max_examples=10, skip=rest)
    assert "targets" in report.failed and "modified its input" in str(report)


@pytest.mark.parametrize("draws, rate, elements, stated", [
    (1500, 0.3, 240, 0.11), (1500, 0.8, 360, 0.11), (1500, 0.5, 120, 0.11),  # targeted weight dropout
    (1500, 0.3, 24, 0.11), (1500, 0.8, 36, 0.11), (1500, 0.5, 12, 0.11),    # targeted unit dropout
    (1000, 0.2, 1024, 0.14), (1000, 0.5, 1024, 0.14), (1000, 0.75, 1024, 0.14)])  # dropout, DropConnect
def test_the_power_stated_in_the_docstrings_holds(draws, rate, elements, stated):
    """One element's drop rate off by the stated amount is found with probability 0.99
    by its Bonferroni test at 1e-6 / 12 / m (tdnumpy.testing.targeted, .dropout)."""
    assert stats.detectable_shift(draws, rate, 1e-6 / 12 / elements) <= stated


def test_the_spread_test_sees_what_per_element_rates_cannot():
    rng = np.random.default_rng(0)
    independent = rng.binomial(100, 0.3, 1500)
    stats.check_spread(independent, 100, 0.3, 1e-6, "")  # passes: false-alarm rate 1e-6
    for per_call in (np.full(1500, 30), rng.binomial(1, 0.3, 1500) * 100):  # fixed count; all or nothing
        with pytest.raises(testing.report.PropertyFailure, match="the drops are not independent"):
            stats.check_spread(per_call, 100, 0.3, 1e-6, "")
