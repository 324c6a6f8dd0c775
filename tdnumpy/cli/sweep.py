"""``tdnumpy sweep`` and ``tdnumpy reproduce``: a grid of runs from a TOML
file (:func:`~tdnumpy.experiments.sweeps.sweep`), and the shipped experiments
with their figures (:func:`~tdnumpy.experiments.reproduce.reproduce`)."""

from __future__ import annotations

from pathlib import Path

from .._validation import Interval
from ..experiments.configs import NAMES
from ..experiments.sweeps import sweep
from ._args import number, out_path, path, to_stderr


def _common(p) -> None:
    p.add_argument("--quick", action="store_true", help="the configuration's [quick] size (a minute or two)")
    p.add_argument(
        "--jobs",
        type=number(Interval(int, 1)),
        default=1,
        help="worker processes, each with one BLAS thread (default: %(default)s)",
    )
    p.add_argument(
        "--dask-scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cells on this Dask scheduler (tcp://host:8786) instead; needs "
        "pip install 'tdnumpy[dask]' and, to keep the runs, a filesystem the workers share",
    )
    p.add_argument(
        "--data-dir",
        type=path,
        default=None,
        help="folder holding the datasets' IDX files (searched before $TDNUMPY_DATA and the cache)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or log, only the final line")


def add_parser(sub) -> None:
    """The ``sweep`` and ``reproduce`` commands."""
    p = sub.add_parser(
        "sweep",
        help="train and prune a grid of runs from a TOML file into one CSV",
        description="Train every run of a sweep configuration (or reuse it if it finished before), "
        "prune it at every fraction, and write one tidy CSV. An interrupted sweep "
        "restarts where it stopped. See tdnumpy.experiments.sweep_config for the format.",
    )
    p.add_argument("config", type=path, help="the sweep configuration (TOML)")
    p.add_argument(
        "--out",
        type=out_path,
        default=None,
        help="output folder: results.csv, runs/, timings.json (default: runs/sweeps/<name>)",
    )
    _common(p)
    p.set_defaults(func=run_sweep)
    r = sub.add_parser(
        "reproduce",
        help="run a shipped experiment and draw its figures",
        description="Run one of the shipped sweep configurations and regenerate its CSV, figures and tables.",
    )
    r.add_argument("name", choices=NAMES, help="the experiment")
    r.add_argument(
        "--out",
        type=out_path,
        default=None,
        help="folder for the CSV, figures and tables (default: figures, or figures/quick with --quick)",
    )
    r.add_argument(
        "--runs", type=path, default=None, help="folder for the sweep's runs (default: runs/reproduce/<name>[-quick])"
    )
    _common(r)
    r.set_defaults(func=run_reproduce)


def run_sweep(args) -> int:
    """Run the sweep and print where its CSV is."""
    from ..experiments.sweep_config import load_sweep_config

    config = load_sweep_config(args.config, quick=args.quick)
    out = args.out or Path("runs") / "sweeps" / (config.name + ("-quick" if args.quick else ""))
    log = (lambda *a: None) if args.quiet else to_stderr
    rows = sweep(
        config,
        out,
        jobs=args.jobs,
        dask_scheduler=args.dask_scheduler,
        data_dir=args.data_dir,
        progress=False if args.quiet else None,
        log=log,
    )
    print(f"sweep {config.name}: {len(config.cells)} runs, {len(rows)} rows -> {out / 'results.csv'}")
    return 0


def run_reproduce(args) -> int:
    """Run the experiment and print the files written."""
    from ..experiments.reproduce import reproduce  # matplotlib, which other commands do not need

    out = args.out or (Path("figures") / "quick" if args.quick else Path("figures"))
    log = (lambda *a: None) if args.quiet else to_stderr
    written = reproduce(
        args.name,
        out,
        quick=args.quick,
        runs=args.runs,
        jobs=args.jobs,
        dask_scheduler=args.dask_scheduler,
        data_dir=args.data_dir,
        progress=False if args.quiet else None,
        log=log,
    )
    print(f"{args.name}: " + ", ".join(str(p) for p in written))
    return 0
