"""Conformance checks of magnitude pruning (Han et al. 2015), of single weights or of whole units.

The implementation under test is a callable ``fn(w, fraction)`` returning a
keep-mask or the pruned weights; with ``scope="global"`` it takes a list of
matrices and returns a list. Pruning at fraction f removes what targeted
dropout with gamma = f and alpha = 1 drops (Gomez et al. 2019, section 3).
The properties, all deterministic and checked exactly, run unless skipped:

``targets``                  exactly the selection of the claimed conventions
                             and scope is removed;
``limits``                   f = 0 keeps everything, f = 1 removes everything;
``whole-units``              (unit pruning) a unit is kept or removed whole;
``no-rescaling``             (masked results) kept weights are returned
                             unchanged, removed ones as 0;
``nested``                   what f1 removes, any f2 >= f1 removes too;
``idempotent``               pruning the pruned weights again at f removes
                             nothing more;
``scale-invariance``         W and 2^e W are pruned alike;
``permutation-equivariance`` permuting rows and columns of W permutes the mask;
``deterministic``            twenty calls on one input give one mask (hypothesis
                             resets NumPy's global generator before every
                             example, which can hide a mask drawn from it).

With ``ties="any"`` a tie at the threshold may fall either way at each call,
so ``nested``, ``idempotent`` and ``scale-invariance`` then use tie-free
inputs; the permutation test always does (a tie-break by index is not
equivariant).
No property is statistical: a correct implementation never fails.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .._docs import shared_docstring
from .calls import Implementation
from .report import RUN_OPTIONS, PropertyFailure, check_run_options, for_all, run
from .selection import judge, make_convention, unit_groups, weight_groups
from .strategies import (
    DTYPES,
    FRACTIONS,
    SHAPES,
    distinct_matrix,
    distinct_weights,
    exact_exponents,
    fixed_dtype,
    weight_lists,
    weights,
)

_COMMON = """
    returns : {"keep", "weights", "output"}, default="keep"
        What ``fn`` returns: a boolean keep-mask (shaped like its ``w``; for
        unit pruning also one boolean per unit), or the pruned weights.
        A masked result cannot show whether a zero weight was removed; those
        entries are not judged.
    layout : {"fan_in_first", "units_first"}, default="fan_in_first"
        Whether ``fn`` takes W as (fan_in, units) or as PyTorch's (out, in).
    rounding : {"floor", "round", "ceil"}, default="floor"
        How the claimed rule computes k from f N.
    ties : {"lower-index", "any", "strict", "inclusive"}, default="lower-index"
        How the claimed rule breaks ties at the threshold.
    """


@st.composite
def _distinct_lists(draw, dtypes=None):
    """Lists of 1 to 3 matrices whose magnitudes are distinct across all of them."""
    shapes = draw(st.lists(SHAPES, min_size=1, max_size=3))
    dtype = draw(st.sampled_from(DTYPES if dtypes is None else tuple(dtypes)))
    whole = distinct_matrix(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))), (sum(a * b for a, b in shapes),), dtype
    )
    ends = np.cumsum([a * b for a, b in shapes])[:-1]
    return [part.reshape(shape) for part, shape in zip(np.split(whole, ends), shapes)]


class _PruningCheck:
    """The properties of one pruning check, bound to its options."""

    def __init__(self, fn, unit, owner, scope, returns, layout, rounding, ties, max_examples, seed, dtypes):
        scopes = ("layer",) if unit else ("column", "layer", "global")
        check_run_options(owner, max_examples, seed, dtypes)
        self.conv = make_convention(owner, rounding, ties, scope, layout, scopes=scopes)
        self.unit, self.many, self.owner = unit, scope == "global", owner
        self.impl = Implementation(
            fn, owner, ("weights" if self.many else "w", "fraction"), returns, layout, per_unit=unit
        )
        self.max_examples, self.seed, self.dtypes = max_examples, seed, dtypes
        self.inputs = weight_lists(dtypes) if self.many else weights(dtypes=dtypes)
        # tie-free inputs: a tie-break by index is not equivariant, and under "any" a tie may fall either way
        self.tie_free = _distinct_lists(dtypes) if self.many else distinct_weights(dtypes, distinct_norms=unit)
        self.any_ties_free = self.tie_free if ties == "any" else self.inputs
        first = [np.eye(4, 3, dtype=fixed_dtype(dtypes))]
        self.impl.first_call(first if self.many else first[0], 0.5)

    def as_list(self, ws):
        return ws if isinstance(ws, list) else [ws]

    def call(self, ws, fraction):
        """The observations for a list of matrices (one unless the scope is global)."""
        return self.impl.call_list(ws, fraction) if self.many else [self.impl(ws[0], fraction)]

    def removed(self, ws, fraction):
        """The flat selection removed, and where it was observed."""
        observed = self.call(ws, fraction)
        if not self.unit:
            return (
                np.concatenate([~o.keep.ravel() for o in observed]),
                np.concatenate([o.known.ravel() for o in observed]),
            )
        (obs,) = observed
        if obs.keep.ndim == 1:
            return ~obs.keep, np.ones(obs.keep.shape, bool)
        return (~obs.keep & obs.known).any(axis=0), obs.known.any(axis=0)

    def context(self, ws, fraction):
        shown = "\n".join(f"W as (fan_in, units), {w.dtype} {w.shape}:\n{np.array2string(w, precision=4)}" for w in ws)
        return f"fraction={fraction!r}, {shown}"

    def shape_of(self, ws):
        if self.unit:
            return lambda s: s.reshape(ws[0].shape[1])
        return lambda s: s.reshape(ws[0].shape) if len(ws) == 1 else s

    def groups(self, ws, fraction, conv):
        return unit_groups(ws[0], fraction, conv) if self.unit else weight_groups(ws, fraction, conv)

    def targets(self):
        def prop(example):
            ws, fraction = self.as_list(example[0]), example[1]
            removed, known = self.removed(ws, fraction)
            shape = self.shape_of(ws)
            judge(
                lambda c: self.groups(ws, fraction, c),
                removed,
                known,
                self.conv,
                lambda: self.context(ws, fraction),
                shape,
                shape,
            )

        for_all(st.tuples(self.inputs, FRACTIONS), prop, self.max_examples, self.seed)

    def limits(self):
        def prop(ws):
            ws = self.as_list(ws)
            for fraction, want in ((0.0, False), (1.0, True)):
                removed, known = self.removed(ws, fraction)
                if (removed != want)[known].any():
                    raise PropertyFailure(
                        f"{'removed' if not want else 'kept'} something at fraction={fraction}",
                        more=lambda f=fraction: self.context(ws, f),
                    )

        for_all(self.inputs, prop, self.max_examples, self.seed)

    def whole_units(self):
        def prop(example):
            ws, fraction = self.as_list(example[0]), example[1]
            (obs,) = self.call(ws, fraction)
            if obs.keep.ndim == 2 and ((~obs.keep & obs.known).any(axis=0) & (obs.keep & obs.known).any(axis=0)).any():
                raise PropertyFailure(
                    "a unit was pruned in part: a unit (column of W) must be kept or removed whole",
                    more=lambda: self.context(ws, fraction),
                )

        for_all(st.tuples(self.inputs, FRACTIONS), prop, self.max_examples, self.seed)

    def no_rescaling(self):
        def prop(example):
            ws, fraction = self.as_list(example[0]), example[1]
            for w, obs in zip(ws, self.call(ws, fraction)):
                if ((obs.values != 0) & (obs.values != w)).any():
                    raise PropertyFailure(
                        "kept weights were not returned unchanged", more=lambda: self.context(ws, fraction)
                    )

        for_all(st.tuples(self.inputs, FRACTIONS), prop, self.max_examples, self.seed)

    def nested(self):
        def prop(example):
            ws = self.as_list(example[0])
            f1, f2 = sorted(example[1:])
            (r1, k1), (r2, k2) = self.removed(ws, f1), self.removed(ws, f2)
            lost = np.flatnonzero(r1 & ~r2 & k1 & k2)
            if len(lost):
                raise PropertyFailure(
                    f"fraction {f1!r} removed entries {lost[:8].tolist()} (flat) that fraction {f2!r} keeps",
                    more=lambda: self.context(ws, f2),
                )

        for_all(st.tuples(self.any_ties_free, FRACTIONS, FRACTIONS), prop, self.max_examples, self.seed)

    def idempotent(self):
        def prop(example):
            ws, fraction = self.as_list(example[0]), example[1]
            first = self.call(ws, fraction)
            pruned = [np.where(np.broadcast_to(o.keep, w.shape), w, np.zeros((), w.dtype)) for w, o in zip(ws, first)]
            (r1, k1), (r2, k2) = self.removed(ws, fraction), self.removed(pruned, fraction)
            changed = np.flatnonzero((r1 != r2) & k1 & k2)
            if len(changed):
                raise PropertyFailure(
                    f"pruning the pruned weights again at the same fraction changed entries "
                    f"{changed[:8].tolist()} (flat)",
                    more=lambda: self.context(ws, fraction),
                )

        for_all(st.tuples(self.any_ties_free, FRACTIONS), prop, self.max_examples, self.seed)

    def scale_invariance(self):
        def prop(data):
            ws = self.as_list(data.draw(self.any_ties_free))
            fraction = data.draw(FRACTIONS)
            low, high = np.max([exact_exponents(w)[0] for w in ws]), np.min([exact_exponents(w)[1] for w in ws])
            if low > high or low == high == 0:
                return  # no exact scaling but the identity
            exponent = data.draw(st.integers(low, high).filter(lambda e: e != 0))
            scaled = [np.ldexp(w, exponent).astype(w.dtype) for w in ws]
            if not np.array_equal(self.removed(ws, fraction)[0], self.removed(scaled, fraction)[0]):
                raise PropertyFailure(
                    f"W and 2^{exponent} W were pruned differently", more=lambda: self.context(ws, fraction)
                )

        for_all(st.data(), prop, self.max_examples, self.seed)

    def permutation_equivariance(self):
        def prop(example):
            ws, fraction, seed = self.as_list(example[0]), example[1], example[2]
            rng = np.random.default_rng(seed)
            perms = [(rng.permutation(w.shape[0]), rng.permutation(w.shape[1])) for w in ws]
            base = [np.broadcast_to(o.keep, w.shape) for w, o in zip(ws, self.call(ws, fraction))]
            permuted = self.call([w[r][:, c] for w, (r, c) in zip(ws, perms)], fraction)
            for b, o, (r, c) in zip(base, permuted, perms):
                if not np.array_equal(np.broadcast_to(o.keep, b.shape), b[r][:, c]):
                    raise PropertyFailure(
                        f"permuting rows {r.tolist()} and columns {c.tolist()} did not permute "
                        f"the mask (distinct magnitudes and norms)",
                        more=lambda: self.context(ws, fraction),
                    )

        for_all(st.tuples(self.tie_free, FRACTIONS, st.integers(0, 2**32 - 1)), prop, self.max_examples, self.seed)

    def deterministic(self):
        """Twenty calls on each of a few tie-free inputs give one mask (pruning draws nothing)."""
        rng = np.random.default_rng(self.seed)
        for fraction in (0.25, 0.5, 0.9):
            ws = [distinct_matrix(rng, (12, 6), fixed_dtype(self.dtypes)) for _ in range(2 if self.many else 1)]
            first = self.removed(ws, fraction)[0]
            for _ in range(19):
                if not np.array_equal(self.removed(ws, fraction)[0], first):
                    raise PropertyFailure(
                        f"two calls on the same input at fraction {fraction} pruned differently: "
                        f"pruning must be a function of its arguments",
                        more=lambda f=fraction, w=ws: self.context(w, f),
                    )

    def report(self, skip, raises):
        properties = {
            "targets": self.targets,
            "limits": self.limits,
            "whole-units": self.whole_units,
            "no-rescaling": self.no_rescaling,
            "nested": self.nested,
            "idempotent": self.idempotent,
            "scale-invariance": self.scale_invariance,
            "permutation-equivariance": self.permutation_equivariance,
            "deterministic": self.deterministic,
        }
        not_applicable = {} if self.unit else {"whole-units": "weight pruning"}
        if not self.impl.masked:
            not_applicable["no-rescaling"] = "returns='keep'"
        scope = "" if self.unit else f", scope={self.conv.scope!r}"
        title = (
            f"{self.owner}({self.impl.name}, returns={self.impl.returns!r}, layout={self.conv.layout!r}, "
            f"{self.conv}{scope})"
        )
        return run(title, properties, skip, 0.0, raises, not_applicable)


@shared_docstring(common=_COMMON, run_options=RUN_OPTIONS)
def check_weight_pruning(
    fn,
    *,
    scope="column",
    returns="keep",
    layout="fan_in_first",
    rounding="floor",
    ties="lower-index",
    max_examples=100,
    seed=0,
    skip=(),
    dtypes=None,
    raises=True,
):
    """Check ``fn(w, fraction)`` against magnitude pruning of single weights.

    At fraction f the k = floor(f N) weights of smallest |W| are removed,
    N counted per column (``scope="column"``, this library's
    :func:`~tdnumpy.masks.weight_prune_keep` and targeted dropout's rule), per
    matrix (``"layer"``, :func:`~tdnumpy.masks.magnitude_prune_keep`,
    ``torch.nn.utils.prune.l1_unstructured``) or over several matrices
    (``"global"``, :func:`~tdnumpy.masks.global_prune_keep`; ``fn`` then
    takes and returns lists). Han et al. (2015); Gomez et al. (2019),
    section 3. The properties are listed in :mod:`tdnumpy.testing.pruning`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(w, fraction)``, or ``fn([w_1, ...], fraction)``
        for the global scope.
    scope : {"column", "layer", "global"}, default="column"
        What one threshold ranks. In a layer, lower index means lower index
        in C order of the array as ``fn`` receives it.
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_weight_pruning
    >>> check_weight_pruning(masks.magnitude_prune_keep, scope="layer", max_examples=20).passed
    True
    """
    check = _PruningCheck(
        fn, False, "check_weight_pruning", scope, returns, layout, rounding, ties, max_examples, seed, dtypes
    )
    return check.report(skip, raises)


@shared_docstring(common=_COMMON, run_options=RUN_OPTIONS)
def check_unit_pruning(
    fn,
    *,
    returns="keep",
    layout="fan_in_first",
    rounding="floor",
    ties="lower-index",
    max_examples=100,
    seed=0,
    skip=(),
    dtypes=None,
    raises=True,
):
    """Check ``fn(w, fraction)`` against unit pruning: the k = floor(f N_col) columns of smallest L2 norm removed.

    Units are ranked by the exact norm of their weight column (ties, here
    exact, by the convention). Gomez et al. (2019), section 3; this library's
    :func:`~tdnumpy.masks.unit_prune_keep`. The properties are listed in
    :mod:`tdnumpy.testing.pruning`.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(w, fraction)``, returning one boolean per
        unit, a keep-mask shaped like its ``w`` or the pruned weights.
    {{common}}
    {{run_options}}

    Examples
    --------
    >>> from tdnumpy import masks
    >>> from tdnumpy.testing import check_unit_pruning
    >>> check_unit_pruning(masks.unit_prune_keep, max_examples=20).passed
    True
    """
    check = _PruningCheck(
        fn, True, "check_unit_pruning", "layer", returns, layout, rounding, ties, max_examples, seed, dtypes
    )
    return check.report(skip, raises)
