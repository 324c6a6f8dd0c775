"""Experiments: a run as a library object, pruning a run, sweeps, the shipped
experiments and their figures, benchmarks.

- :class:`RunConfig`: everything a training run depends on, with its defaults
  and checks, saved in every checkpoint;
- :func:`train_run`, :func:`load_run` and :class:`Run`: train a config, read
  a run back (its model with the regularisers it was trained with), evaluate it;
- :func:`prune_run`: accuracy versus sparsity, with optional retraining;
- :func:`sweep`: a grid of runs from a TOML file
  (:mod:`~tdnumpy.experiments.sweep_config`), each pruned at every fraction,
  into one CSV; resumable, on local processes or a Dask cluster;
- :func:`~tdnumpy.experiments.reproduce.reproduce`: one of the shipped configurations, with its figures
  (:mod:`~tdnumpy.experiments.figures`, :mod:`~tdnumpy.experiments.pictures`)
  and the dependence analysis (:mod:`~tdnumpy.experiments.dependence`);
- :mod:`~tdnumpy.experiments.regularisers`: regularisers by name;
- :mod:`~tdnumpy.experiments.bench`: timing benchmarks.

Example
-------
>>> from tdnumpy.experiments import RunConfig, train_run, prune_run   # doctest: +SKIP
>>> run = train_run(RunConfig(model="lenet300", reg="td-weight", gamma=0.5, alpha=0.5), out="runs/td")
>>> run.evaluate()["accuracy"]
>>> rows = prune_run(run, "weight", [0.5, 0.9])
"""

from .config import RunConfig
from .prune_runs import prune_run
from .runs import Run, load_run, train_run
from .sweeps import sweep

__all__ = ["Run", "RunConfig", "load_run", "prune_run", "sweep", "train_run"]
