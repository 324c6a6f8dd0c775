"""Argument types and options the commands share.

A number flag's type is built from the :class:`~tdnumpy._validation.Interval`
the library declares for it, so the command line and the library accept the
same values; only the wording of the message is the command line's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._validation import Interval
from ..data import DATASETS, load_dataset


def flag(name: str) -> str:
    """The flag of a parameter: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def number(interval: Interval):
    """An argparse type: the text as an int or float inside ``interval``."""
    integer = interval.type is int
    if integer and interval.low == 1 and interval.high is None:
        what, outside = "a positive integer", "a positive integer (1 or more)"
    elif integer and interval.low == 0 and interval.high is None:
        what, outside = "a non-negative integer", "0 or more"
    elif integer:
        what = outside = f"an integer in {interval}"
    else:
        what, outside = "a number", f"in {interval}"

    def parse(text: str):
        try:
            value = interval.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value not in interval:
            raise argparse.ArgumentTypeError(f"must be {outside}, got {text}")
        return value

    return parse


def path(text: str) -> Path:
    """An argparse type for files and folders read or written: a path, never
    the empty string (which Path reads as ".", the current directory) and
    never one holding a NUL byte (which no file name can)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a path, got {text!r}")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a path without NUL bytes, got {text!r}")
    return Path(text)


def out_path(text: str) -> Path:
    """An argparse type for output folders: :func:`path`, said as a folder to write to."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a folder to write to, got {text!r}")
    return path(text)


def names(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated names, ``"fc1, fc2"`` -> ``("fc1", "fc2")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def add_data_arguments(
    p: argparse.ArgumentParser, dataset_help="the dataset (default: %(default)s)", dataset_default="mnist"
) -> None:
    """--dataset, --data-dir, --no-download and --mirror."""
    p.add_argument("--dataset", choices=sorted(DATASETS), default=dataset_default, help=dataset_help)
    p.add_argument(
        "--data-dir",
        type=path,
        default=None,
        help="folder holding the IDX files, directly or in a subfolder named after the dataset; "
        "searched before $TDNUMPY_DATA and the cache ~/.cache/tdnumpy",
    )
    p.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading when the files are not found"
    )
    add_mirror_argument(p)


def add_mirror_argument(p: argparse.ArgumentParser) -> None:
    """--mirror URL, repeatable."""
    p.add_argument(
        "--mirror",
        action="append",
        default=None,
        metavar="URL",
        help="download from this URL prefix instead of the public mirrors (repeatable; tried in the order given)",
    )


def load(args, name: str, validation: int = 0, log=None):
    """The dataset ``name`` as the data flags of ``args`` say to find it."""
    return load_dataset(
        name, args.data_dir, validation=validation, download=not args.no_download, mirrors=args.mirror, log=log
    )


def to_stderr(*parts) -> None:
    """Print a log line to standard error."""
    print(*parts, file=sys.stderr)
