"""``tdnumpy data fetch`` and ``tdnumpy data where``: find, download and verify a dataset."""

from __future__ import annotations


from ..data import DATASETS, locate
from ._args import add_mirror_argument, path, to_stderr


def add_parser(sub) -> None:
    """The ``data`` command and its ``fetch`` and ``where`` subcommands."""
    p = sub.add_parser(
        "data", help="find or download datasets", description="Find, download and verify the IDX files of a dataset."
    )
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="{fetch,where}")
    fetch = data_sub.add_parser(
        "fetch",
        help="download a dataset into the cache (verified by SHA-256)",
        description="Download the four IDX files into ~/.cache/tdnumpy/<dataset>, "
        "unless they are already found, and verify them.",
    )
    fetch.add_argument("dataset", choices=sorted(DATASETS), help="the dataset")
    fetch.add_argument("--data-dir", type=path, default=None, help="look here first, as 'train' does")
    add_mirror_argument(fetch)
    fetch.set_defaults(func=run_fetch)
    where = data_sub.add_parser(
        "where",
        help="print where each file of a dataset was found",
        description="Print the path of each file, without downloading.",
    )
    where.add_argument("dataset", choices=sorted(DATASETS), help="the dataset")
    where.add_argument("--data-dir", type=path, default=None, help="look here first, as 'train' does")
    where.set_defaults(func=run_where)


def run_fetch(args) -> int:
    """Download (unless found) and verify; print each file's path."""
    for stem, found in locate(args.dataset, args.data_dir, mirrors=args.mirror, log=to_stderr).items():
        print(f"{stem}: {found} (SHA-256 verified)")
    return 0


def run_where(args) -> int:
    """Print each file's path, without downloading."""
    for stem, found in locate(args.dataset, args.data_dir, download=False, log=to_stderr).items():
        print(f"{stem}: {found}")
    return 0
