"""What a selection rule must select, by convention and scope, and how an observed selection is judged.

A selection rule (targeted dropout's targets, magnitude pruning) ranks
groups of scores: the entries of each column of W (scope ``"column"``), of a
whole matrix (``"layer"``), of several matrices together (``"global"``), or
the units of a layer by their L2 norm. :func:`weight_groups` and
:func:`unit_groups` split a problem into groups with what each must select
(:func:`~tdnumpy.testing.conventions.expected`); :func:`judge` compares an
observed selection with them and writes the message a user reads, naming the
conventions the observation would satisfy instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .. import masks
from .conventions import ROUNDINGS, TIES, Expected, count, expected
from .report import PropertyFailure

SCOPES = ("column", "layer", "global")
PRESETS = ("released",)


@dataclass(frozen=True)
class Convention:
    """The conventions an implementation claims (see :mod:`~tdnumpy.testing.conventions`).

    Parameters
    ----------
    rounding : {"floor", "round", "ceil"}
        How k comes from gamma N.
    ties : {"lower-index", "any", "strict", "inclusive"}
        How entries tied at the threshold fall.
    scope : {"column", "layer", "global"}
        What one threshold ranks (pruning of single weights; the weight
        variant of targeted dropout is per column).
    layout : {"fan_in_first", "units_first"}
        The caller's layout; lower index in a layer means lower index in C
        order of the array as the caller sees it.
    preset : {"released"} or None
        The authors' released TensorFlow code (:mod:`tdnumpy.masks.released`)
        instead of ``rounding`` and ``ties``.
    """

    rounding: str = "floor"
    ties: str = "lower-index"
    scope: str = "column"
    layout: str = "fan_in_first"
    preset: str | None = None

    def __str__(self) -> str:
        if self.preset:
            return f"preset={self.preset!r}"
        return f"rounding={self.rounding!r}, ties={self.ties!r}"


def make_convention(
    owner: str, rounding, ties, scope="column", layout="fan_in_first", preset=None, scopes=SCOPES
) -> Convention:
    """A validated :class:`Convention`.

    Parameters
    ----------
    owner : str
        The check's name, for messages.
    rounding : str
        As :class:`Convention`.
    ties : str
        As :class:`Convention`.
    scope : str, default="column"
        As :class:`Convention`.
    layout : str, default="fan_in_first"
        As :class:`Convention`.
    preset : str or None, default=None
        As :class:`Convention`.
    scopes : tuple of str
        The scopes this check accepts.

    Returns
    -------
    Convention
        The convention.

    Raises
    ------
    ValueError
        If a value is unknown, or ``preset`` is given with another rounding or ties.
    """
    for name, value, choices in (
        ("rounding", rounding, ROUNDINGS),
        ("ties", ties, TIES),
        ("scope", scope, scopes),
        ("preset", preset, PRESETS + (None,)),
    ):
        if value not in choices:
            raise ValueError(f"The {name!r} parameter of {owner} must be one of {choices}. Got {value!r} instead.")
    if preset is not None and (rounding, ties) != ("floor", "lower-index"):
        raise ValueError(
            f"The 'preset' parameter of {owner} fixes rounding and ties; leave them at their defaults. "
            f"Got rounding={rounding!r}, ties={ties!r} with preset={preset!r}."
        )
    return Convention(rounding, ties, scope, layout, preset)


@dataclass(frozen=True)
class Group:
    """One ranked group: its label, where its entries are, and what it must select.

    Parameters
    ----------
    label : str
        E.g. ``"column 3 (N=8, k=4)"``.
    index : ndarray of int
        The group's entries as flat indices into the selection being judged.
    expected : Expected
        What the group must select.
    """

    label: str
    index: np.ndarray
    expected: Expected


def weight_groups(ws: list, fraction: float, conv: Convention) -> list[Group]:
    """The groups of single-weight selection, over matrices in this library's layout.

    Flat indices run over the matrices' C-order entries (fan_in, units), one
    matrix after the other.

    Parameters
    ----------
    ws : list of ndarray of shape (fan_in, units)
        The matrices (one, except for scope ``"global"``).
    fraction : float
        gamma or the pruning fraction.
    conv : Convention
        The claimed conventions.

    Returns
    -------
    list of Group
        One per column, per matrix or one for all.
    """
    offsets = np.cumsum([0] + [w.size for w in ws])
    positions = [np.arange(w.size).reshape(w.shape) + start for w, start in zip(ws, offsets)]
    if conv.preset == "released":
        (w,) = ws
        targets = masks.tf_weight_targets(w, fraction)
        return [
            Group(f"column {o} (released rule)", positions[0][:, o], Expected(targets[:, o], targets[:, o]))
            for o in range(w.shape[1])
        ]
    scores = [np.abs(w).astype(np.float64) for w in ws]
    if conv.scope == "column":
        (w,) = ws
        k = count(w.shape[0], fraction, conv.rounding)
        return [
            Group(f"column {o} (N={w.shape[0]}, k={k})", positions[0][:, o], expected(scores[0][:, o], k, conv.ties))
            for o in range(w.shape[1])
        ]
    # one ranking over the caller's C order: (units, fan_in) when the caller's layout is transposed
    theirs = (lambda a: a.T) if conv.layout == "units_first" else (lambda a: a)
    index = np.concatenate([theirs(p).ravel() for p in positions])
    values = np.concatenate([theirs(s).ravel() for s in scores])
    k = count(len(values), fraction, conv.rounding)
    label = "the layer" if conv.scope == "layer" else f"all {len(ws)} matrices together"
    label += " (entries numbered in the C order of the arrays fn receives)"
    return [Group(f"{label}, N={len(values)}, k={k}", index, expected(values, k, conv.ties))]


def unit_groups(w: np.ndarray, fraction: float, conv: Convention) -> list[Group]:
    """The one group of unit selection: the columns of ``w`` ranked by exact L2 norm.

    Parameters
    ----------
    w : ndarray of shape (fan_in, units)
        The weight matrix.
    fraction : float
        gamma or the pruning fraction.
    conv : Convention
        The claimed conventions.

    Returns
    -------
    list of Group
        One group; its indices are unit numbers.
    """
    index = np.arange(w.shape[1])
    if conv.preset == "released":  # float32 sums: on the C-ordered copy the implementation is given
        targets = masks.tf_unit_targets(np.ascontiguousarray(w), fraction)
        return [Group("the units (released rule)", index, Expected(targets, targets))]
    k = count(w.shape[1], fraction, conv.rounding)
    return [Group(f"the units (N={w.shape[1]}, k={k})", index, expected(masks.unit_ranks(w), k, conv.ties))]


def allowed(groups: list[Group], selected: np.ndarray, known: np.ndarray) -> list[str]:
    """Each group's violations, labelled; empty when ``selected`` is allowed.

    Parameters
    ----------
    groups : list of Group
        From :func:`weight_groups` or :func:`unit_groups`.
    selected, known : ndarray of bool
        The observed selection and where it was observed, flat.

    Returns
    -------
    list of str
        One line per violation.
    """
    return [f"{g.label}: {v}" for g in groups for v in g.expected.violations(selected[g.index], known[g.index])]


def judge(
    make_groups, selected: np.ndarray, known: np.ndarray, conv: Convention, context, expected_mask, observed_mask
):
    """Raise :class:`PropertyFailure` if ``selected`` is not what ``conv`` allows.

    The message names each group's violations, shows the expected and
    observed masks side by side and lists the other conventions (rounding x
    ties) under which the observation would be allowed.

    Parameters
    ----------
    make_groups : callable
        Maps a Convention to the groups it defines.
    selected, known : ndarray of bool
        The observed selection and where it was observed, flat.
    conv : Convention
        The claimed conventions.
    context : callable
        Returns the input and arguments, for the message (called only when
        the message is shown).
    expected_mask, observed_mask : callable
        Map a flat selection back to the mask shown (e.g. (fan_in, units)).

    Raises
    ------
    PropertyFailure
        On any violation.
    """
    groups = make_groups(conv)
    problems = allowed(groups, selected, known)
    if not problems:
        return
    raise PropertyFailure(
        "\n".join(problems[:8]),
        lambda: (
            f"with {conv}; {context()}\n"
            + _hint(make_groups, groups, selected, known, conv, expected_mask, observed_mask)
        ),
    )


def _hint(make_groups, groups, selected, known, conv, expected_mask, observed_mask) -> str:
    """The conventions an observation fits, and the expected and observed masks side by side."""
    reference = np.zeros(selected.shape, bool)
    for g in groups:
        reference[g.index] = g.expected.must
    fits: dict = {}
    for c in (Convention(r, t, conv.scope, conv.layout) for r, t in itertools.product(ROUNDINGS, TIES)):
        if c != conv and not allowed(make_groups(c), selected, known):
            fits.setdefault(c.rounding, []).append(repr(c.ties))
    named = [
        f"rounding={r!r} with " + ("any ties convention" if len(t) == len(TIES) else "ties " + " or ".join(t))
        for r, t in fits.items()
    ]
    hint = (
        f"The observation is allowed under {'; '.join(named)}."
        if fits
        else "No rounding and tie convention allows it: the rule itself differs."
    )
    ambiguous = any(not g.expected.exact for g in groups)
    header = ("expected (1 = selected" + (", certain ones only)" if ambiguous else ")"), "observed")
    return f"{hint}\n{side_by_side(header, expected_mask(reference), observed_mask(selected))}"


def side_by_side(titles, left: np.ndarray, right: np.ndarray) -> str:
    """Two masks printed next to each other, 1 for True.

    Parameters
    ----------
    titles : tuple of str
        A title for each.
    left, right : ndarray of bool
        The masks, of the same shape.

    Returns
    -------
    str
        The two printouts, row by row.
    """
    a = np.array2string(left.astype(np.int8), threshold=10**6, max_line_width=200).splitlines()
    b = np.array2string(right.astype(np.int8), threshold=10**6, max_line_width=200).splitlines()
    width = max(max(len(s) for s in a), len(titles[0])) + 4
    rows = [titles[0].ljust(width) + titles[1]] + [s.ljust(width) + t for s, t in zip(a, b)]
    return "\n".join(rows)
