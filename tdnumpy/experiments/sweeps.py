"""Running a sweep: :func:`sweep` trains every cell of a
:class:`~tdnumpy.experiments.sweep_config.SweepConfig` (or reuses its finished
run), prunes it at every fraction and writes one tidy CSV.

The output folder holds

- ``results.csv``: one row per cell x evaluation setting x prune entry x
  fraction, in the order of the config (variants, then grid values in the
  order given), whatever order the cells finished in;
- ``runs/<cell>/``: each run's ``checkpoint.npz`` and ``metrics.json``, and
  ``rows-<key>.json``, the cell's rows, written atomically when the cell is
  done. A restarted sweep skips every cell whose rows file exists, reuses
  every finished run, and loses nothing but the cells in progress;
- ``timings.json``: seconds per cell and in all, the machine and the jobs
  (kept out of the CSV, which holds only what the seeds determine);
- ``.sweep.lock`` while a sweep runs: a second sweep into the same folder is
  refused; the lock of a killed sweep, whose process is gone, is taken over.

A cell that fails (a diverging run, say) is named at the end, in a
:class:`SweepError`, after every other cell has run; a rerun tries it again.

Cells run in worker processes, each with one BLAS thread: the float sums of
a matrix product depend on how many threads share it, so fixing one makes
the CSV the same whether cells run one at a time, with ``jobs=2``, or on a
Dask cluster (``dask_scheduler``; Dask's nanny starts workers with one BLAS
thread). The local pool is :class:`concurrent.futures.ProcessPoolExecutor`;
the cluster is :mod:`dask.distributed`, an optional extra (``pip install
tdnumpy[dask]``).
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import multiprocessing
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm.auto import tqdm

from .._io import atomic_write_bytes, atomic_write_json, output_folder
from .._validation import Interval, ParameterError, check_bool, check_path
from ..data import load_dataset
from .build import gradual_pruning
from .config import _skeleton
from .prune_runs import amount_label, prune_run
from .runs import Run, load_run, train_run
from .sweep_config import Cell, SweepConfig, SweepConfigError, load_sweep_config

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
JOBS = Interval(int, 1)


class SweepError(RuntimeError):
    """Some cells of a sweep failed; the message names each and its error."""


RESULT_COLUMNS = (
    "prune",
    "kind",
    "step",
    "fraction",
    "retrain_epochs",
    "sparsity",
    "test_accuracy",
    "test_loss",
    "parameters_left",
    "parameters",
    "compressed_bytes",
)


def sweep(
    config,
    out,
    *,
    jobs: int = 1,
    dask_scheduler: str | None = None,
    quick: bool = False,
    data_dir=None,
    progress: bool | None = None,
    log=None,
) -> list[dict]:
    """Run a sweep, resuming where an earlier one into ``out`` stopped.

    Parameters
    ----------
    config : SweepConfig, str or os.PathLike
        The sweep, or its TOML file.
    out : str or os.PathLike
        The output folder (``results.csv``, ``runs/``, ``timings.json``).
    jobs : int
        Worker processes on this machine, >= 1.
    dask_scheduler : str or None
        The address of a Dask scheduler (``tcp://host:8786``) to run the cells
        on instead; ``jobs`` is then ignored. The workers must see ``out``
        and the data (a shared filesystem) to keep and reuse the runs.
    quick : bool
        With a file: apply its ``[quick]`` section.
    data_dir : str, os.PathLike or None
        Where the IDX files are (see :func:`tdnumpy.data.load_dataset`); None
        for the usual look-up. Every dataset is located before anything trains.
    progress : bool or None
        Show a progress bar of cells done and time left; None: only on a terminal.
    log : callable or None
        Called with each line of the log.

    Returns
    -------
    list of dict
        The rows of ``results.csv``, as text.
    """
    log = log or (lambda line: None)
    if not isinstance(config, SweepConfig):
        config = load_sweep_config(check_path(config, "config", "sweep"), quick=check_bool(quick, "quick", "sweep"))
    out = check_path(out, "out", "sweep")
    jobs = JOBS.check(jobs, "jobs", "sweep")
    if dask_scheduler is not None and not isinstance(dask_scheduler, str):
        raise TypeError(f"The 'dask_scheduler' parameter of sweep must be an address string. Got {dask_scheduler!r}.")
    folder = output_folder(out)
    runs = output_folder(folder / "runs")
    data_dir = None if data_dir is None else str(check_path(data_dir, "data_dir", "sweep").resolve())
    _check_against_data(config, data_dir)  # fails now, not after hours of training
    with _only_sweep_in(folder):
        return _run(config, folder, runs, jobs, dask_scheduler, data_dir, progress, log)


def _run(config: SweepConfig, folder: Path, runs: Path, jobs: int, dask_scheduler, data_dir, progress, log):
    """The body of :func:`sweep`, once the folder is this sweep's alone."""
    _remove_temporaries(folder)
    results, todo = {}, []
    for cell in config.cells:
        rows = _finished_rows(runs / cell.name / f"rows-{cell.key}.json")
        if rows is None:
            todo.append(cell)
        else:
            results[cell.index] = rows
    log(f"sweep {config.name}: {len(config.cells)} runs, {len(results)} done before, {len(todo)} to do -> {folder}")
    timings = _read_timings(folder / "timings.json")
    start = time.perf_counter()
    bar = _progress_bar(len(config.cells), len(results), progress)
    failed = []
    try:
        for cell, outcome in _execute(todo, runs, data_dir, jobs, dask_scheduler):
            if isinstance(outcome, Exception):  # the other cells go on; a rerun tries this one again
                failed.append(f"{cell.name}: {type(outcome).__name__}: {outcome}")
                log(f"  {failed[-1]}")
                continue
            _, rows, seconds = outcome
            atomic_write_json(runs / cell.name / f"rows-{cell.key}.json", {"key": cell.key, "rows": rows})
            results[cell.index] = rows
            timings["cells"][cell.name] = {**seconds, "jobs": None if dask_scheduler else jobs}
            atomic_write_json(folder / "timings.json", timings)
            _write_csv(folder / "results.csv", config, results)
            bar.update(1)
            log(f"  {cell.name}: {seconds['train'] + seconds['prune']:.1f} s")
    finally:
        bar.close()
    if todo:  # a sweep that only reads finished cells leaves the record of those who ran them
        timings["seconds"] = timings.get("seconds", 0.0) + time.perf_counter() - start
        timings.update(jobs=None if dask_scheduler else jobs, dask_scheduler=dask_scheduler, machine=machine())
        atomic_write_json(folder / "timings.json", timings)
    rows = _write_csv(folder / "results.csv", config, results)
    if failed:
        raise SweepError(
            f"sweep {config.name}: {len(failed)} of {len(config.cells)} runs failed (the others are in "
            f"{folder / 'results.csv'}; run the sweep again to retry them): " + "; ".join(failed)
        )
    return rows


def _check_against_data(config: SweepConfig, data_dir) -> None:
    """Locate every dataset (downloading it if needed) and refuse what needs its
    size: held-out images beyond the training set, a gradual-pruning interval
    longer than the pruning phase."""
    sizes = {}
    for cell in config.cells:
        c = cell.config
        where = f"{config.source}: variants[{cell.variant!r}]" + (f" with {cell.grid}" if cell.grid else "")
        try:
            if (c.dataset, c.validation) not in sizes:
                sizes[c.dataset, c.validation] = len(load_dataset(c.dataset, data_dir, validation=c.validation).train)
            images = min(sizes[c.dataset, c.validation], c.train_images or sizes[c.dataset, c.validation])
            gradual_pruning(c, _skeleton(c.model), -(-images // c.batch_size))
        except ValueError as e:  # a ParameterError names fields in backquotes, as the config does
            raise SweepConfigError(f"{where}: {e}") from None


@contextmanager
def _only_sweep_in(folder: Path):
    """Hold ``folder/.sweep.lock`` (this process's id) while the sweep runs, so
    that two sweeps never write one folder; a lock left by a killed sweep, whose
    process is gone, is taken over."""
    path = folder / ".sweep.lock"
    for attempt in (1, 2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = _process_alive(path)
            if owner is not None or attempt == 2:
                raise ParameterError(
                    f"`out` {folder}: another sweep (process {owner}) is writing there; wait for "
                    f"it, choose another folder, or remove {path} if that process is no sweep."
                ) from None
            path.unlink(missing_ok=True)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _process_alive(lock: Path) -> int | None:
    """The process id in ``lock`` if that process still runs, else None."""
    try:
        pid = int(lock.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):  # no such process (or an unreadable lock): a killed sweep's
        return None
    return pid


def _remove_temporaries(folder: Path) -> None:
    """Remove the temporary files a killed sweep left (``.<name>.*.tmp``, see :mod:`tdnumpy._io`)."""
    for path in [*folder.glob(".*.tmp"), *folder.glob("runs/*/.*.tmp")]:
        path.unlink(missing_ok=True)


def run_cell(cell: Cell, runs_folder: str, data_dir: str | None) -> tuple:
    """Train (or reuse) one cell's run and prune it at every fraction: what a worker does.

    Parameters
    ----------
    cell : Cell
        The cell.
    runs_folder : str
        The folder of the sweep's runs; the run goes to ``<runs_folder>/<cell.name>``.
    data_dir : str or None
        Where the IDX files are.

    Returns
    -------
    tuple
        ``(cell, rows, seconds)``: the rows of the CSV for this cell (dicts of
        text), and ``{"train": s, "prune": s}`` (0 s of training for a reused run).
    """
    _require_one_blas_thread()
    folder = Path(runs_folder) / cell.name
    t0 = time.perf_counter()
    dataset = load_dataset(cell.config.dataset, data_dir, validation=cell.config.validation)
    run = _finished_run(folder, cell)
    if run is None:  # the folder is the sweep's own: a damaged run, or one of another config, is trained again
        run = train_run(cell.config, out=folder, data=dataset, progress=False, overwrite=True)
    t1 = time.perf_counter()
    rows = []
    for setting in cell.evaluate:
        measured = with_evaluation(run, setting)
        for spec in cell.prune:
            for step, row in enumerate(prune_run(measured, **spec.arguments(), data=dataset)):
                rows.append(_row(cell, setting, spec, step, row))
    return cell, rows, {"train": t1 - t0, "prune": time.perf_counter() - t1}


def call_in_worker(function, *args):
    """``function(*args)`` in a spawned process with one BLAS thread, as the
    cells run, so that its float sums do not depend on the caller's threads.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled by reference).
    *args
        Its arguments (picklable).

    Returns
    -------
    object
        What it returned.
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        with _one_blas_thread_for_children():
            future = pool.submit(function, *args)
        return future.result()


def with_evaluation(run: Run, setting: dict) -> Run:
    """``run`` measured with other evaluation-only settings (DropConnect's inference, ...).

    Parameters
    ----------
    run : Run
        A trained run.
    setting : dict
        Evaluation-only RunConfig fields and their values (may be empty).

    Returns
    -------
    Run
        ``run`` itself for an empty setting, else a run with the new config and
        a copy of the model whose regularisers evaluate that way.
    """
    if not setting:
        return run
    config = run.config.replace(**setting)
    model = Run(config, run.model, run.metrics, pruned=run.pruned).fresh_model()
    return Run(config, model, run.metrics, checkpoint=run.checkpoint, pruned=run.pruned)


def machine() -> dict:
    """What the timings were measured on.

    Returns
    -------
    dict
        ``cpu`` (the model name), ``cores``, ``python`` and ``platform``.
    """
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def _finished_run(folder: Path, cell: Cell) -> Run | None:
    """The run in ``folder`` if it finished training with the cell's config."""
    if not (folder / "checkpoint.npz").is_file() or not (folder / "metrics.json").is_file():
        return None
    try:
        run = load_run(folder)
    except (OSError, ValueError):  # a damaged run is trained again
        return None
    return run if run.config == cell.config else None


def _finished_rows(path: Path) -> list | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record.get("rows") if isinstance(record, dict) and isinstance(record.get("rows"), list) else None


def _row(cell: Cell, setting: dict, spec, step: int, row: dict) -> dict:
    """One line of the CSV as text: every config field (the writer keeps the
    sweep's columns), then what the pruning measured."""
    values = {k: v for k, v in cell.config.to_dict().items() if k not in ("format", "version")} | setting
    amount = row.get("fraction", row.get("q"))
    return {
        "variant": cell.variant,
        **{k: _text(v) for k, v in values.items()},
        "prune": spec.label,
        "kind": spec.kind,
        "step": str(step),
        "fraction": amount_label(amount),
        "retrain_epochs": str(spec.retrain_epochs),
        "sparsity": repr(row["sparsity"]),
        "test_accuracy": repr(row["test_accuracy"]),
        "test_loss": repr(row["test_loss"]),
        "parameters_left": str(row["parameters_left"]),
        "parameters": str(row["parameters"]),
        "compressed_bytes": str(row["compressed_bytes"]),
    }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)


def _write_csv(path: Path, config: SweepConfig, results: dict) -> list[dict]:
    header = ("variant", "model", "dataset", "reg", *config.columns, "seed", *RESULT_COLUMNS)
    rows = [{k: row.get(k, "") for k in header} for index in sorted(results) for row in results[index]]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, text.getvalue().encode())
    return rows


def _read_timings(path: Path) -> dict:
    try:
        timings = json.loads(path.read_text())
        if isinstance(timings, dict) and isinstance(timings.get("cells"), dict):
            return timings
    except (OSError, ValueError):
        pass
    return {"cells": {}}


def _progress_bar(total: int, done: int, progress: bool | None):
    disable = not sys.stderr.isatty() if progress is None else not check_bool(progress, "progress", "sweep")
    return tqdm(total=total, initial=done, unit="run", desc="sweep", disable=disable, dynamic_ncols=True)


def _execute(cells: list, runs: Path, data_dir, jobs: int, dask_scheduler):
    """Yield ``(cell, outcome)`` as cells finish, on local processes or a Dask cluster;
    the outcome is what :func:`run_cell` returned or the exception it raised."""
    if not cells:
        return
    if dask_scheduler is not None:
        yield from _on_dask(cells, runs, data_dir, dask_scheduler)
        return
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(cells)), mp_context=multiprocessing.get_context("spawn")
    )
    try:
        with _one_blas_thread_for_children():  # the workers start as the cells are submitted
            futures = {pool.submit(run_cell, cell, str(runs), data_dir): cell for cell in cells}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.exception() or future.result()
    except BaseException:  # interrupted: stop the cells in progress rather than wait for them
        workers = list(getattr(pool, "_processes", {}).values())  # no public way before Python 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        raise
    pool.shutdown()


def _on_dask(cells: list, runs: Path, data_dir, address: str):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ParameterError("`dask_scheduler` needs dask.distributed: pip install 'tdnumpy[dask]'.") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise ParameterError(f"`dask_scheduler` {address!r}: cannot connect ({e}).") from None
    with client:
        futures = {
            client.submit(run_cell, cell, str(runs), data_dir, key=f"tdnumpy-{cell.name}-{cell.key}", pure=False): cell
            for cell in cells
        }
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # also a future the cluster cancelled (asyncio's CancelledError)
                outcome = e if isinstance(e, Exception) else RuntimeError(f"cancelled by the cluster ({e!r})")
            yield futures[future], outcome


@contextmanager
def _one_blas_thread_for_children():
    """Set one BLAS thread in the environment the worker processes start with."""
    saved = {name: os.environ.get(name) for name in BLAS_THREADS}
    os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _require_one_blas_thread() -> None:
    """Refuse to run a cell with several BLAS threads, whose sums would differ from the others'."""
    if os.environ.get("OPENBLAS_NUM_THREADS") == "1":
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise RuntimeError(
            "a sweep cell must run with one BLAS thread (OPENBLAS_NUM_THREADS=1 in the worker's "
            "environment, or threadpoolctl installed)"
        ) from None
    threadpool_limits(1)
