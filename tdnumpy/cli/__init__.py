"""The ``tdnumpy`` command: one module per command, each of which parses its
flags, builds what the library takes, calls it and prints.

    train          train.py     RunConfig -> train_run
    evaluate       evaluate.py  load_run -> Run.evaluate
    prune          prune.py     load_run -> prune_run
    export-sparse  export.py    tdnumpy.pruning.sparse.export_model
    data           data.py      tdnumpy.data.locate
    bench          bench.py     tdnumpy.experiments.bench
    conformance    conformance.py  tdnumpy.testing (the conformance kit)
    sweep          sweep.py     tdnumpy.experiments.sweeps.sweep
    reproduce      sweep.py     tdnumpy.experiments.reproduce.reproduce

Errors meant for the user end the command with ``tdnumpy: error: ...`` and
exit code 1 (2 for a malformed flag); ``TDNUMPY_DEBUG=1`` shows the traceback.
A library error that names parameters (:class:`~tdnumpy._validation.ParameterError`)
is printed with their flags (``batch_size`` as ``--batch-size``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from .. import __version__
from .._validation import ParameterError
from ..data import DataNotFoundError, IDXError
from ..data.download import DownloadError
from ..experiments.sweeps import SweepError
from ..training.checkpoint import CheckpointError
from ..training.fit import TrainingDiverged
from . import bench, conformance, data, evaluate, export, prune, sweep, train
from ._args import flag

COMMANDS = (train, evaluate, prune, export, data, bench, conformance, sweep)

# Errors that carry a message meant for the user; set TDNUMPY_DEBUG=1 to see the traceback.
EXPECTED_ERRORS = (
    DataNotFoundError,
    DownloadError,
    IDXError,
    CheckpointError,
    TrainingDiverged,
    SweepError,
    OSError,
    ValueError,
    TypeError,
)


class _Parser(argparse.ArgumentParser):
    """argparse, reading "-1e-9" as a (negative) number like "-1" and "-0.5".

    argparse takes an argument starting with "-" for a flag unless it matches
    its negative-number pattern, which has no exponent: ``--weight-decay
    -1e-9`` then failed with "expected one argument" instead of saying that
    the value must be 0 or more. Nested parsers are made of the same class.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    parser = _Parser(
        prog="tdnumpy",
        description="Targeted dropout and its relatives in plain NumPy: train, evaluate, prune, benchmark, "
        "check other implementations.",
    )
    parser.add_argument("--version", action="version", version=f"tdnumpy {__version__}")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="{train,evaluate,prune,export-sparse,data,bench,conformance,sweep,reproduce}",
    )
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run the command ``argv`` (default: the process's arguments); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EXPECTED_ERRORS as e:
        if os.environ.get("TDNUMPY_DEBUG"):
            raise
        message = e.spelled(flag) if isinstance(e, ParameterError) else str(e)
        print(f"tdnumpy: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tdnumpy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
