"""Conformance checks of dropout (Srivastava et al. 2014) and DropConnect (Wan et al. 2013).

The implementation under test is a callable ``fn(x, p, rng)`` (dropout, on
activations) or ``fn(w, p, rng)`` (DropConnect, on a weight matrix) that
drops each element independently with probability p and returns a keep-mask
or the masked array. The properties, all run unless skipped:

``p-zero``             p = 0 drops nothing (and returns the input unchanged);
``scaling``            (masked results) kept elements are x / (1 - p) for
                       ``mode="inverted"``, x itself for ``mode="classic"``;
                       within 4 units in the last place of the dtype, or
                       two subnormal steps (where
                       1 / (1 - p) and x / (1 - p) fit the dtype: float16
                       overflows for p near 1);
``value-independence`` x and -2 x (-x where 2 x overflows) give the same
                       mask from the same generator state: the mask does not
                       look at the values;
``uses-rng``           the mask is a function of the generator's state: equal
                       for equal states, different for different seeds;
``kept-fraction``      (statistical) the drops over repeated calls,
                       Binomial(n D, p) for n elements and D calls;
``drop-frequency``     (statistical) each element's drops, Binomial(D, p);
``independence``       (statistical) the number dropped per call spreads as
                       Binomial(n, p), and random pairs of elements are split
                       as often as independent drops split them.

The statistical properties run p = 0.2, 0.5 and 0.75 on a fixed array of
1024 elements (dropout: 32 x 32, 1024 and 2 x 2 x 16 x 16, one for each p;
DropConnect: 32 x 32) with D = 1000 calls each: twelve binomial tests at rate 1e-6 / 12 each,
so a correct implementation fails a check with probability at most 1e-6.
Their power, at probability 0.99 for every p: a mean rate off by 0.004, or
one element's rate off by 0.14, is found. ``uses-rng`` adds below 2^-70
(not counted).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .._docs import shared_docstring
from .calls import Implementation
from .report import RUN_OPTIONS, PropertyFailure, check_run_options, for_all, run
from .stats import check_each, check_pairs, check_spread, check_total, random_pairs
from .strategies import activations, distinct_matrix, fixed_dtype, weights

FALSE_ALARM = 1e-6
RATES = (0.2, 0.5, 0.75)
DRAWS = 1000
TESTS = 4 * len(RATES)  # statistical tests per check, sharing FALSE_ALARM
MODES = ("inverted", "classic")
P = st.one_of(st.sampled_from([0.5, 0.1, 0.9]), st.floats(0.0, 1.0, exclude_max=True))
SEEDS = st.integers(0, 2**32 - 1)

_COMMON = """
    mode : {"inverted", "classic"}, default="inverted" for dropout, "classic" for DropConnect
        The scaling of kept elements in a masked result: 1 / (1 - p)
        (inverted) or none (classic). Unused with returns="keep".
    returns : {"keep", "output", "weights"}, default="keep"
        What ``fn`` returns: a boolean keep-mask shaped like its input, or the
        masked array ("output" and "weights" are synonyms). A masked result
        cannot show whether a zero was dropped; those entries are not judged.
    """


class _BernoulliCheck:
    """The properties of a check of independent Bernoulli(p) drops."""

    def __init__(self, fn, owner, inputs, mode, returns, layout, max_examples, seed, dtypes):
        if mode not in MODES:
            raise ValueError(f"The 'mode' parameter of {owner} must be one of {MODES}. Got {mode!r} instead.")
        first = "x" if owner == "check_dropout" else "w"
        check_run_options(owner, max_examples, seed, dtypes)
        self.impl = Implementation(fn, owner, (first, "p", "rng"), returns, layout)
        self.owner, self.mode, self.inputs = owner, mode, inputs
        self.max_examples, self.seed = max_examples, seed
        self.fixed = distinct_matrix(np.random.default_rng(seed), (32, 32), fixed_dtype(dtypes))
        # dropout draws on activations of rank 2, 1 and 4 (a mask per feature map would show); DropConnect on W
        self.shapes = [(32, 32), (1024,), (2, 2, 16, 16)] if owner == "check_dropout" else [(32, 32)] * 3
        self.impl.first_call(self.fixed, 0.5, np.random.default_rng(seed))
        self._drawn = None

    def call(self, x, p, seed):
        return self.impl(x, p, np.random.default_rng(seed))

    @staticmethod
    def context(x, p):
        return f"p={p!r}, input {x.dtype} {x.shape}:\n{np.array2string(x, precision=4, threshold=200)}"

    def p_zero(self):
        def prop(example):
            x, seed = example
            obs = self.call(x, 0.0, seed)
            if (~obs.keep & obs.known).any() or obs.values is not None and not np.array_equal(obs.values, x):
                raise PropertyFailure("p=0 changed the input", more=lambda: self.context(x, 0.0))

        for_all(st.tuples(self.inputs, SEEDS), prop, self.max_examples, self.seed)

    def scaling(self):
        def prop(example):
            x, p, seed = example
            largest = float(np.finfo(x.dtype).max)
            if self.mode == "inverted" and 1 / (1 - p) > largest:  # the scale itself overflows the dtype
                return
            values = self.call(x, p, seed).values
            want = x.astype(np.float64) / (1 - p) if self.mode == "inverted" else x.astype(np.float64)
            kept = (values != 0) & (x != 0) & (np.abs(want) <= largest)  # where x / (1 - p) fits the dtype
            error = np.abs(values[kept].astype(np.float64) - want[kept])
            info = np.finfo(x.dtype)  # 4 ulps, and two roundings of a subnormal result
            bound = 4 * float(info.eps) * np.abs(want[kept]) + 2 * float(info.smallest_subnormal)
            if self.mode == "classic":
                bound = np.zeros_like(bound)
            bad = np.flatnonzero(~(error <= bound))  # NaN is bad too
            if len(bad):
                i = bad[0]
                raise PropertyFailure(
                    f"kept element returned as {values[kept][i]!r} where {self.mode} scaling gives {want[kept][i]!r}",
                    more=lambda: self.context(x, p),
                )

        for_all(st.tuples(self.inputs, P, SEEDS), prop, self.max_examples, self.seed)

    def value_independence(self):
        def prop(example):
            x, p, seed = example
            doubled = x * np.asarray(2.0, x.dtype)
            factor = -2.0 if np.isfinite(doubled).all() else -1.0
            a, b = self.call(x, p, seed), self.call(-doubled if factor == -2.0 else -x, p, seed)
            if not np.array_equal(a.keep, self.call(x, p, seed).keep):
                raise PropertyFailure(
                    "the same input and generator state gave different masks (see uses-rng)",
                    more=lambda: self.context(x, p),
                )
            if not np.array_equal(a.keep, b.keep):
                raise PropertyFailure(
                    f"x and {factor} x gave different masks from the "
                    f"same generator state: the mask must not depend on the values",
                    more=lambda: self.context(x, p),
                )

        for_all(st.tuples(self.inputs, P, SEEDS), prop, self.max_examples, self.seed)

    def uses_rng(self):
        self.impl.check_uses_rng(self.fixed, 0.5)

    def _counts(self):
        if self._drawn is None:
            rng = np.random.default_rng(self.seed + 1)
            self._drawn = []
            for p, shape in zip(RATES, self.shapes):
                fixed = self.fixed.reshape(shape)
                counts, per_call = np.zeros(shape, np.int64), np.zeros(DRAWS, np.int64)
                pairs = random_pairs(np.arange(fixed.size), rng)
                discordant = 0
                for call in range(DRAWS):
                    dropped = ~self.impl(fixed, p, rng).keep
                    counts += dropped
                    per_call[call] = np.count_nonzero(dropped)
                    flat = dropped.ravel()
                    discordant += np.count_nonzero(flat[pairs[0]] != flat[pairs[1]])
                self._drawn.append((p, counts, per_call, (discordant, len(pairs[0]) * DRAWS)))
        return self._drawn

    def kept_fraction(self):
        for p, counts, *_ in self._counts():
            check_total(
                int(counts.sum()),
                counts.size * DRAWS,
                p,
                FALSE_ALARM / TESTS,
                f"{counts.size} elements, {DRAWS} calls, p={p}",
            )

    def drop_frequency(self):
        for p, counts, *_ in self._counts():
            check_each(counts, DRAWS, p, FALSE_ALARM / TESTS, f"p={p}")

    def independence(self):
        for p, counts, per_call, (discordant, trials) in self._counts():
            check_spread(per_call, counts.size, p, FALSE_ALARM / TESTS, f"p={p}")
            check_pairs(discordant, trials, p, FALSE_ALARM / TESTS, f"p={p}")

    def report(self, skip, raises):
        properties = {
            "p-zero": self.p_zero,
            "scaling": self.scaling,
            "value-independence": self.value_independence,
            "uses-rng": self.uses_rng,
            "kept-fraction": self.kept_fraction,
            "drop-frequency": self.drop_frequency,
            "independence": self.independence,
        }
        not_applicable = {} if self.impl.masked else {"scaling": "returns='keep'"}
        title = (
            f"{self.owner}({self.impl.name}, returns={self.impl.returns!r}, mode={self.mode!r}"
            f"{', layout=' + repr(self.impl.layout) if self.owner == 'check_dropconnect' else ''})"
        )
        return run(title, properties, skip, FALSE_ALARM, raises, not_applicable)


@shared_docstring(common=_COMMON, run_options=RUN_OPTIONS)
def check_dropout(fn, *, mode="inverted", returns="keep", max_examples=100, seed=0, skip=(), dtypes=None, raises=True):
    """Check ``fn(x, p, rng)`` against dropout: each element dropped independently with probability p.

    Srivastava et al. (2014), eq. (1): y = r * x, r ~ Bernoulli(1 - p), with
    kept elements scaled by 1 / (1 - p) in training (inverted) or not
    (classic, scaled at evaluation instead). Inputs have rank 1 to 4. The
    properties and their false-alarm rate (at most 1e-6) are listed in
    :mod:`tdnumpy.testing.dropout`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(x, p, rng)``, x a float array, p in [0, 1)
        and rng a numpy.random.Generator it draws from.
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_dropout
    >>> check_dropout(lambda x, p, rng: masks.dropout_keep(x.shape, p, rng), max_examples=20).passed
    True
    """
    check = _BernoulliCheck(
        fn, "check_dropout", activations(dtypes), mode, returns, "fan_in_first", max_examples, seed, dtypes
    )
    return check.report(skip, raises)


@shared_docstring(common=_COMMON, run_options=RUN_OPTIONS)
def check_dropconnect(
    fn,
    *,
    layout="fan_in_first",
    mode="classic",
    returns="keep",
    max_examples=100,
    seed=0,
    skip=(),
    dtypes=None,
    raises=True,
):
    """Check ``fn(w, p, rng)`` against DropConnect: each weight dropped independently with probability p.

    Wan et al. (2013), eq. (2): r = a((M * W) v), M ~ Bernoulli(1 - p), no
    scaling in training (``mode="classic"``, the default here); some ports
    scale kept weights by 1 / (1 - p) (``mode="inverted"``). The properties
    and their false-alarm rate (at most 1e-6) are listed in
    :mod:`tdnumpy.testing.dropout`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(w, p, rng)``, w a float matrix in ``layout``.
    layout : {"fan_in_first", "units_first"}, default="fan_in_first"
        Whether ``fn`` takes W as (fan_in, units) or as PyTorch's (out, in).
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_dropconnect
    >>> check_dropconnect(lambda w, p, rng: masks.dropconnect_keep(w.shape, p, rng), max_examples=20).passed
    True
    """
    check = _BernoulliCheck(
        fn, "check_dropconnect", weights(dtypes=dtypes), mode, returns, layout, max_examples, seed, dtypes
    )
    return check.report(skip, raises)
