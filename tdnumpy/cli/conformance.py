"""``tdnumpy conformance``: check someone's implementation with the conformance kit
(:mod:`tdnumpy.testing`) and print one line per property."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from pathlib import Path

from .. import testing
from ..testing.calls import LAYOUTS, RETURNS
from ..testing.conventions import ROUNDINGS, TIES
from ..testing.dropout import MODES
from ..testing.selection import PRESETS, SCOPES
from .._validation import Interval
from ._args import number

# variant: (check, the options beyond returns, max_examples, seed, skip and dtypes it takes)
VARIANTS = {
    "targeted-weight": (testing.check_targeted_weight_dropout, ("layout", "rounding", "ties", "preset")),
    "targeted-unit": (testing.check_targeted_unit_dropout, ("layout", "rounding", "ties", "preset")),
    "dropout": (testing.check_dropout, ("mode",)),
    "dropconnect": (testing.check_dropconnect, ("layout", "mode")),
    "weight-pruning": (testing.check_weight_pruning, ("layout", "rounding", "ties", "scope")),
    "unit-pruning": (testing.check_unit_pruning, ("layout", "rounding", "ties")),
}
DTYPES = ("float16", "float32", "float64")


def add_parser(sub) -> None:
    """The ``conformance`` command."""
    p = sub.add_parser(
        "conformance",
        help="property-test an implementation against the reference",
        description="Import FUNCTION from MODULE (a module name importable from the current folder, "
        "or a path to a .py file) and run the conformance check of --variant on it. "
        "Prints one line per property with its time; exits 0 when all pass, 1 when one "
        "fails, 2 when the callable or the options cannot be checked.",
    )
    p.add_argument("target", metavar="MODULE:FUNCTION", help="e.g. mypkg.masks:targeted_dropout or ports.py:td")
    p.add_argument("--variant", required=True, choices=tuple(VARIANTS), help="which rule FUNCTION implements")
    p.add_argument(
        "--returns",
        choices=RETURNS,
        default="keep",
        help="a boolean keep-mask, or the masked array (weights / output) (default: %(default)s)",
    )
    p.add_argument(
        "--layout", choices=LAYOUTS, help="W as (fan_in, units) or as PyTorch's (out, in) (default: fan_in_first)"
    )
    p.add_argument("--rounding", choices=ROUNDINGS, help="k from gamma N (default: floor)")
    p.add_argument("--ties", choices=TIES, help="ties at the threshold (default: lower-index)")
    p.add_argument("--scope", choices=SCOPES, help="weight-pruning only: what one threshold ranks (default: column)")
    p.add_argument("--preset", choices=PRESETS, help="targeted variants: the released TensorFlow code's rule")
    p.add_argument(
        "--mode",
        choices=MODES,
        help="dropout / dropconnect: scaling of a masked result "
        "(default: inverted for dropout, classic for dropconnect)",
    )
    p.add_argument(
        "--max-examples",
        type=number(Interval(int, 1)),
        default=100,
        help="hypothesis examples per property (default: %(default)s)",
    )
    p.add_argument("--seed", type=number(Interval(int, 0)), default=0, help="seed of the check (default: %(default)s)")
    p.add_argument("--skip", default="", help="comma-separated properties to leave out")
    p.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated input dtypes (default: %(default)s)")
    p.set_defaults(func=run)


def load_callable(target: str):
    """The callable named by ``MODULE:FUNCTION``; MODULE may be a dotted name or a .py path.

    Parameters
    ----------
    target : str
        E.g. ``"mypkg.masks:td"``, ``"ports.py:td"`` or ``"m:Class.method"``.

    Returns
    -------
    callable
        The object named.

    Raises
    ------
    ValueError
        If ``target`` is malformed, the module cannot be imported or has no such attribute.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"MODULE:FUNCTION {target!r} must name a module and a function, as mypkg.masks:td.")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"MODULE {module_name!r} is not a file.")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ValueError(f"MODULE {module_name!r} cannot be loaded as a Python module.")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # as an import would: dataclasses and pickling look it up
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # as python -m does: modules of the current folder
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except Exception as error:  # a broken module (syntax error, failing import) is the user's to see in one line
        raise ValueError(f"cannot import MODULE {module_name!r}: {type(error).__name__}: {error}") from None
    found = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ValueError(f"MODULE {module_name!r} has no {attribute!r}.")
        found = getattr(found, part)
    return found


def options(args) -> dict:
    """The keyword arguments of the variant's check, refusing flags it does not take."""
    check, accepted = VARIANTS[args.variant]
    given = {
        name: getattr(args, name)
        for name in ("layout", "rounding", "ties", "scope", "preset", "mode")
        if getattr(args, name) is not None
    }
    refused = sorted(set(given) - set(accepted))
    if refused:
        raise ValueError(
            f"--{refused[0]} does not apply to --variant {args.variant} "
            f"(it takes {', '.join('--' + a for a in accepted)})."
        )
    dtypes = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise ValueError(f"--dtypes {args.dtypes!r} must be a comma-separated list of {', '.join(DTYPES)}.")
    skip = tuple(s.strip() for s in args.skip.split(",") if s.strip())
    return dict(
        given,
        returns=args.returns,
        max_examples=args.max_examples,
        seed=args.seed,
        skip=skip,
        dtypes=dtypes,
        raises=False,
    )


def run(args) -> int:
    """Run the check; print a line per property, then the failures in full."""
    check, _ = VARIANTS[args.variant]
    start = time.perf_counter()
    try:
        report = check(load_callable(args.target), **options(args))
    except (ValueError, TypeError) as error:  # misuse, told apart from a failed check by its exit code
        print(f"tdnumpy: error: {error}", file=sys.stderr)
        return 2
    for result in report.results:
        print(result.line())
    for result in report.results:
        if result.status == "fail":
            print(f"\n{result.name}:\n" + "\n".join("  " + line for line in result.message.splitlines()))
    rate = f"false-alarm rate <= {report.false_alarm:.0e}" if report.false_alarm else "no statistical properties"
    print(
        f"\n{'passed' if report.passed else 'FAILED: ' + ', '.join(report.failed)} in "
        f"{time.perf_counter() - start:.1f} s ({rate}); {report.check}"
    )
    return 0 if report.passed else 1
