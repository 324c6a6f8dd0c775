"""The shipped experiments: :func:`reproduce` runs one of :data:`CONFIGS`
(:mod:`tdnumpy.experiments.configs`, one TOML file each) and draws its
figures and tables from its results.

Each writes ``<name>.csv`` (the sweep's ``results.csv``) and its figures
(``.png``) and tables (``.md``) into one folder, ``figures/`` by default; the
runs themselves go to ``runs/reproduce/<name>`` (``<name>-quick`` with
``quick``), where a second call finds them and only draws again.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, output_folder
from ..data import to_inputs
from . import figures, pictures
from .configs import NAMES, config_path
from .dependence import dependence
from .runs import load_run
from .sweep_config import SweepConfig, load_sweep_config
from .sweeps import call_in_worker, sweep

CONFIGS = NAMES
# Han et al. (2015), Table 1: top-1 error before and after pruning, weights, compression.
HAN_TABLE_1 = {
    "lenet300": {"error_before": 1.64, "error_after": 1.59, "parameters": "267K", "left": "22K", "compression": 12},
    "lenet5": {"error_before": 0.80, "error_after": 0.77, "parameters": "431K", "left": "36K", "compression": 12},
}
DEPENDENCE_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 0.9)
# The (prune entry, fraction) columns of the accuracy tables: the README's 0 / 90 / 99% weight and
# 0 / 50 / 80% unit sparsity (LeNet-5's unit fractions stop at 75% and 90%, so 75% there).
MLP_COLUMNS = (("weight", "0"), ("weight", "0.9"), ("weight", "0.99"), ("unit", "0"), ("unit", "0.5"), ("unit", "0.8"))
LENET5_COLUMNS = MLP_COLUMNS[:5] + (("unit", "0.75"),)


def reproduce(
    name: str,
    out="figures",
    *,
    quick: bool = False,
    runs=None,
    jobs: int = 1,
    dask_scheduler: str | None = None,
    data_dir=None,
    progress: bool | None = None,
    log=None,
) -> list[Path]:
    """Run a shipped configuration and regenerate its figures and tables.

    Parameters
    ----------
    name : str
        One of :data:`CONFIGS` (:data:`tdnumpy.experiments.configs.NAMES`).
    out : str or os.PathLike
        The folder for the CSV, figures and tables.
    quick : bool
        The configuration's quick size (a minute or two; for CI).
    runs : str, os.PathLike or None
        The sweep's folder (None: ``runs/reproduce/<name>[-quick]``).
    jobs : int
        Worker processes (see :func:`tdnumpy.experiments.sweeps.sweep`).
    dask_scheduler : str or None
        A Dask scheduler's address to run the cells on instead.
    data_dir : str, os.PathLike or None
        Where the IDX files are; None for the usual look-up.
    progress : bool or None
        Show a progress bar; None: only on a terminal.
    log : callable or None
        Called with each line of the log.

    Returns
    -------
    list of Path
        The files written into ``out``.
    """
    log = log or (lambda line: None)
    config = load_sweep_config(config_path(name), quick=quick)
    folder = output_folder(out)
    runs = Path(runs) if runs is not None else Path("runs") / "reproduce" / (name + ("-quick" if quick else ""))
    sweep(config, runs, jobs=jobs, dask_scheduler=dask_scheduler, data_dir=data_dir, progress=progress, log=log)
    written = [folder / f"{name}.csv"]
    atomic_write_bytes(written[0], (runs / "results.csv").read_bytes())
    rows = figures.read_results(written[0])
    written += DRAW[name](config, rows, folder, runs / "runs", data_dir)
    for path in written:
        log(f"wrote {path}")
    return written


def _curves(config: SweepConfig, rows, folder: Path, runs: Path, data_dir, table_columns) -> list[Path]:
    png = figures.save_figure(figures.accuracy_vs_sparsity(rows, config.title), folder / f"{config.name}.png")
    table = folder / f"{config.name}.md"
    atomic_write_bytes(table, figures.sparsity_table(rows, table_columns).encode())
    return [png, table]


def _mlp(config, rows, folder, runs, data_dir) -> list[Path]:
    return _curves(config, rows, folder, runs, data_dir, MLP_COLUMNS)


def _lenet5(config, rows, folder, runs, data_dir) -> list[Path]:
    return _curves(config, rows, folder, runs, data_dir, LENET5_COLUMNS)


def _td_mnist_mlp(config, rows, folder, runs, data_dir) -> list[Path]:
    """The curves, then pictures and the dependence analysis of the first seed's networks."""
    written = _mlp(config, rows, folder, runs, data_dir)
    first = {c.variant: c for c in reversed(config.cells)}  # each variant's first cell
    loaded = {label: load_run(runs / first[label].name) for label in ("none", "td-weight", "td-unit", "td-ramp")}
    written.append(figures.save_figure(pictures.weight_histograms(loaded), folder / f"{config.name}-weights.png"))
    units = {k: loaded[k] for k in ("none", "td-unit")}
    written.append(figures.save_figure(pictures.unit_images(units), folder / f"{config.name}-units.png"))
    found = []
    for label in ("none", "td-weight"):
        folder_of_run = str(runs / first[label].name)
        found += [{"network": label, **row} for row in call_in_worker(dependence_rows, folder_of_run, data_dir)]
    written.append(_write_rows(folder / f"{config.name}-dependence.csv", found))
    written.append(figures.save_figure(pictures.dependence_plot(found), folder / f"{config.name}-dependence.png"))
    return written


def dependence_rows(run_folder: str, data_dir) -> list[dict]:
    """The dependence analysis of a saved run on its first 10,000 training images.

    Parameters
    ----------
    run_folder : str
        The run's folder.
    data_dir : str or None
        Where the IDX files are.

    Returns
    -------
    list of dict
        :func:`tdnumpy.experiments.dependence.dependence` rows at
        :data:`DEPENDENCE_FRACTIONS`, each with ``images`` (how many were used).
    """
    run = load_run(run_folder)
    data = run.dataset(data_dir)
    n = min(10_000, len(data.train))
    x = to_inputs(data.train.images[:n], run.model.input_shape, np.float64)
    return [{"images": n, **row} for row in dependence(run.model, x, data.train.labels[:n], DEPENDENCE_FRACTIONS)]


def _gamma_alpha(config, rows, folder, runs, data_dir) -> list[Path]:
    return [figures.save_figure(figures.heat_map(rows, "0.9", config.title), folder / f"{config.name}.png")]


def _dropconnect(config, rows, folder, runs, data_dir) -> list[Path]:
    table = folder / f"{config.name}.md"
    atomic_write_bytes(table, figures.error_table(rows).encode())
    return [table]


def _han(config, rows, folder, runs, data_dir) -> list[Path]:
    lines = [
        "| network | error before (ours / Han) | error after (ours / Han) | weights and biases | "
        "left after pruning (ours / Han) | compression (ours / Han) |",
        "|" + " --- |" * 6,
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        before = next(r for r in mine if r["prune"] == "unpruned")
        after = [r for r in mine if r["prune"] == "han"][-1]
        han = HAN_TABLE_1.get(model, {})
        left, total = int(after["parameters_left"]), int(after["parameters"])
        lines.append(
            f"| {model} | {100 * (1 - float(before['test_accuracy'])):.2f}% / {han.get('error_before')}% "
            f"| {100 * (1 - float(after['test_accuracy'])):.2f}% / {han.get('error_after')}% "
            f"| {total:,} / {han.get('parameters')} | {left:,} / {han.get('left')} "
            f"| {total / left:.1f}x / {han.get('compression')}x |"
        )
    table = folder / f"{config.name}.md"
    atomic_write_bytes(table, ("\n".join(lines) + "\n").encode())
    return [table]


def _write_rows(path: Path, rows: list[dict]) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    atomic_write_bytes(path, text.getvalue().encode())
    return path


DRAW = {
    "td-mnist-mlp": _td_mnist_mlp,
    "td-mnist-lenet5": _lenet5,
    "td-fashion-mlp": _mlp,
    "han-lenet": _han,
    "gamma-alpha": _gamma_alpha,
    "dropconnect-vs-dropout": _dropconnect,
}
