"""Property-based tests of the targeted-dropout masks (tdnumpy.masks).

Statistical tests use exact binomial intervals (scipy.stats.binom) with the
false-failure rate stated next to each; none is above 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from strategies import FRACTIONS, SHAPES, weights
from tdnumpy.masks import (bernoulli, bottom_k, n_targets, uniform_bytes, random_unit_targets, random_weight_targets, targeted_unit_keep,
                           targeted_weight_keep, tf_targeted_unit_keep, tf_targeted_weight_keep, tf_unit_targets,
                           tf_weight_targets, unit_norms, unit_targets, weight_targets)

def reference_bottom_k(scores, k):
    """Sort-based bottom-k per column (by value, then index): the plain definition."""
    scores = scores.reshape(scores.shape[0], -1)
    out = np.zeros(scores.shape, bool)
    rows = np.arange(scores.shape[0])
    for o in range(scores.shape[1]):
        out[np.lexsort((rows, scores[:, o]))[:k], o] = True
    return out


# ---------------------------------------------------------------- 1. targets


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
    targets = unit_targets(w, gamma)
    k = n_targets(w.shape[1], gamma)
    assert targets.shape == (w.shape[1],) and targets.sum() == k
    norms = unit_norms(w)
    if 0 < k < w.shape[1]:
        assert norms[targets].max() <= norms[~targets].min()
    np.testing.assert_array_equal(targets, reference_bottom_k(norms, k)[:, 0])


def test_k_is_the_floor_of_the_float64_product():
    assert n_targets(10, 0.3) == 3 and n_targets(10, 0.7) == 7 and n_targets(3, 1 / 3) == 1
    assert n_targets(100, 0.29) == 28  # 0.29 * 100 rounds to 28.999999999999996
    assert n_targets(10, 0.5) == 5 and n_targets(7, 1.0) == 7 and n_targets(7, 0.0) == 0
    assert n_targets(3, 0.999) == 2


def test_ties_go_to_the_lower_index():
    w = np.array([[1.0], [0.0], [0.0], [0.0], [2.0]])
    np.testing.assert_array_equal(weight_targets(w, 0.4)[:, 0], [False, True, True, False, False])
    np.testing.assert_array_equal(unit_targets(np.array([[1.0, -1.0, 1.0, 3.0]]), 0.5), [True, True, False, False])


# ------------------------------------------------------- 2. drops and limits


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


def test_bernoulli_draws():
    """With t = round(p 2^32) a multiple of 2^24 (p = 1/4 here) the top byte
    alone decides: d = [u_hi < t_hi], from one byte per event in C order."""
    rng = np.random.default_rng(0)
    top = uniform_bytes(np.random.default_rng(1), 15)
    assert top.dtype == np.uint8 and top.shape == (15,)
    np.testing.assert_array_equal(bernoulli(np.random.default_rng(1), 0.25, (3, 5)), (top < 64).reshape(3, 5))
    assert bernoulli(rng, 1.0, (50,)).all() and not bernoulli(rng, 0.0, (50,)).any()
    # p = 1/2: one bit per event, the top bit of u, most significant bit of each byte first
    bits = np.unpackbits(uniform_bytes(np.random.default_rng(2), 3))[:20]
    np.testing.assert_array_equal(bernoulli(np.random.default_rng(2), 0.5, (4, 5)), (bits == 0).reshape(4, 5))
    assert uniform_bytes(np.random.Generator(np.random.MT19937(0)), 7).dtype == np.uint8
    # false-failure rate 1e-6: the count of 10^6 Bernoulli(0.3) events
    lo, hi = binom.interval(1 - 1e-6, 10**6, 0.3)
    assert lo <= bernoulli(rng, 0.3, (10**6,)).sum() <= hi
    lo, hi = binom.interval(1 - 1e-6, 10**6, 0.5)
    assert lo <= bernoulli(rng, 0.5, (10**6,)).sum() <= hi


@pytest.mark.parametrize("p", [128.5 / 256, 0.25, 1 / 256, 0.75, 1 - 2**-20])
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_bernoulli_rates(bit_generator, p):
    """The rate of 10^7 events, exact binomial bound (false-failure rate 1e-6 per
    case). The p cover each branch: low bits needed for a tie of the top byte
    (128.5 / 256: ignoring them gives 0.5, 12 standard deviations away), the top
    byte alone (1/4, 3/4, 1/256: a > for >= there gives (t_hi + 1) / 256,
    28 standard deviations away at 1/4), and p within 2^-20 of 1."""
    n = 10**7
    rng = np.random.Generator(bit_generator(3))
    lo, hi = binom.interval(1 - 1e-6, n, p)
    assert lo <= np.count_nonzero(bernoulli(rng, p, (n,))) <= hi


def test_bernoulli_reads_u_a_byte_at_a_time():
    """d = [u < t] for u rebuilt from the bytes drawn: first one top byte per
    event, then, for the events whose top byte equals t's, three low bytes each,
    most significant first."""
    t = 0x5A3C1F07
    events = bernoulli(np.random.default_rng(11), t / 2**32, (50_000,))
    rng = np.random.default_rng(11)
    u = uniform_bytes(rng, 50_000).astype(np.int64) << 24
    tied = np.flatnonzero(u >> 24 == t >> 24)
    low = uniform_bytes(rng, 3 * len(tied)).reshape(-1, 3).astype(np.int64)
    u[tied] += (low[:, 0] << 16) | (low[:, 1] << 8) | low[:, 2]
    assert len(tied) > 100
    np.testing.assert_array_equal(events, u < t)


def test_bernoulli_compares_all_24_low_bits(monkeypatch):
    """Every event's top byte ties with t's, and the low bytes are chosen around
    t_lo, one unit apart in each byte: d must equal [u_lo < t_lo] exactly."""
    t_hi, t_lo = 0x5A, 0x3C1F07
    lows = [t_lo + d for d in (-1, 0, 1, -256, 256, -65536, 65536)]
    supplies = iter([np.full(len(lows), t_hi, np.uint8),
                     np.array([[v >> 16, (v >> 8) & 255, v & 255] for v in lows], np.uint8).ravel()])
    monkeypatch.setattr("tdnumpy.masks._select.uniform_bytes", lambda rng, n: next(supplies)[:n])
    events = bernoulli(np.random.default_rng(0), (t_hi * 2**24 + t_lo) / 2**32, (len(lows),))
    np.testing.assert_array_equal(events, np.array(lows) < t_lo)


# ------------------------------------------------------------ 3. statistics


def drop_counts(keep_fn, draws):
    """Per-element drop counts over ``draws`` calls of keep_fn()."""
    total = None
    for _ in range(draws):
        dropped = ~keep_fn()
        total = dropped.astype(np.int64) if total is None else total + dropped
    return total


def assert_drop_frequencies(counts, targets, alpha, draws, false_failure=1e-6):
    """The checks of property 3, with an overall false-failure rate <= false_failure.

    - untargeted elements: never dropped (deterministic);
    - the total over all targets: exact binomial interval, rate false_failure / 2;
    - each target on its own: binomial interval at rate false_failure / (2 m) for
      m targets (Bonferroni), so all m together fail with rate <= false_failure / 2.
    """
    assert (counts[~targets] == 0).all()
    m = int(targets.sum())
    if m == 0:
        return
    lo, hi = binom.interval(1 - false_failure / 2, m * draws, alpha)
    assert lo <= counts[targets].sum() <= hi, (counts[targets].sum(), lo, hi)
    lo, hi = binom.interval(1 - false_failure / (2 * m), draws, alpha)
    bad = (counts[targets] < lo) | (counts[targets] > hi)
    assert not bad.any(), f"{bad.sum()} of {m} targets are dropped at the wrong rate (interval {lo}..{hi})"


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

    with pytest.raises(AssertionError, match="targets are dropped at the wrong rate"):
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


# ------------------------------------------------- 4. invariance, equivariance


@settings(max_examples=200, deadline=None)
@given(w=weights(), gamma=FRACTIONS, exponent=st.integers(-20, 20), alpha=st.sampled_from([0.0, 1.0]))
def test_scale_invariance(w, gamma, exponent, alpha):
    """c = 2^e scales exactly in floating point, so nothing but the definition is tested."""
    scaled = w * np.asarray(2.0 ** exponent, w.dtype)
    assume(np.isfinite(scaled).all() and (np.abs(scaled[w != 0]) >= np.finfo(w.dtype).tiny * 2 ** 30).all())
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(weight_targets(scaled, gamma), weight_targets(w, gamma))
    np.testing.assert_array_equal(unit_targets(scaled, gamma), unit_targets(w, gamma))
    np.testing.assert_array_equal(targeted_weight_keep(scaled, gamma, alpha, rng),
                                  targeted_weight_keep(w, gamma, alpha, rng))


@settings(max_examples=200, deadline=None)
@given(shape=SHAPES, gamma=FRACTIONS, alpha=st.sampled_from([0.0, 1.0]), seed=st.integers(0, 2**32 - 1))
def test_permutation_equivariance(shape, gamma, alpha, seed):
    """Permuting rows permutes the weight targets; permuting columns permutes the
    unit targets. Magnitudes and norms are distinct, so no tie-break is involved."""
    rng = np.random.default_rng(seed)
    w = (rng.permutation(np.prod(shape)) + 1.0).reshape(shape) * rng.choice([-1.0, 1.0], shape)
    rows, cols = rng.permutation(shape[0]), rng.permutation(shape[1])
    np.testing.assert_array_equal(targeted_weight_keep(w[rows], gamma, alpha, rng),
                                  targeted_weight_keep(w, gamma, alpha, rng)[rows])
    np.testing.assert_array_equal(targeted_unit_keep(w[:, cols], gamma, alpha, rng),
                                  targeted_unit_keep(w, gamma, alpha, rng)[cols])


# ---------------------------------------------------------- 6. reproducibility


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


# ------------------------------------------------------------- 7. bad input

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
    """The weight variant checks finiteness on the bit patterns of |w| while ranking:
    +-max float passes, +-inf and NaN of either sign do not."""
    big = np.finfo(dtype).max
    ok = np.array([[big, 1.0], [-big, 0.0]], dtype)
    assert weight_targets(ok, 0.5).sum() == 2
    for bad in (np.inf, -np.inf, np.nan, -np.nan):
        w = ok.copy()
        w[1, 1] = bad
        for call in (lambda: weight_targets(w, 0.5),
                     lambda: targeted_weight_keep(w, 0.5, 0.5, np.random.default_rng(0))):
            with pytest.raises(ValueError, match="'w' parameter of .* must be finite"):
                call()


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


# ---------------------------------------------- the released TensorFlow code


@settings(max_examples=200, deadline=None)
@given(w=weights(ties=False, dtype=np.float64), gamma=FRACTIONS)
def test_released_code_agrees_on_tie_free_weights(w, gamma):
    """Where the float32 index equals floor(gamma N), the released code's strict
    threshold selects the same targets as the definition on tie-free columns."""
    assume(int(np.float32(gamma) * np.float32(w.shape[0])) == n_targets(w.shape[0], gamma))
    assume(len(np.unique(np.abs(w))) == w.size)
    np.testing.assert_array_equal(tf_weight_targets(w, gamma), weight_targets(w, gamma))
    assume(int(gamma * w.shape[1]) == n_targets(w.shape[1], gamma))
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


def test_unit_norms_neither_overflow_nor_underflow():
    w = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float32)
    for scale in (2.0 ** 66, 2.0 ** -80):  # squares leave float32's range; the scaling is exact
        np.testing.assert_array_equal(unit_targets(w * np.float32(scale), 0.4), unit_targets(w, 0.4))
    np.testing.assert_allclose(unit_norms(w), np.linalg.norm(w.astype(np.float64), axis=0), rtol=1e-12)


def test_generators_with_32_bit_outputs_drop_at_rate_alpha():
    """MT19937's raw outputs hold 32 bits; the draws must still be uniform.
    False-failure rate of the interval: 1e-6."""
    rng = np.random.Generator(np.random.MT19937(0))
    w = np.ones((1000, 100))
    dropped = (~targeted_weight_keep(w, 1.0, 0.1, rng)).sum()
    lo, hi = binom.interval(1 - 1e-6, w.size, 0.1)
    assert lo <= dropped <= hi


def test_bottom_k_of_a_vector():
    np.testing.assert_array_equal(bottom_k(np.array([3.0, 1.0, 2.0, 1.0]), 2), [False, True, False, True])
