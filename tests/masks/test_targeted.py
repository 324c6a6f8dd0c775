"""Property-based tests of targeted dropout (tdnumpy.masks.targeted): the
target sets and the exact ranking of units, drops only among targets and the
limits, per-target drop frequencies, invariance and equivariance,
reproducibility, bad input and fixed-pattern (random) targets.

Statistical tests use exact binomial intervals (scipy.stats.binom) with the
false-failure rate stated next to each; none is above 1e-6.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binom
from strategies import FRACTIONS, SHAPES, weights

from tdnumpy.masks._draws import bernoulli
from tdnumpy.masks._select import n_targets
from tdnumpy.masks.pruning import unit_prune_keep
from tdnumpy.masks._norms import _ZERO_KEY, _rank_keys, _ranking_tolerance, square_sums
from tdnumpy.masks.targeted import (
    random_unit_targets,
    random_weight_targets,
    targeted_unit_keep,
    targeted_weight_keep,
    unit_norms,
    unit_ranks,
    unit_targets,
    weight_targets,
)
from tdnumpy.testing import stats
from tdnumpy.testing.strategies import permuted_columns
from tdnumpy.testing.report import PropertyFailure

DTYPES = st.sampled_from([np.float16, np.float32, np.float64])


def reference_bottom_k(scores, k):
    """Sort-based bottom-k per column (by value, then index): the plain definition."""
    scores = scores.reshape(scores.shape[0], -1)
    out = np.zeros(scores.shape, bool)
    rows = np.arange(scores.shape[0])
    for o in range(scores.shape[1]):
        out[np.lexsort((rows, scores[:, o]))[:k], o] = True
    return out


def exact_ranks(w):
    """Dense ranks of the exact column norms: sums of squares as Fractions, by brute force."""
    sums = [sum((Fraction(float(x)) ** 2 for x in w[:, o]), Fraction(0)) for o in range(w.shape[1])]
    distinct = sorted(set(sums))
    return np.array([distinct.index(s) for s in sums])


# ------------------------------------------------------------- 1. targets


@settings(max_examples=300, deadline=None)
@given(w=weights(), gamma=FRACTIONS)
def test_weight_targets_are_exactly_the_bottom_k_of_each_column(w, gamma):
    targets = weight_targets(w, gamma)
    k = n_targets(w.shape[0], gamma)
    assert targets.shape == w.shape and targets.dtype == np.bool_
    assert (targets.sum(axis=0) == k).all()
    mags = np.abs(w)
    for o in range(w.shape[1]):
        if 0 < k < w.shape[0]:
            assert mags[targets[:, o], o].max() <= mags[~targets[:, o], o].min()
    np.testing.assert_array_equal(targets, reference_bottom_k(mags, k))  # ties: lower index first


@settings(max_examples=300, deadline=None)
@given(w=weights(), gamma=FRACTIONS)
def test_unit_targets_are_exactly_the_k_columns_of_smallest_norm(w, gamma):
    """Against the exact norms (Fraction sums of squares), not the float64 unit_norms,
    whose rounding can split two equal norms or swap two close ones."""
    targets = unit_targets(w, gamma)
    k = n_targets(w.shape[1], gamma)
    assert targets.shape == (w.shape[1],) and targets.sum() == k
    ranks = exact_ranks(w)
    if 0 < k < w.shape[1]:
        assert ranks[targets].max() <= ranks[~targets].min()
    np.testing.assert_array_equal(targets, reference_bottom_k(ranks, k)[:, 0])


def test_ties_go_to_the_lower_index():
    w = np.array([[1.0], [0.0], [0.0], [0.0], [2.0]])
    np.testing.assert_array_equal(weight_targets(w, 0.4)[:, 0], [False, True, True, False, False])
    np.testing.assert_array_equal(unit_targets(np.array([[1.0, -1.0, 1.0, 3.0]]), 0.5), [True, True, False, False])


def test_unit_norms_neither_overflow_nor_underflow():
    w = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float32)
    for scale in (2.0 ** 66, 2.0 ** -80):  # squares leave float32's range; the scaling is exact
        np.testing.assert_array_equal(unit_targets(w * np.float32(scale), 0.4), unit_targets(w, 0.4))
    np.testing.assert_allclose(unit_norms(w), np.linalg.norm(w.astype(np.float64), axis=0), rtol=1e-12)


def test_permuted_columns_tie_and_go_to_the_lower_index():
    """Issue 14: the two columns hold the same magnitudes, so their norms are equal,
    but float64 norms computed as m sqrt(sum((w / m)^2)), m the largest magnitude
    (the ranking's scores before), put the first one higher; the tie goes to the
    lower index, whatever route ranks the units."""
    w = np.array([[-2.2, 0.68], [0.05, 0.05], [0.68, -2.2]])
    m = np.abs(w).max(axis=0)
    float_norms = m * np.sqrt(((w / m) ** 2).sum(axis=0))
    assert float_norms[0] > float_norms[1]
    np.testing.assert_array_equal(unit_ranks(w), [0, 0])
    np.testing.assert_array_equal(unit_targets(w, 0.5), [True, False])
    np.testing.assert_array_equal(targeted_unit_keep(w, 0.5, 1.0, np.random.default_rng(0)), [False, True])
    np.testing.assert_array_equal(unit_prune_keep(w, 0.5), [False, True])


@settings(max_examples=400, deadline=None)
@given(w=permuted_columns(), gamma=FRACTIONS)
def test_unit_ranks_are_the_exact_dense_ranks(w, gamma):
    ranks = unit_ranks(w)
    assert ranks.dtype == np.int64 and ranks.shape == (w.shape[1],)
    np.testing.assert_array_equal(ranks, exact_ranks(w))
    targets = reference_bottom_k(ranks, n_targets(w.shape[1], gamma))[:, 0]
    np.testing.assert_array_equal(unit_targets(w, gamma), targets)
    np.testing.assert_array_equal(targeted_unit_keep(w, gamma, 1.0, np.random.default_rng(0)), ~targets)
    np.testing.assert_array_equal(unit_prune_keep(w, gamma), ~targets)


@settings(max_examples=200, deadline=None)
@given(dtype=DTYPES, n=st.integers(2, 60), copies=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_signed_permutations_tie_and_one_tiny_difference_orders(dtype, n, copies, seed):
    """A random column c, ``copies`` row permutations of it with random signs (all
    tie), c with the magnitude of its largest entry one ulp smaller (below them)
    and c with one zero entry made the smallest subnormal (above them: its square
    is far below float64's resolution of the sum), shuffled. The k = copies + 1
    targets are the smaller column and every tied one but the last by index."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(n).astype(dtype)
    c[0] = 0
    flips = [rng.permutation(c) * rng.choice(np.array([-1, 1], dtype), n) for _ in range(copies)]
    less, more = c.copy(), c.copy()
    top = np.argmax(np.abs(c))
    less[top] = np.nextafter(c[top], dtype(0))
    more[0] = np.finfo(dtype).smallest_subnormal
    shuffle = rng.permutation(copies + 3)
    w = np.stack([[c, *flips, less, more][i] for i in shuffle], axis=1)
    expected = np.array([1] * (copies + 1) + [0, 2])[shuffle]
    np.testing.assert_array_equal(unit_ranks(w), expected)
    np.testing.assert_array_equal(unit_ranks(np.asfortranarray(w)), expected)
    np.testing.assert_array_equal(expected, exact_ranks(w))
    gamma = (copies + 1.5) / (copies + 3)  # k = copies + 1
    targets = reference_bottom_k(expected, copies + 1)[:, 0]
    assert not targets[np.flatnonzero(expected == 1)[-1]]
    np.testing.assert_array_equal(unit_targets(w, gamma), targets)
    np.testing.assert_array_equal(unit_targets(np.asfortranarray(w), gamma), targets)  # issue 18: layout-free
    np.testing.assert_array_equal(unit_prune_keep(w, gamma), ~targets)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_unit_ranks_near_the_largest_float(dtype):
    """Sums of squares far beyond every float's range, norms a few ulps apart, and
    a subnormal entry beside the largest float: [b, b] > [b, b-] = [b-, -b] >
    [b-, b-] > [-b, tiny] > [b, 0], b the largest float, b- the next one down."""
    big, tiny = np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal
    below = np.nextafter(big, dtype(0))
    w = np.array([[big, big], [big, below], [below, -big], [big, 0], [-big, tiny], [below, below]], dtype).T
    np.testing.assert_array_equal(unit_ranks(w), [4, 3, 3, 0, 1, 2])
    np.testing.assert_array_equal(exact_ranks(w), [4, 3, 3, 0, 1, 2])
    np.testing.assert_array_equal(unit_targets(w, 0.5), [False, False, False, True, True, True])
    np.testing.assert_array_equal(unit_targets(w, 0.7), [False, True, False, True, True, True])
    assert np.isinf(unit_norms(w)[0]) == (dtype == np.float64)  # sqrt(2) b overflows float64 only


@settings(max_examples=200, deadline=None)
@given(dtype=DTYPES, data=st.data())
def test_unit_ranks_of_subnormal_columns(dtype, data):
    """Entries a t for small integers a and t the smallest subnormal: every square
    underflows in the dtype (and, for float64, in float64), yet the columns rank
    as the integer sums of the a^2 do."""
    shape = data.draw(st.tuples(st.integers(1, 6), st.integers(1, 10)))
    a = np.array(data.draw(st.lists(st.integers(-6, 6), min_size=shape[0] * shape[1],
                                    max_size=shape[0] * shape[1]))).reshape(shape)
    w = a.astype(dtype) * np.finfo(dtype).smallest_subnormal
    sums = (a ** 2).sum(axis=0)
    np.testing.assert_array_equal(unit_ranks(w), np.unique(sums, return_inverse=True)[1].ravel())


@settings(max_examples=100, deadline=None)
@given(dtype=DTYPES, n=st.integers(1, 300), units=st.integers(1, 6), spread=st.integers(0, 2200),
       seed=st.integers(0, 2**32 - 1))
def test_rank_keys_lie_within_the_stated_error_bound(dtype, n, units, spread, seed):
    """The ranking's float64 keys against the exact keys G + 2f - 1 (S = f 2^G, f in
    [1/2, 1)) of the exact sums of squares S, for entries spread over up to the
    whole range of the dtype, subnormals and the largest floats included: each key
    within half the tolerance that decides which neighbours are ranked exactly."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    low, high = info.minexp - info.nmant, info.maxexp
    exponents = rng.integers(max(low, -spread // 2), min(high, spread // 2 + 1), (n, units))
    w = np.clip(rng.standard_normal((n, units)) * 2.0 ** exponents.astype(float), -info.max, info.max).astype(dtype)
    keys = _rank_keys(*square_sums(w))
    bound = Fraction(_ranking_tolerance(n)) / 2
    for o in range(units):
        exact = sum((Fraction(float(x)) ** 2 for x in w[:, o]), Fraction(0))
        if exact == 0:
            assert keys[o] == _ZERO_KEY
            continue
        g = exact.numerator.bit_length() - exact.denominator.bit_length()
        g += exact >= Fraction(2) ** g  # now 2^(g - 1) <= exact < 2^g
        assert abs(Fraction(keys[o]) - (g + 2 * exact / Fraction(2) ** g - 1)) <= bound


def test_unit_ranks_agree_with_float_norms_when_these_are_far_apart():
    """The common case, a random float32 layer stored column by column: no near
    ties, so the ranks are the order of the float64 norms."""
    w = np.asfortranarray(np.random.default_rng(0).standard_normal((800, 500)).astype(np.float32))
    norms = unit_norms(w)
    assert np.diff(np.sort(norms)).min() > 1e-9 * norms.max()
    np.testing.assert_array_equal(unit_ranks(w), np.argsort(np.argsort(norms)))


# ---------------------------------------------------- 2. drops and limits


@settings(max_examples=200, deadline=None)
@given(w=weights(), gamma=FRACTIONS, alpha=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_only_targets_are_dropped_and_the_limits_hold(w, gamma, alpha, seed):
    rng = np.random.default_rng(seed)
    targets = weight_targets(w, gamma)
    keep = targeted_weight_keep(w, gamma, alpha, rng)
    assert keep.shape == w.shape and keep.dtype == np.bool_
    assert not (~keep & ~targets).any()                       # dropped is a subset of targeted
    assert targeted_weight_keep(w, gamma, 0.0, rng).all()      # alpha = 0 keeps all
    np.testing.assert_array_equal(targeted_weight_keep(w, gamma, 1.0, rng), ~targets)  # alpha = 1
    assert targeted_weight_keep(w, 0.0, alpha, rng).all()      # gamma = 0 keeps all

    units = unit_targets(w, gamma)
    ukeep = targeted_unit_keep(w, gamma, alpha, rng)
    assert ukeep.shape == (w.shape[1],) and not (~ukeep & ~units).any()
    assert targeted_unit_keep(w, gamma, 0.0, rng).all()
    np.testing.assert_array_equal(targeted_unit_keep(w, gamma, 1.0, rng), ~units)
    assert targeted_unit_keep(w, 0.0, alpha, rng).all()


@settings(max_examples=100, deadline=None)
@given(w=weights(), alpha=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_gamma_one_is_plain_dropout_with_rate_alpha(w, alpha, seed):
    """Everything is targeted, and each weight (unit) is dropped exactly when its
    Bernoulli(alpha) draw says so: plain dropout from the same draws, in C order.
    (The rate itself is tested statistically below.)"""
    assert weight_targets(w, 1.0).all() and unit_targets(w, 1.0).all()
    keep = targeted_weight_keep(w, 1.0, alpha, np.random.default_rng(seed))
    # the draws run column by column
    np.testing.assert_array_equal(keep, ~bernoulli(np.random.default_rng(seed), alpha, w.shape[::-1]).T)
    ukeep = targeted_unit_keep(w, 1.0, alpha, np.random.default_rng(seed))
    np.testing.assert_array_equal(ukeep, ~bernoulli(np.random.default_rng(seed), alpha, (w.shape[1],)))


# ---------------------------------------------------------- 3. statistics


def drop_counts(keep_fn, draws):
    """Per-element drop counts over ``draws`` calls of keep_fn()."""
    total = None
    for _ in range(draws):
        dropped = ~keep_fn()
        total = dropped.astype(np.int64) if total is None else total + dropped
    return total


def assert_drop_frequencies(counts, targets, alpha, draws, false_failure=1e-6):
    """The checks of property 3, with an overall false-failure rate <= false_failure,
    made by the conformance kit's binomial tests (tdnumpy.testing.stats).

    - untargeted elements: never dropped (deterministic);
    - the total over all targets: exact binomial interval, rate false_failure / 2;
    - each target on its own: Bonferroni over the m targets, rate false_failure / 2 in all.
    """
    assert (counts[~targets] == 0).all()
    try:
        if targets.any():
            stats.check_total(int(counts[targets].sum()), int(targets.sum()) * draws, alpha, false_failure / 2, "")
        stats.check_each(counts[targets], draws, alpha, false_failure / 2, "targets")
    except PropertyFailure as failure:
        raise AssertionError(str(failure)) from None


@pytest.mark.parametrize("gamma, alpha", [(0.5, 0.5), (0.3, 0.9), (0.75, 0.1), (1.0, 0.33)])
def test_each_target_is_dropped_with_probability_alpha(gamma, alpha):
    """Kept fraction 1 - alpha k / N in expectation, and alpha for every target.
    False-failure rate: at most 1e-6 per assert_drop_frequencies call (two calls)."""
    rng = np.random.default_rng(2024)
    w = rng.standard_normal((20, 6))
    draws = 3000
    counts = drop_counts(lambda: targeted_weight_keep(w, gamma, alpha, rng), draws)
    assert_drop_frequencies(counts, weight_targets(w, gamma), alpha, draws)
    ucounts = drop_counts(lambda: targeted_unit_keep(w, gamma, alpha, rng), draws)
    assert_drop_frequencies(ucounts, unit_targets(w, gamma), alpha, draws)


def test_the_frequency_check_rejects_a_mask_with_the_right_mean_only():
    """A mask that drops the even-numbered targets with probability 2 alpha and the
    odd ones never has the right mean kept fraction but not the right per-target
    frequency; the check must reject it."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((20, 6))
    gamma, alpha, draws = 0.5, 0.25, 3000
    targets = weight_targets(w, gamma)
    order = np.flatnonzero(targets.ravel())
    rate = np.zeros(w.size)
    rate[order[0::2]] = 2 * alpha

    def wrong():
        return ~(rng.random(w.shape) < rate.reshape(w.shape))

    with pytest.raises(AssertionError, match="elements are dropped at the wrong rate"):
        assert_drop_frequencies(drop_counts(wrong, draws), targets, alpha, draws)


def test_per_example_unit_masks_are_independent_rows():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((10, 40))
    keep = targeted_unit_keep(w, 0.5, 0.5, rng, batch=64)
    assert keep.shape == (64, 40)
    assert not (~keep[:, ~unit_targets(w, 0.5)]).any()
    assert len({row.tobytes() for row in keep}) > 1
    counts = (~keep).sum(axis=0)
    # false-failure rate of this whole check at most 1e-6 (Bonferroni over 20 targets)
    assert_drop_frequencies(counts, unit_targets(w, 0.5), 0.5, 64)


def test_generators_with_32_bit_outputs_drop_at_rate_alpha():
    """MT19937's raw outputs hold 32 bits; the draws must still be uniform.
    False-failure rate of the interval: 1e-6."""
    rng = np.random.Generator(np.random.MT19937(0))
    w = np.ones((1000, 100))
    dropped = (~targeted_weight_keep(w, 1.0, 0.1, rng)).sum()
    lo, hi = binom.interval(1 - 1e-6, w.size, 0.1)
    assert lo <= dropped <= hi


# -------------------------------------------- 4. invariance, equivariance


@settings(max_examples=200, deadline=None)
@given(w=weights(), gamma=FRACTIONS, exponent=st.integers(-60, 60),
       alpha=st.one_of(st.sampled_from([0.5, 0.25, 0.3]), st.floats(0.0, 1.0, exclude_min=True)),
       seed=st.integers(0, 2**32 - 1))
def test_scale_invariance(w, gamma, exponent, alpha, seed):
    """c = 2^e scales exactly in floating point, so nothing but the definition is
    tested; e runs from -60 to 60, far enough for an absolute threshold hidden
    in the ranking (a "numerically zero" norm, say) to show. cW has the targets
    of W, so its keep-masks are those of W at alpha = 1 (keep = not T) and,
    drawn from two generators in the same state, at any 0 < alpha < 1 too (the
    draws are made position by position whatever the weights, so they line
    up). alpha = 0 is left out: it keeps everything."""
    scaled = w * np.asarray(2.0 ** exponent, w.dtype)
    assume(np.isfinite(scaled).all() and (np.abs(scaled[w != 0]) >= np.finfo(w.dtype).tiny * 2 ** 30).all())
    np.testing.assert_array_equal(weight_targets(scaled, gamma), weight_targets(w, gamma))
    np.testing.assert_array_equal(unit_targets(scaled, gamma), unit_targets(w, gamma))
    for a in (1.0, alpha):
        for keep in (targeted_weight_keep, targeted_unit_keep):
            np.testing.assert_array_equal(keep(scaled, gamma, a, np.random.default_rng(seed)),
                                          keep(w, gamma, a, np.random.default_rng(seed)), err_msg=keep.__name__)


@settings(max_examples=200, deadline=None)
@given(shape=SHAPES, gamma=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_permutation_equivariance(shape, gamma, seed):
    """Permuting rows permutes the weight targets and leaves the unit targets;
    permuting columns permutes both. Magnitudes are distinct, and so are the
    norms (the columns' sums of squares, exact integers here, are assumed
    distinct: 1^2 + 8^2 = 4^2 + 7^2 would tie two units, and a tie-break by
    index is not equivariant), so no tie-break is involved. Keep-masks are
    compared at alpha = 1 only, where keep = not T: below it the draws are made
    position by position, so a permuted matrix meets other draws, and at
    alpha = 0 everything is kept."""
    rng = np.random.default_rng(seed)
    w = (rng.permutation(np.prod(shape)) + 1.0).reshape(shape) * rng.choice([-1.0, 1.0], shape)
    assume(len(np.unique((w ** 2).sum(axis=0))) == shape[1])
    rows, cols = rng.permutation(shape[0]), rng.permutation(shape[1])
    np.testing.assert_array_equal(weight_targets(w[rows], gamma), weight_targets(w, gamma)[rows])
    np.testing.assert_array_equal(weight_targets(w[:, cols], gamma), weight_targets(w, gamma)[:, cols])
    np.testing.assert_array_equal(unit_targets(w[:, cols], gamma), unit_targets(w, gamma)[cols])
    np.testing.assert_array_equal(unit_targets(w[rows], gamma), unit_targets(w, gamma))  # norms ignore row order
    np.testing.assert_array_equal(targeted_weight_keep(w[rows], gamma, 1.0, rng),
                                  targeted_weight_keep(w, gamma, 1.0, rng)[rows])
    np.testing.assert_array_equal(targeted_unit_keep(w[:, cols], gamma, 1.0, rng),
                                  targeted_unit_keep(w, gamma, 1.0, rng)[cols])


# ----------------------------------------------------- 6. reproducibility


def test_same_generator_state_same_mask_different_seeds_different_masks():
    w = np.random.default_rng(0).standard_normal((64, 32))
    a = targeted_weight_keep(w, 0.5, 0.5, np.random.default_rng(1))
    b = targeted_weight_keep(w, 0.5, 0.5, np.random.default_rng(1))
    c = targeted_weight_keep(w, 0.5, 0.5, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # 1024 targets: equal by chance with probability 2^-1024
    u = [targeted_unit_keep(w, 0.5, 0.5, np.random.default_rng(s), batch=8) for s in (1, 1, 2)]
    np.testing.assert_array_equal(u[0], u[1])
    assert not np.array_equal(u[0], u[2])  # 128 targeted draws: 2^-128


# ----------------------------------------------------------- 7. bad input

GOOD = np.ones((4, 3))


@pytest.mark.parametrize("call, error, match", [
    (lambda r: weight_targets(GOOD, 1.5), ValueError, r"'gamma' parameter of weight_targets must be a float in the range \[0, 1\]. Got 1.5"),
    (lambda r: weight_targets(GOOD, -0.1), ValueError, "'gamma'"),
    (lambda r: weight_targets(GOOD, float("nan")), ValueError, "'gamma'.*Got nan"),
    (lambda r: targeted_weight_keep(GOOD, 0.5, 2.0, r), ValueError, "'alpha' parameter of targeted_weight_keep"),
    (lambda r: targeted_unit_keep(GOOD, 0.5, float("nan"), r), ValueError, "'alpha'"),
    (lambda r: weight_targets(GOOD, "0.5"), TypeError, "'gamma'"),
    (lambda r: weight_targets(np.array([[1.0, np.inf]]), 0.5), ValueError, "'w' parameter of weight_targets must be finite"),
    (lambda r: unit_targets(np.array([[np.nan]]), 0.5), ValueError, "must be finite"),
    (lambda r: unit_ranks(np.array([[1.0, np.inf]], np.float32)), ValueError, "'w' parameter of unit_ranks must be finite"),
    (lambda r: unit_ranks(np.ones((2, 2), np.int32)), TypeError, "'w' parameter of unit_ranks must be a float16"),
    (lambda r: targeted_unit_keep(np.array([[np.nan, 1.0]]), 0.5, 0.5, r, targets=np.ones(2, bool)), ValueError,
     "'w' parameter of targeted_unit_keep must be finite"),
    (lambda r: weight_targets(np.zeros((0, 3)), 0.5), ValueError, r"non-empty 2-D array .* Got shape \(0, 3\)"),
    (lambda r: weight_targets(np.ones(3), 0.5), ValueError, r"Got shape \(3,\)"),
    (lambda r: weight_targets(np.ones((2, 2, 2)), 0.5), ValueError, "2-D"),
    (lambda r: weight_targets(np.ones((2, 2), np.int64), 0.5), TypeError, "float16, float32 or float64 array. Got dtype int64"),
    pytest.param(lambda r: weight_targets(np.ones((2, 2), np.longdouble), 0.5), TypeError, "Got dtype float",
                 marks=pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")),
    (lambda r: weight_targets([[1.0]], 0.5), TypeError, "NumPy array. Got list"),
    (lambda r: targeted_weight_keep(GOOD, 0.5, 0.5, 0), TypeError, "'rng' parameter .* numpy.random.Generator"),
    (lambda r: targeted_unit_keep(GOOD, 0.5, 0.5, np.random.RandomState(0)), TypeError, "Generator"),
    (lambda r: targeted_unit_keep(GOOD, 0.5, 0.5, r, batch=0), ValueError, "'batch'"),
    (lambda r: targeted_weight_keep(GOOD, 0.5, 0.5, r, targets=np.ones((3, 4), bool)), ValueError, "'targets'"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_ranking_checks_finiteness_at_the_float_boundary(dtype):
    """The weight variant checks finiteness on the bit patterns of |w| while ranking,
    the unit variant on the sums of squares: +-max float passes, +-inf and NaN of
    either sign do not."""
    big = np.finfo(dtype).max
    ok = np.array([[big, 1.0], [-big, 0.0]], dtype)
    assert weight_targets(ok, 0.5).sum() == 2
    np.testing.assert_array_equal(unit_ranks(ok), [1, 0])
    for bad in (np.inf, -np.inf, np.nan, -np.nan):
        w = ok.copy()
        w[1, 1] = bad
        for call in (lambda x: weight_targets(x, 0.5),
                     lambda x: targeted_weight_keep(x, 0.5, 0.5, np.random.default_rng(0)),
                     lambda x: unit_targets(x, 0.5), unit_ranks,
                     lambda x: targeted_unit_keep(x, 0.5, 0.5, np.random.default_rng(0))):
            with pytest.raises(ValueError, match="'w' parameter of .* must be finite"):
                call(w)


# ------------------------------------------------ fixed-pattern targeting


def test_random_targets_are_a_fixed_uniform_draw_below_gamma():
    targets = random_weight_targets((400, 50), 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(targets, np.random.default_rng(5).random((400, 50)) < 0.3)
    # false-failure rate 1e-6: the count of 20,000 Bernoulli(0.3) draws
    lo, hi = binom.interval(1 - 1e-6, targets.size, 0.3)
    assert lo <= targets.sum() <= hi
    units = random_unit_targets(50, 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(units, np.random.default_rng(5).random(50) < 0.3)
    w = np.random.default_rng(1).standard_normal((400, 50))
    keep = targeted_weight_keep(w, 0.3, 1.0, np.random.default_rng(0), targets=targets)
    np.testing.assert_array_equal(keep, ~targets)
