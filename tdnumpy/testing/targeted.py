"""Conformance checks of targeted dropout, weight and unit variants (Gomez et al. 2019, section 3).

The implementation under test is a callable ``fn(w, gamma, alpha, rng)``
returning a keep-mask or the masked weights. The properties, all run unless
skipped:

``targets``                  at alpha = 1, exactly the target set of the
                             claimed conventions is dropped (per column for
                             the weight variant, among the units for the unit
                             variant);
``only-targets``             nothing outside the targets is ever dropped, at
                             any alpha (on hypothesis inputs, then 300 calls
                             on a fixed matrix);
``limits``                   alpha = 0 or gamma = 0 keeps everything; gamma = 1
                             with alpha = 1 drops everything;
``whole-units``              (unit variant) a unit is kept or dropped whole;
``no-rescaling``             (masked results) kept weights are returned
                             unchanged and dropped ones as 0;
``scale-invariance``         W and 2^e W give the same mask from the same
                             generator state (tie-free W under ``ties="any"``);
``permutation-equivariance`` permuting the rows or columns of W permutes the
                             mask (alpha = 1, distinct magnitudes and norms);
``uses-rng``                 the mask is a function of the generator's state:
                             equal for equal states, different for different
                             seeds;
``kept-fraction``            (statistical) the number of drops over repeated
                             calls, Binomial(m D, alpha) for m targets and D calls;
``drop-frequency``           (statistical) each target's drops, Binomial(D, alpha);
``independence``             (statistical) the number dropped per call spreads
                             as Binomial(m, alpha) (:func:`~tdnumpy.testing.stats.check_spread`),
                             and random pairs of targets are split (one dropped,
                             one kept) as often as independent drops split them
                             (:func:`~tdnumpy.testing.stats.check_pairs`).

The statistical properties run three configurations (gamma, alpha) = (0.5,
0.3), (0.75, 0.8), (0.25, 0.5) on a fixed tie-free matrix (40 x 12 for
weights, 16 x 48 for units) with D = 1500 calls each: twelve binomial tests at
rate 1e-6 / 12 each (the per-target test a Bonferroni family), so a correct
implementation fails a check with probability at most 1e-6. Their power, at
probability 0.99 in every configuration: a mean drop rate off by 0.01
(units: 0.029), or one target's rate off by 0.11, is found. ``uses-rng``
(:meth:`~tdnumpy.testing.calls.Implementation.check_uses_rng`) adds below
2^-70 (not counted).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .._docs import shared_docstring
from .calls import Implementation
from .report import RUN_OPTIONS, PropertyFailure, check_run_options, for_all, run
from .selection import judge, make_convention, side_by_side, unit_groups, weight_groups
from .stats import check_each, check_pairs, check_spread, check_total, random_pairs
from .strategies import (
    FRACTIONS,
    distinct_matrix,
    distinct_weights,
    exact_exponents,
    fixed_dtype,
    permuted_columns,
    weights,
)

FALSE_ALARM = 1e-6
CONFIGS = ((0.5, 0.3), (0.75, 0.8), (0.25, 0.5))
DRAWS = 1500
TESTS = 4 * len(CONFIGS)  # statistical tests per check, sharing FALSE_ALARM
ALPHAS = st.one_of(st.sampled_from([0.5, 0.25, 0.9]), st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
SEEDS = st.integers(0, 2**32 - 1)

# The options of this module's checks, before RUN_OPTIONS in their docstrings' Parameters.
COMMON = """
    returns : {"keep", "weights", "output"}, default="keep"
        What ``fn`` returns: a boolean keep-mask (shaped like its ``w``; for
        the unit variant also one boolean per unit), or the masked weights
        ("weights" and "output" are synonyms). A masked result cannot show
        whether a zero weight was dropped; those entries are not judged.
    layout : {"fan_in_first", "units_first"}, default="fan_in_first"
        Whether ``fn`` takes W as (fan_in, units), as this library, or as
        (units, fan_in), PyTorch's (out, in).
    rounding : {"floor", "round", "ceil"}, default="floor"
        How the claimed rule computes k from gamma N.
    ties : {"lower-index", "any", "strict", "inclusive"}, default="lower-index"
        How the claimed rule breaks ties at the threshold.
    preset : {"released"} or None, default=None
        Check the authors' released TensorFlow semantics instead
        (:mod:`tdnumpy.masks.released`): float32 index, strict threshold,
        float32 norms, per-weight noise inside targeted units.
    """


class _TargetedCheck:
    """The properties of one targeted-dropout check, bound to its options."""

    def __init__(self, fn, unit: bool, owner: str, returns, layout, rounding, ties, preset, max_examples, seed, dtypes):
        self.unit, self.owner = unit, owner
        check_run_options(owner, max_examples, seed, dtypes)
        self.conv = make_convention(owner, rounding, ties, layout=layout, preset=preset)
        self.released_unit = unit and preset == "released"
        # at alpha = 1 the released unit rule keeps a weight whose u is 0 (probability 2^-24): three
        # calls' drops are joined, missing a weight with probability 2^-72
        self.repeats = 3 if self.released_unit else 1
        self.impl = Implementation(
            fn, owner, ("w", "gamma", "alpha", "rng"), returns, layout, per_unit=unit and not self.released_unit
        )
        self.max_examples, self.seed, self.dtypes = max_examples, seed, dtypes
        shape = (16, 48) if unit else (40, 12)
        self.fixed = _tie_free(np.random.default_rng(seed), shape, unit, fixed_dtype(dtypes))
        self.impl.first_call(self.fixed, 0.5, 0.5, np.random.default_rng(seed))

    # ------------------------------------------------------------------ reading results

    def groups(self, w, gamma, conv=None):
        conv = self.conv if conv is None else conv
        return unit_groups(w, gamma, conv) if self.unit else weight_groups([w], gamma, conv)

    def dropped(self, obs):
        """The selection a result shows, flat: per weight, or per unit."""
        if not self.unit:
            return (~obs.keep & obs.known).ravel(), obs.known.ravel()
        if obs.keep.ndim == 1:
            return ~obs.keep, np.ones(obs.keep.shape, bool)
        dropped = ~obs.keep & obs.known
        if self.released_unit:  # a targeted unit loses its weights one by one; at alpha = 1, all of them
            return (dropped | ~obs.known).all(axis=0) & obs.known.any(axis=0), obs.known.any(axis=0)
        return dropped.any(axis=0), obs.known.any(axis=0)

    def call(self, w, gamma, alpha, seed):
        return self.impl(w, gamma, alpha, np.random.default_rng(seed))

    def context(self, w, gamma, alpha):
        return (
            f"gamma={gamma!r}, alpha={alpha!r}, W as (fan_in, units), {w.dtype} {w.shape}:\n"
            f"{np.array2string(w, precision=4)}"
        )

    def shape_of(self, w):
        return (lambda s: s.reshape(w.shape[1])) if self.unit else (lambda s: s.reshape(w.shape))

    # ------------------------------------------------------------------ properties

    def targets(self):
        def prop(example):
            w, gamma, seed = example
            for fraction in self.fractions(w, gamma):
                observed = [self.dropped(self.call(w, fraction, 1.0, seed + r)) for r in range(self.repeats)]
                selected = np.logical_or.reduce([s for s, _ in observed])
                shape = self.shape_of(w)
                judge(
                    lambda c, f=fraction: self.groups(w, f, c),
                    selected,
                    observed[0][1],
                    self.conv,
                    lambda f=fraction: self.context(w, f, 1.0),
                    shape,
                    shape,
                )

        inputs = weights(dtypes=self.dtypes)
        if self.unit and not self.released_unit:  # columns whose norms tie exactly while their float sums differ
            inputs = st.one_of(inputs, permuted_columns(self.dtypes), permuted_columns(self.dtypes, every=True))
        for_all(st.tuples(inputs, FRACTIONS, SEEDS), prop, self.max_examples, self.seed)

    def fractions(self, w, gamma):
        """gamma, and for the unit variant on up to 12 units every k in between (each cut of a tie)."""
        units = w.shape[1]
        return [gamma] + ([(k + 0.5) / units for k in range(1, units)] if self.unit and units <= 12 else [])

    def may(self, w, gamma):
        may = np.zeros(w.shape[1] if self.unit else w.size, bool)
        for g in self.groups(w, gamma):
            may[g.index] = g.expected.may
        return may

    def only_targets(self):
        def prop(example):
            w, gamma, alpha, seed = example
            self._outside(w, gamma, alpha, self.call(w, gamma, alpha, seed))

        for_all(st.tuples(weights(dtypes=self.dtypes), FRACTIONS, ALPHAS, SEEDS), prop, self.max_examples, self.seed)
        rng = np.random.default_rng(self.seed)
        for gamma, alpha in CONFIGS:
            for _ in range(100):
                self._outside(self.fixed, gamma, alpha, self.impl(self.fixed, gamma, alpha, rng))

    def _outside(self, w, gamma, alpha, obs):
        dropped = (~obs.keep & obs.known).any(axis=0) if self.released_unit else self.dropped(obs)[0]
        may = self.may(w, gamma)
        outside = np.flatnonzero(dropped & ~may)
        if len(outside):
            shown = outside[:8] if self.unit else list(zip(*np.unravel_index(outside[:8], w.shape)))
            where = f"units (N={w.shape[1]})" if self.unit else f"weights (row, column; N={w.shape[0]} per column)"
            shape = self.shape_of(w)
            raise PropertyFailure(
                f"dropped {where} {', '.join(map(str, shown))} outside the targets (with {self.conv})",
                more=lambda: (
                    self.context(w, gamma, alpha)
                    + "\n"
                    + side_by_side(("targets (1 = may be dropped)", "dropped"), shape(may), shape(dropped))
                ),
            )

    def limits(self):
        def prop(example):
            w, x, seed = example
            for gamma, alpha in ((x, 0.0), (0.0, x)):
                obs = self.call(w, gamma, alpha, seed)
                if (~obs.keep & obs.known).any():
                    raise PropertyFailure(
                        f"dropped something at gamma={gamma!r}, alpha={alpha!r}, where nothing may be",
                        more=lambda g=gamma, a=alpha: self.context(w, g, a),
                    )
            if (self.kept_at_one(w, 1.0, seed) & self.call(w, 1.0, 1.0, seed).known).any():
                raise PropertyFailure(
                    "kept something at gamma=1, alpha=1, where everything is dropped",
                    more=lambda: self.context(w, 1.0, 1.0),
                )

        for_all(st.tuples(weights(dtypes=self.dtypes), FRACTIONS, SEEDS), prop, self.max_examples, self.seed)

    def kept_at_one(self, w, gamma, seed):
        """The keep-mask at alpha = 1 (joined over ``self.repeats`` calls)."""
        return np.logical_and.reduce([self.call(w, gamma, 1.0, seed + r).keep for r in range(self.repeats)])

    def whole_units(self):
        def prop(example):
            w, gamma, alpha, seed = example
            obs = self.call(w, gamma, alpha, seed)
            if obs.keep.ndim == 1:
                return
            mixed = np.flatnonzero((~obs.keep & obs.known).any(axis=0) & (obs.keep & obs.known).any(axis=0))
            if len(mixed):
                raise PropertyFailure(
                    f"units {', '.join(map(str, mixed[:8]))} were dropped in part: a unit "
                    f"(column of W) must be kept or dropped whole (per-weight noise inside "
                    f"targeted units is the released code's rule, preset='released')",
                    more=lambda: self.context(w, gamma, alpha),
                )

        for_all(st.tuples(weights(dtypes=self.dtypes), FRACTIONS, ALPHAS, SEEDS), prop, self.max_examples, self.seed)

    def no_rescaling(self):
        def prop(example):
            w, gamma, alpha, seed = example
            values = self.call(w, gamma, alpha, seed).values
            bad = np.flatnonzero((values != 0) & (values != w))
            if len(bad):
                i = bad[0]
                raise PropertyFailure(
                    f"returned {values.flat[i]!r} where w is {w.flat[i]!r} (flat index {i}): "
                    f"kept weights must be returned unchanged",
                    more=lambda: self.context(w, gamma, alpha),
                )

        for_all(st.tuples(weights(dtypes=self.dtypes), FRACTIONS, ALPHAS, SEEDS), prop, self.max_examples, self.seed)

    def scale_invariance(self):
        inputs = (
            distinct_weights(self.dtypes, distinct_norms=self.unit)
            if self.conv.ties == "any"
            else weights(dtypes=self.dtypes)
        )  # a tie under "any" may fall either way at each call

        def prop(data):
            w = data.draw(inputs)
            gamma, seed = data.draw(FRACTIONS), data.draw(SEEDS)
            low, high = exact_exponents(w)
            if low == high == 0:
                return  # no exact scaling but the identity
            exponent = data.draw(st.integers(low, high).filter(lambda e: e != 0))
            scaled = np.ldexp(w, exponent).astype(w.dtype)
            for alpha in (1.0, data.draw(ALPHAS)):
                a, b = self.call(w, gamma, alpha, seed), self.call(scaled, gamma, alpha, seed)
                if not np.array_equal(a.keep, self.call(w, gamma, alpha, seed).keep):
                    raise PropertyFailure(
                        "the same input and generator state gave different masks (see uses-rng)",
                        more=lambda a=alpha: self.context(w, gamma, a),
                    )
                if not np.array_equal(a.keep, b.keep):
                    raise PropertyFailure(
                        f"W and 2^{exponent} W gave different masks from the same generator state",
                        more=lambda a=alpha: self.context(w, gamma, a),
                    )

        for_all(st.data(), prop, self.max_examples, self.seed)

    def permutation_equivariance(self):
        def prop(example):
            w, gamma, seed = example
            rng = np.random.default_rng(seed)
            rows, cols = rng.permutation(w.shape[0]), rng.permutation(w.shape[1])
            base = self.kept_at_one(w, gamma, seed)
            permuted = self.kept_at_one(w[rows][:, cols], gamma, seed)
            want = base[cols] if base.ndim == 1 else base[rows][:, cols]
            if not np.array_equal(permuted, want):
                raise PropertyFailure(
                    f"permuting rows {rows.tolist()} and columns {cols.tolist()} of W did not "
                    f"permute the mask (alpha=1, distinct magnitudes and norms)",
                    more=lambda: self.context(w, gamma, 1.0),
                )

        strategy = st.tuples(distinct_weights(self.dtypes, distinct_norms=self.unit), FRACTIONS, SEEDS)
        for_all(strategy, prop, self.max_examples, self.seed)

    def uses_rng(self):
        self.impl.check_uses_rng(self.fixed, 0.5, 0.5)

    def _counts(self):
        """Drops per element over DRAWS calls for each configuration, with the targets (drawn once)."""
        if not hasattr(self, "_drawn"):
            self._drawn = list(self._draw())
        return self._drawn

    def _draw(self):
        rng = np.random.default_rng(self.seed + 1)
        for gamma, alpha in CONFIGS:
            targets = self.may(self.fixed, gamma)
            if self.released_unit:  # the units' weights are the elements
                targets = np.broadcast_to(targets, self.fixed.shape).ravel()
            counts, per_call = np.zeros(targets.shape, np.int64), np.zeros(DRAWS, np.int64)
            pairs = random_pairs(np.flatnonzero(targets), rng)
            discordant = 0
            for call in range(DRAWS):
                obs = self.impl(self.fixed, gamma, alpha, rng)
                dropped = (~obs.keep).ravel() if self.released_unit else self.dropped(obs)[0]
                counts += dropped
                per_call[call] = np.count_nonzero(dropped[targets])
                discordant += np.count_nonzero(dropped[pairs[0]] != dropped[pairs[1]])
            yield gamma, alpha, counts[targets], per_call, (discordant, len(pairs[0]) * DRAWS)

    def kept_fraction(self):
        for gamma, alpha, counts, *_ in self._counts():
            check_total(
                int(counts.sum()),
                counts.size * DRAWS,
                alpha,
                FALSE_ALARM / TESTS,
                f"{counts.size} targets, {DRAWS} calls, gamma={gamma}, alpha={alpha}",
            )

    def drop_frequency(self):
        for gamma, alpha, counts, *_ in self._counts():
            check_each(counts, DRAWS, alpha, FALSE_ALARM / TESTS, f"gamma={gamma}, alpha={alpha}")

    def independence(self):
        for gamma, alpha, counts, per_call, (discordant, trials) in self._counts():
            check_spread(per_call, counts.size, alpha, FALSE_ALARM / TESTS, f"gamma={gamma}, alpha={alpha}")
            check_pairs(discordant, trials, alpha, FALSE_ALARM / TESTS, f"gamma={gamma}, alpha={alpha}")

    def properties(self):
        return {
            "targets": self.targets,
            "only-targets": self.only_targets,
            "limits": self.limits,
            "whole-units": self.whole_units,
            "no-rescaling": self.no_rescaling,
            "scale-invariance": self.scale_invariance,
            "permutation-equivariance": self.permutation_equivariance,
            "uses-rng": self.uses_rng,
            "kept-fraction": self.kept_fraction,
            "drop-frequency": self.drop_frequency,
            "independence": self.independence,
        }

    def not_applicable(self):
        skipped = {}
        if not self.unit:
            skipped["whole-units"] = "weight variant"
        elif self.released_unit:
            skipped["whole-units"] = "the released rule drops single weights of targeted units"
        if not self.impl.masked:
            skipped["no-rescaling"] = "returns='keep'"
        if self.released_unit:
            skipped["scale-invariance"] = "the released rule's float32 norms under- and overflow"
        return skipped


def _tie_free(rng, shape, unit, dtype) -> np.ndarray:
    """A matrix with distinct magnitudes (and, for units, distinct column norms)."""
    while True:
        w = distinct_matrix(rng, shape, dtype)
        squares = (w.astype(np.float64) ** 2).sum(axis=0)
        if not unit or len(np.unique(squares)) == len(squares):
            return w


def _check(unit: bool, owner: str, fn, convention: tuple, options: tuple):
    """Run the check of ``owner``: ``convention`` is (returns, layout, rounding, ties, preset),
    ``options`` (max_examples, seed, skip, dtypes, raises)."""
    returns, layout, rounding, ties, preset = convention
    max_examples, seed, skip, dtypes, raises = options
    check = _TargetedCheck(fn, unit, owner, returns, layout, rounding, ties, preset, max_examples, seed, dtypes)
    title = f"{owner}({check.impl.name}, returns={returns!r}, layout={layout!r}, {check.conv})"
    return run(title, check.properties(), skip, FALSE_ALARM, raises, check.not_applicable())


@shared_docstring(common=COMMON, run_options=RUN_OPTIONS)
def check_targeted_weight_dropout(
    fn,
    *,
    returns="keep",
    layout="fan_in_first",
    rounding="floor",
    ties="lower-index",
    preset=None,
    max_examples=100,
    seed=0,
    skip=(),
    dtypes=None,
    raises=True,
):
    """Check ``fn(w, gamma, alpha, rng)`` against targeted weight dropout.

    Gomez et al. (2019), section 3: the targets of column o are the
    k = floor(gamma N_row) entries of smallest |W[i, o]|; each is dropped
    with probability alpha; nothing else is dropped and kept weights are not
    rescaled. The properties and their false-alarm rate (at most 1e-6) are
    listed in :mod:`tdnumpy.testing.targeted`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(w, gamma, alpha, rng)`` with ``w`` a float
        array (see ``layout``), gamma and alpha floats in [0, 1] and ``rng``
        a numpy.random.Generator it draws from.
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_targeted_weight_dropout
    >>> check_targeted_weight_dropout(masks.targeted_weight_keep, max_examples=20).passed
    True
    """
    convention = (returns, layout, rounding, ties, preset)
    return _check(False, "check_targeted_weight_dropout", fn, convention, (max_examples, seed, skip, dtypes, raises))


@shared_docstring(common=COMMON, run_options=RUN_OPTIONS)
def check_targeted_unit_dropout(
    fn,
    *,
    returns="keep",
    layout="fan_in_first",
    rounding="floor",
    ties="lower-index",
    preset=None,
    max_examples=100,
    seed=0,
    skip=(),
    dtypes=None,
    raises=True,
):
    """Check ``fn(w, gamma, alpha, rng)`` against targeted unit dropout.

    Gomez et al. (2019), section 3: the targets are the k = floor(gamma N_col)
    units (columns of W) of smallest L2 norm ||W[:, o]||_2, ranked exactly;
    each is dropped whole with probability alpha. The properties and their
    false-alarm rate (at most 1e-6) are listed in :mod:`tdnumpy.testing.targeted`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(w, gamma, alpha, rng)``, returning one
        boolean per unit, a keep-mask shaped like its ``w`` or the masked
        weights.
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_targeted_unit_dropout
    >>> check_targeted_unit_dropout(masks.targeted_unit_keep, max_examples=20).passed
    True
    """
    convention = (returns, layout, rounding, ties, preset)
    return _check(True, "check_targeted_unit_dropout", fn, convention, (max_examples, seed, skip, dtypes, raises))
