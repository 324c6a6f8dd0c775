"""Calling the implementation under test and reading what it returned.

The kit works in this library's layout, W of shape (fan_in, units), and with
keep-masks. :class:`Implementation` turns each call into the user's terms
(their layout, their arguments), checks what comes back (an ndarray of the
right shape and dtype, the input left unchanged) and reads it back as an
:class:`Observed` keep-mask. Misuse (a callable that cannot take the
arguments, a result of the wrong shape or dtype) raises ``TypeError`` or
``ValueError`` at once; a wrong *value* is a property's business.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .report import PropertyFailure

RETURNS = ("keep", "weights", "output")
LAYOUTS = ("fan_in_first", "units_first")


class UsageError(ValueError):
    """The implementation cannot be checked as configured (shape, dtype, signature)."""


class UsageTypeError(TypeError):
    """The implementation returned the wrong type or dtype, or takes the wrong arguments."""


@dataclass(frozen=True)
class Observed:
    """A result read back as a keep-mask in this library's layout.

    Parameters
    ----------
    keep : ndarray of bool
        True where kept: (fan_in, units) or the input's shape; (units,) for a
        unit mask returned one boolean per unit.
    known : ndarray of bool, shaped like ``keep``
        Where ``keep`` could be observed: everywhere for a returned mask; for
        a returned masked array, where the input is non-zero (a zero input
        reads 0 whether dropped or not).
    values : ndarray or None
        The masked array returned, in this library's layout; None for a mask.
    """

    keep: np.ndarray
    known: np.ndarray
    values: np.ndarray | None


def describe(array: np.ndarray) -> str:
    """An array for a failure message: dtype, shape and values.

    Parameters
    ----------
    array : ndarray
        Any array.

    Returns
    -------
    str
        Its values (NumPy's print, one line per row) after a header line.
    """
    if array.dtype == np.bool_:
        body = np.array2string(array.astype(np.int8), separator=" ", threshold=400)
    else:
        body = np.array2string(array, separator=", ", threshold=400, precision=4)
    return f"{array.dtype} {array.shape}\n{body}"


class Implementation:
    """The callable under test, with its layout and what it returns.

    Parameters
    ----------
    fn : callable
        The implementation.
    owner : str
        The check's name, for messages.
    arguments : tuple of str
        The names of the positional arguments the check passes, e.g.
        ``("w", "gamma", "alpha", "rng")``.
    returns : {"keep", "weights", "output"}
        A boolean keep-mask, or the masked array ("weights" and "output" are
        the same: the array the implementation computes).
    layout : {"fan_in_first", "units_first"}
        Whether ``fn`` takes W as (fan_in, units) or transposed (PyTorch's (out, in)).
    per_unit : bool, default=False
        Whether a (units,) keep-mask is also an accepted result.
    """

    def __init__(self, fn, owner: str, arguments: tuple, returns: str, layout: str, per_unit: bool = False):
        if not callable(fn):
            raise TypeError(f"The 'fn' parameter of {owner} must be callable. Got {type(fn).__name__} instead.")
        for name, value, choices in (("returns", returns, RETURNS), ("layout", layout, LAYOUTS)):
            if value not in choices:
                raise ValueError(f"The {name!r} parameter of {owner} must be one of {choices}. Got {value!r} instead.")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have none: their first call tells
            signature = None
        if signature is not None:
            try:
                signature.bind(*arguments)
            except TypeError as error:
                raise UsageTypeError(
                    f"The 'fn' parameter of {owner} must accept ({', '.join(arguments)}) "
                    f"positionally; {getattr(fn, '__name__', fn)!s}{signature} does not "
                    f"({error})."
                ) from None
        self.fn, self.owner, self.returns, self.layout, self.per_unit = fn, owner, returns, layout, per_unit
        self.argument = arguments[0]
        self.masked = returns != "keep"
        self.name = getattr(fn, "__qualname__", repr(fn))
        self.first = True  # an exception on the first call is misuse, not a finding

    def _to_theirs(self, w: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(w.T) if self.layout == "units_first" and w.ndim == 2 else w.copy()

    def _to_ours(self, array: np.ndarray) -> np.ndarray:
        return array.T if self.layout == "units_first" and array.ndim == 2 else array

    def __call__(self, w: np.ndarray, *args) -> Observed:
        """Call ``fn(w, *args)`` in its layout and read the result back.

        Parameters
        ----------
        w : ndarray
            The weight matrix (fan_in, units) or the activations, in this library's layout.
        *args
            The other arguments (gamma, alpha, rng; p, rng; fraction).

        Returns
        -------
        Observed
            The result as a keep-mask.
        """
        theirs = self._to_theirs(w)
        result = self._invoke(
            theirs, args, lambda: f"{self.argument} = {describe(theirs)} (as {self.name} receives it)"
        )
        return self._read(w, theirs, result)

    def first_call(self, w: np.ndarray, *args):
        """Call ``fn`` once on a simple input, so that misuse shows before any property runs.

        Usage errors (the wrong signature, result type, shape or dtype, or an
        exception on this very call) are raised; a wrong result or a modified
        input is left for the properties to find and report.

        Parameters
        ----------
        w : ndarray
            The input (a list of matrices for the global scope), in this library's layout.
        *args
            The other arguments.

        Raises
        ------
        TypeError, ValueError
            On misuse.
        """
        try:
            self.call_list(w, *args) if isinstance(w, list) else self(w, *args)
        except PropertyFailure:
            pass

    def check_uses_rng(self, w: np.ndarray, *args):
        """Raise :class:`PropertyFailure` unless the mask is a function of the generator's state.

        ``fn(w, *args, rng)`` must give equal masks for two generators seeded
        1, and generators seeded 2, 3 and 4 must not all give the mask of
        seed 1. A correct implementation that drops each of m elements with
        probability p fails the second test with probability at most
        (p^2 + (1 - p)^2)^(3m), below 2^-70 for the kit's fixed inputs (m >= 24
        at p = 1/2).

        Parameters
        ----------
        w : ndarray
            The input, in this library's layout.
        *args
            The arguments between the input and the generator.

        Raises
        ------
        PropertyFailure
            If either does not hold.
        """
        first, again, *others = (self(w, *args, np.random.default_rng(s)).keep for s in (1, 1, 2, 3, 4))
        if not np.array_equal(first, again):
            raise PropertyFailure(
                "two generators in the same state gave different masks: the mask must come from the rng argument only"
            )
        if all(np.array_equal(first, other) for other in others):
            raise PropertyFailure(
                "generators seeded 1, 2, 3 and 4 gave the same mask: the mask ignores the rng argument"
            )

    def call_list(self, ws: list, *args) -> list[Observed]:
        """Call ``fn([w_1, ...], *args)`` (global pruning) and read each result back.

        Parameters
        ----------
        ws : list of ndarray
            The weight matrices, in this library's layout.
        *args
            The other arguments.

        Returns
        -------
        list of Observed
            One per matrix.
        """
        theirs = [self._to_theirs(w) for w in ws]
        results = self._invoke(theirs, args, lambda: "weights = " + "\n".join(describe(w) for w in theirs))
        if not isinstance(results, (list, tuple)) or len(results) != len(ws):
            raise UsageTypeError(
                f"{self.name} must return a list of {len(ws)} arrays when given {len(ws)} "
                f"matrices (scope='global'). Got {type(results).__name__} instead."
            )
        return [self._read(w, t, r) for w, t, r in zip(ws, theirs, results)]

    def _invoke(self, theirs, args, shown):
        """``fn(theirs, *args)``, its exceptions and changes to its input reported with ``shown()``."""
        before = [a.copy() for a in theirs] if isinstance(theirs, list) else theirs.copy()
        try:
            result = self.fn(theirs, *args)
        except Exception as error:  # the implementation's own failure is a finding, not a crash of the kit
            if self.first:
                raise UsageError(
                    f"{self.name} raised {type(error).__name__}: {error} on the first call of "
                    f"{self.owner}, with {shown()}\nand arguments {args}; check the options "
                    f"(layout, scope, returns) against what it expects."
                ) from error
            raise PropertyFailure(
                f"{self.name} raised {type(error).__name__}: {error}",
                more=lambda: f"with {shown()}\nand arguments {args}",
            ) from None
        self.first = False
        pairs = zip(before, theirs) if isinstance(theirs, list) else [(before, theirs)]
        for old, new in pairs:
            if not (np.array_equal(old, new) and np.array_equal(np.signbit(old), np.signbit(new))):
                raise PropertyFailure(f"{self.name} modified its input array", more=shown)
        return result

    def _read(self, w: np.ndarray, theirs: np.ndarray, result) -> Observed:
        if not isinstance(result, np.ndarray):
            raise UsageTypeError(
                f"{self.name} must return a NumPy array (convert tensors with .numpy()). "
                f"Got {type(result).__name__} instead."
            )
        shapes = [theirs.shape] + ([(w.shape[1],)] if self.per_unit and not self.masked else [])
        if result.shape not in shapes:
            hint = " (check the 'layout' option)" if result.shape == theirs.shape[::-1] and w.ndim == 2 else ""
            raise UsageError(
                f"{self.name} returned shape {result.shape} for an input of shape {theirs.shape}; "
                f"with layout={self.layout!r} and returns={self.returns!r} the kit accepts "
                f"{' or '.join(map(str, shapes))}{hint}."
            )
        if not self.masked and result.dtype != np.bool_:
            raise UsageTypeError(
                f"{self.name} returned dtype {result.dtype}; with returns='keep' it must return "
                f"a boolean keep-mask (use returns={'output' if w.ndim != 2 else 'weights'!r} if it "
                f"returns the masked array)."
            )
        if self.masked and result.dtype != theirs.dtype:
            raise UsageTypeError(
                f"{self.name} returned dtype {result.dtype} for a {theirs.dtype} input; with "
                f"returns={self.returns!r} it must return the masked array in the input's dtype."
            )
        if not self.masked:
            keep = self._to_ours(result)
            return Observed(keep, np.ones(keep.shape, bool), None)
        values = self._to_ours(result)
        return Observed(values != 0, w != 0, values)
