"""How a conformance check runs its properties and reports them.

Each property is a function that raises :class:`PropertyFailure` with a
message a user can act on. Deterministic properties run over hypothesis
examples (:func:`for_all`), so a failure is reported on the smallest input
hypothesis finds; statistical ones run on fixed inputs. :func:`run` times
each, collects a :class:`Report` and raises :class:`ConformanceError` when
any failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .._validation import check_int


# The options and the outcome every check shares, at the end of its docstring's Parameters.
RUN_OPTIONS = """
    max_examples : int, default=100
        Hypothesis examples per deterministic property.
    seed : int, default=0
        Seeds hypothesis and the fixed inputs: a check is reproducible.
    skip : tuple of str, default=()
        Properties to leave out.
    dtypes : tuple of numpy dtypes, optional
        The input dtypes to try; float16, float32 and float64 if None.
    raises : bool, default=True
        Raise :class:`~tdnumpy.testing.report.ConformanceError` if a property
        fails; otherwise only report.

    Returns
    -------
    Report
        One result per property, with times.

    Raises
    ------
    ConformanceError
        If a property fails and ``raises`` is True.
    TypeError, ValueError
        If an option is unknown, or ``fn`` cannot take its arguments, raises
        on the first call or returns the wrong shape or dtype.
    """


class PropertyFailure(Exception):
    """Raised by a property when the implementation under test violates it.

    Its message says what was wrong, on which input, with the expected and
    observed masks. Parts that are costly to write (which other conventions
    would fit) can be passed as a function of no arguments, called only when
    the message is shown: hypothesis raises many failures while it shrinks
    an input, and shows one.

    Parameters
    ----------
    message : str
        The first lines: what was wrong.
    more : callable or None, default=None
        Returns the rest (the input, the masks), appended on a new line.
    """

    def __init__(self, message: str, more=None):
        super().__init__(message)
        self.more = more

    def __str__(self) -> str:
        message = super().__str__()
        return message if self.more is None else f"{message}\n{self.more()}"


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property.

    Parameters
    ----------
    name : str
        The property's name, e.g. ``"targets"``.
    status : {"pass", "fail", "skip"}
        The outcome; ``"skip"`` for properties left out with ``skip=`` or not
        applicable to the chosen options.
    seconds : float
        Wall-clock time taken.
    message : str
        Why it failed or was skipped; empty when it passed.
    """

    name: str
    status: str
    seconds: float
    message: str = ""

    def line(self) -> str:
        """One line: status, name and time (and the first line of the message).

        Returns
        -------
        str
            E.g. ``"pass  targets  0.41 s"``.
        """
        head = f"{self.status:4}  {self.name:<25} {self.seconds:6.2f} s"
        return head if not self.message else f"{head}  {self.message.splitlines()[0]}"


@dataclass
class Report:
    """The results of one check.

    Parameters
    ----------
    check : str
        The check's name and options, e.g. ``"check_dropout(mode='inverted')"``.
    false_alarm : float
        The bound on the probability that a correct implementation fails
        any of the statistical properties run.
    results : list of PropertyResult
        One per property, in the order run.
    """

    check: str
    false_alarm: float
    results: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether no property failed.

        Returns
        -------
        bool
            True when every property passed or was skipped.
        """
        return not self.failed

    @property
    def failed(self) -> list[str]:
        """The names of the failed properties.

        Returns
        -------
        list of str
            In the order run.
        """
        return [r.name for r in self.results if r.status == "fail"]

    def __str__(self) -> str:
        rate = (
            f"false-alarm rate of the statistical properties <= {self.false_alarm:.0e}"
            if self.false_alarm
            else "no statistical properties: a correct implementation never fails"
        )
        lines = [f"{self.check}: {'passed' if self.passed else 'FAILED ' + ', '.join(self.failed)} ({rate})"]
        lines += ["  " + r.line() for r in self.results]
        for r in self.results:
            if r.status == "fail":
                lines += ["", f"{r.name}:", *("  " + s for s in r.message.splitlines())]
        return "\n".join(lines)


class ConformanceError(AssertionError):
    """An implementation failed a conformance check.

    Parameters
    ----------
    report : Report
        The full report; ``str(error)`` shows it.
    """

    def __init__(self, report: Report):
        self.report = report
        super().__init__(str(report))


def check_run_options(owner: str, max_examples, seed, dtypes):
    """Validate the options every check takes.

    Parameters
    ----------
    owner : str
        The check's name, for messages.
    max_examples : int
        At least 1.
    seed : int
        At least 0.
    dtypes : sequence of numpy dtypes or None
        A non-empty selection of float16, float32 and float64, or None.

    Raises
    ------
    TypeError, ValueError
        Naming the option, its value and what is accepted.
    """
    check_int(max_examples, "max_examples", owner, low=1)
    check_int(seed, "seed", owner, low=0)
    if dtypes is None:
        return
    allowed = (np.float16, np.float32, np.float64)
    try:
        ok = len(dtypes) > 0 and not isinstance(dtypes, str) and all(np.dtype(d) in allowed for d in dtypes)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"The 'dtypes' parameter of {owner} must be a non-empty tuple of float16, float32 and "
            f"float64 (or None for all three). Got {dtypes!r} instead."
        )


def for_all(strategy, prop, max_examples: int, seed: int):
    """Run ``prop(example)`` on ``max_examples`` examples of ``strategy``.

    Reproducible for a given ``seed``; on failure, the :class:`PropertyFailure`
    of the smallest failing example hypothesis finds is raised.

    Parameters
    ----------
    strategy : hypothesis.strategies.SearchStrategy
        The inputs.
    prop : callable
        Raises :class:`PropertyFailure` on a violation.
    max_examples : int
        How many examples to try.
    seed : int
        The hypothesis seed.

    Raises
    ------
    PropertyFailure
        From the smallest failing example, or when a failure did not repeat
        on the same input (the implementation is then not a function of its
        arguments and the generator's state).
    """

    @hypothesis_seed(seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def run(example):
        prop(example)

    try:
        run()
    except Flaky as error:
        first = getattr(error, "exceptions", [error])[0]
        raise PropertyFailure(
            f"failed once but not when repeated on the same input: the result is not a "
            f"function of the arguments and the generator's state.\n{first}"
        ) from None


def run(check: str, properties: dict, skip, false_alarm: float, raises: bool, not_applicable=None) -> Report:
    """Run named properties in order, timing each, and report.

    Parameters
    ----------
    check : str
        The check's name and options, for the report.
    properties : dict of {str: callable}
        Name to a function of no arguments that raises :class:`PropertyFailure`.
    skip : iterable of str
        Names to leave out; each must be a key of ``properties``.
    false_alarm : float
        The check's false-alarm bound, for the report.
    raises : bool
        Raise :class:`ConformanceError` when a property fails.
    not_applicable : dict of {str: str}, optional
        Names skipped because of the options, with the reason.

    Returns
    -------
    Report
        One result per property (skipped ones included).

    Raises
    ------
    ValueError
        If ``skip`` names an unknown property.
    ConformanceError
        If ``raises`` and a property failed.
    """
    skip = (skip,) if isinstance(skip, str) else tuple(skip)
    unknown = sorted(set(skip) - set(properties) - set(not_applicable or {}))
    if unknown:
        raise ValueError(
            f"The 'skip' parameter of {check.split('(')[0]} names unknown properties {unknown}; "
            f"the properties are {sorted(properties)}."
        )
    report = Report(check, false_alarm)
    for name, prop in properties.items():
        if name in skip:
            report.results.append(PropertyResult(name, "skip", 0.0, "skipped by request"))
            continue
        if name in (not_applicable or {}):
            report.results.append(PropertyResult(name, "skip", 0.0, not_applicable[name]))
            continue
        start = time.perf_counter()
        try:
            prop()
        except PropertyFailure as failure:
            report.results.append(PropertyResult(name, "fail", time.perf_counter() - start, str(failure)))
        else:
            report.results.append(PropertyResult(name, "pass", time.perf_counter() - start))
    if raises and not report.passed:
        raise ConformanceError(report)
    return report
