"""Runs as library objects: :func:`train_run` trains what a :class:`RunConfig`
describes, :func:`load_run` reads a run back, and :class:`Run` holds the
config, the model and the metrics.

The model of a run is the model its regularisers make: DropConnect's mean or
Gaussian inference, classic dropout's and standout's evaluation scaling, and
the dropout rates a pruned network was retrained with are part of what is
evaluated, so :func:`load_run` puts them back exactly as training left them.
``tdnumpy train`` and ``tdnumpy evaluate`` are these functions and a print.

A run folder holds ``checkpoint.npz`` (parameters, pruning masks and a JSON
record holding the config, see :mod:`tdnumpy.training.checkpoint`) and
``metrics.json`` (per-epoch metrics, test loss and accuracy, the config).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._blas import blas_record
from .._io import atomic_write_json, folder_lock, output_folder
from .._validation import ParameterError, check_bool, check_path
from ..data import Dataset, Split, load_dataset, to_inputs
from ..nn.models import build_model
from ..nn.module import Sequential
from ..training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..training.fit import evaluate, fit
from . import regularisers, unfinished
from .build import describe, gradual_pruning, lr_schedule, make_optimizer, make_penalties
from .config import RunConfig
from .records import config_from_record

SPLITS = ("test", "validation", "train")


@dataclass(eq=False)
class Run:
    """A trained (or loaded) run: its config, its model and what it measured.

    Parameters
    ----------
    config : RunConfig
        What the run was trained with.
    model : Sequential
        The network, with the regularisers it was trained with put back (and,
        for a pruned and retrained network, its retraining dropout rates).
    metrics : dict
        ``metrics.json`` of the run folder (per-epoch ``epochs``,
        ``test_loss``, ``test_accuracy``, ``train_seconds``, ``environment``:
        NumPy, its BLAS and the BLAS thread count ...) or, for a
        checkpoint without one, the checkpoint's recorded metrics.
    checkpoint : Path or None
        The checkpoint file the run was loaded from or saved to.
    pruned : dict or None
        The pruning record of a checkpoint written by :func:`prune_run`.
    applied : tuple of str
        One line per regulariser put on the model, saying what went where.
    """

    config: RunConfig
    model: Sequential
    metrics: dict
    checkpoint: Path | None = None
    pruned: dict | None = None
    applied: tuple = ()
    _data: Dataset | None = field(default=None, init=False, repr=False)  # a dataset looked up, kept

    def evaluate(self, split: str = "test", *, data=None, batch_size: int = 1000) -> dict:
        """Mean loss and accuracy of the model on one split, in evaluation mode.

        Parameters
        ----------
        split : {"test", "validation", "train"}
            The split; "validation" needs a config with ``validation`` > 0, and
            "train" is the training images less the held-out ones.
        data : Dataset, str, os.PathLike or None
            A loaded dataset (used as given, whatever its name), a folder
            holding the IDX files, or None to look the config's dataset up
            (:func:`tdnumpy.data.load_dataset`); a dataset looked up is kept
            for the next call.
        batch_size : int
            Examples per forward pass. The sums run per batch in the model's
            dtype, so another size can change the loss in its last digits (and
            Gaussian DropConnect inference draws per batch); ``tdnumpy train``
            and ``tdnumpy evaluate`` use 1000.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float}``.
        """
        if split not in SPLITS:
            raise ValueError(
                f"The 'split' parameter of Run.evaluate must be one of {', '.join(map(repr, SPLITS))}. "
                f"Got {split!r} instead."
            )
        dataset = data if isinstance(data, Dataset) else self.dataset(data)
        part = getattr(dataset, split)
        if part is None:
            raise ValueError(
                f"Run.evaluate(split='validation') needs held-out images; this run's config has "
                f"validation {self.config.validation}."
            )
        x = to_inputs(part.images, self.model.input_shape, self.model.dtype)
        return evaluate(self.model, x, part.labels, batch_size=batch_size)

    def dataset(self, data=None) -> Dataset:
        """The run's dataset, looked up once and kept (a run just trained keeps its own).

        Parameters
        ----------
        data : str, os.PathLike, callable or None
            Where to look it up (see :func:`dataset_for`); None: the usual
            look-up, or the dataset already kept.

        Returns
        -------
        Dataset
            The config's dataset, its last ``config.validation`` training images held out.
        """
        if self._data is None or data is not None:
            self._data = dataset_for(self.config, data)
        return self._data

    def fresh_model(self):
        """A copy of the model as its checkpoint loads: same parameters and masks,
        fresh generators (those of seed 0, as :func:`load_checkpoint` builds),
        the regularisers put back.

        Returns
        -------
        Sequential
            A new network, independent of ``self.model``.
        """
        model = build_model(self.model.spec, dtype=self.model.dtype)
        restore_regularisers(model, self.config, self.pruned)  # first: some own parameters
        source = self.model.named_parameters()
        for name, p in model.named_parameters().items():
            p.value[...] = source[name].value
            p.set_mask(source[name].mask)
        return model


def dataset_for(config: RunConfig, data=None, *, any_name: bool = False) -> Dataset:
    """The dataset a run uses, its last ``config.validation`` training images held out.

    Parameters
    ----------
    config : RunConfig
        The run's config (``dataset``, ``validation``).
    data : Dataset, str, os.PathLike, callable or None
        A loaded dataset; a folder holding the IDX files; a callable
        ``(name, validation) -> Dataset`` that loads it (called only when the
        data are needed, after every argument has been checked); or None for
        the usual look-up (see :mod:`tdnumpy.data.datasets`).
    any_name : bool
        Accept a dataset of another name than ``config.dataset``.

    Returns
    -------
    Dataset
        The dataset.
    """
    if data is None or isinstance(data, (str, os.PathLike)):
        return limited(load_dataset(config.dataset, data, validation=config.validation), config)
    if callable(data):
        data = data(config.dataset, config.validation)
    if not isinstance(data, Dataset):
        raise TypeError(
            f"The 'data' parameter must be a tdnumpy.data.Dataset, a data folder, a loader or None. "
            f"Got {type(data).__name__} instead."
        )
    if not any_name and data.name != config.dataset:
        raise ParameterError(f"`data` holds {data.name!r} but the config's `dataset` is {config.dataset!r}.")
    held_out = 0 if data.validation is None else len(data.validation)
    if held_out != config.validation:
        raise ParameterError(
            f"`data` holds out {held_out} validation images but the config's `validation` is "
            f"{config.validation}; load it with load_dataset(..., validation={config.validation})."
        )
    return limited(data, config)


def limited(dataset: Dataset, config: RunConfig) -> Dataset:
    """``dataset`` with only the first ``config.train_images`` training and
    ``config.test_images`` test images (all of them where those are None).

    Parameters
    ----------
    dataset : Dataset
        The dataset, its validation images already held out.
    config : RunConfig
        The run's config.

    Returns
    -------
    Dataset
        The same dataset, or a copy whose splits are views of the first images.
    """
    train, test = dataset.train, dataset.test
    if config.train_images is not None and config.train_images < len(train):
        train = Split(train.images[: config.train_images], train.labels[: config.train_images])
    if config.test_images is not None and config.test_images < len(test):
        test = Split(test.images[: config.test_images], test.labels[: config.test_images])
    if train is dataset.train and test is dataset.test:
        return dataset
    return dataclasses.replace(dataset, train=train, test=test)


def train_run(
    config: RunConfig,
    *,
    out=None,
    data=None,
    progress: bool | None = None,
    log=None,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Train the run ``config`` describes; save it to ``out`` if given.

    Parameters
    ----------
    config : RunConfig
        The run.
    out : str, os.PathLike or None
        A folder to write ``checkpoint.npz`` and ``metrics.json`` to (made if
        needed, checked before any work); None keeps the run in memory. The
        checkpoint is also written after every epoch, with the training
        state, so an interrupted run keeps its last finished one and can be
        resumed (see :mod:`tdnumpy.experiments.unfinished`; ``metrics.json``
        is written at the end).
    data : Dataset, str, os.PathLike, callable or None
        The dataset, loaded with ``validation=config.validation``; a folder
        holding its IDX files; a loader (see :func:`dataset_for`); or None for
        the usual look-up.
    progress : bool or None
        Show a progress bar per epoch; None shows it only on a terminal.
    log : callable or None
        Called with each line of the training log (the regularisers and
        penalties in place, one line per epoch).
    overwrite : bool, default=False
        Replace a finished run (``checkpoint.npz`` and ``metrics.json``)
        already in ``out``; without it such a folder is refused before any
        work, so that one run never silently replaces another.
    resume : bool, default=False
        Go on with the unfinished run in ``out``, which must have been started
        with ``config``, instead of starting afresh: the result is
        bit-identical to a run never interrupted (``train_seconds`` and each
        epoch's ``seconds`` aside).

    Returns
    -------
    Run
        The trained run; ``run.metrics`` is what ``metrics.json`` holds.
    """
    if not isinstance(config, RunConfig):
        raise TypeError(
            f"The 'config' parameter of train_run must be a RunConfig. Got {type(config).__name__} instead."
        )
    if progress is not None:
        check_bool(progress, "progress", "train_run")
    log = log or (lambda line: None)
    model = build_model(config.model, seed=config.seed)
    chosen = config.regularisers(model)
    if resume and (out is None or overwrite):
        raise ParameterError(
            "`resume` goes on with the unfinished run in `out`: it needs `out`, and excludes `overwrite`."
        )
    folder = None if out is None else output_folder(out, ("checkpoint.npz", "metrics.json"))
    if folder is not None and not overwrite and all((folder / f).is_file() for f in ("checkpoint.npz", "metrics.json")):
        raise ParameterError(
            f"`out` {folder} already holds a finished run (checkpoint.npz and metrics.json)"
            + (
                "; there is nothing to resume."
                if resume
                else "; choose another folder, or pass `overwrite` to replace it."
            )
        )
    with folder_lock(folder):  # released when the run is written (or fails)
        if folder is not None:  # (overwrite) a replaced run's metrics must not describe this run's checkpoints
            (folder / "metrics.json").unlink(missing_ok=True)
        # checked before the data is loaded: a wrong folder or config is refused at once
        checked = unfinished.check_resumable(folder / "checkpoint.npz", config) if resume and folder else None
        dataset = dataset_for(config, data)
        x, y = to_inputs(dataset.train.images, model.input_shape), dataset.train.labels
        x_test = to_inputs(dataset.test.images, model.input_shape)
        validation = None
        if dataset.validation is not None:
            validation = (to_inputs(dataset.validation.images, model.input_shape), dataset.validation.labels)
        steps_per_epoch = -(-len(x) // config.batch_size)
        applied = regularisers.apply(model, chosen, config.settings(), config.epochs * steps_per_epoch)
        optimizer = make_optimizer(config, model, config.lr)  # after the regularisers: some have parameters
        penalties = make_penalties(config, model, len(x))
        gradual = gradual_pruning(config, model, steps_per_epoch)
        shuffle = np.random.default_rng(config.seed)
        done: list[dict] = []
        seconds_before = 0.0
        if checked is not None and folder is not None:
            done, seconds_before = unfinished.resume(folder / "checkpoint.npz", model, optimizer, shuffle, checked)
        for line in applied + [describe(item) for item in (*penalties, gradual) if item is not None]:
            log(line)
        log(
            f"training {config.model} ({model.n_parameters():,} parameters) on {config.dataset} "
            f"({len(x):,} images from {dataset.folder})" + ("" if folder is None else f" -> {folder}")
        )
        if done:
            log(f"resuming after epoch {len(done)} of {config.epochs}")

        def report(m):
            val = f", val acc {m['val_accuracy']:.4f}" if "val_accuracy" in m else ""
            log(
                f"epoch {m['epoch']:>3}: loss {m['train_loss']:.4f}, train acc {m['train_accuracy']:.4f}{val}, "
                f"{m['seconds']:.1f} s"
            )
            done.append(m)
            if folder is not None and m["epoch"] < config.epochs:  # an interrupted run keeps its last epoch
                unfinished.save_unfinished(
                    folder / "checkpoint.npz",
                    model,
                    config,
                    optimizer,
                    shuffle,
                    done,
                    seconds_before + time.perf_counter() - start,
                )

        start = time.perf_counter()
        fit(
            model,
            x,
            y,
            optimizer=optimizer,
            epochs=config.epochs,
            batch_size=config.batch_size,
            rng=shuffle,
            lr_schedule=lr_schedule(config, steps_per_epoch),
            validation=validation,
            progress=progress,
            on_epoch_end=report,
            penalties=penalties,
            before_step=gradual,
            first_epoch=len(done) + 1,
        )
        seconds = seconds_before + time.perf_counter() - start
        test = evaluate(model, x_test, dataset.test.labels)
        metrics = {
            "model": config.model,
            "dataset": config.dataset,
            "seed": config.seed,
            "parameters": model.n_parameters(),
            "config": config.to_dict(),
            "epochs": done,
            "test_loss": test["loss"],
            "test_accuracy": test["accuracy"],
            "train_seconds": seconds,
            "environment": blas_record(),
        }
        run = Run(config, model, metrics, applied=tuple(applied))
        run._data = dataset
        if folder is not None:
            run.checkpoint = save_checkpoint(
                folder / "checkpoint.npz",
                model,
                seed=config.seed,
                epoch=config.epochs,
                dataset=config.dataset,
                config=config.to_dict(),
                metrics={"test_loss": test["loss"], "test_accuracy": test["accuracy"]},
            )
            atomic_write_json(folder / "metrics.json", metrics)
        return run


def restore_regularisers(model, config: RunConfig, pruned: dict | None = None) -> list[str]:
    """Put back on ``model`` the regularisers it was trained with, and the
    dropout rates it was retrained with after pruning (Han et al.'s D_r).

    Their evaluation behaviour is part of the model: DropConnect's inference,
    classic dropout's and standout's scaling. A ramped rule (td-ramp) is put
    back ramping again from 0, over one step (two for the two-phase ramp)
    unless ``ramp_steps`` was set, when over as many steps as in training: this
    is what retraining after pruning uses.

    Parameters
    ----------
    model : Sequential
        A network built from the config's model spec (or one shrunk from it).
    config : RunConfig
        The config it was trained with.
    pruned : dict or None
        The checkpoint's pruning record; its ``dropout_rates`` are set.

    Returns
    -------
    list of str
        One line per regulariser or rate put back.
    """
    lines = regularisers.apply(model, config.regularisers(model), config.settings())
    rates = (pruned.get("dropout_rates") if isinstance(pruned, dict) else None) or {}
    if not isinstance(rates, dict) or not all(
        isinstance(r, (int, float)) and not isinstance(r, bool) and 0 <= r < 1 for r in rates.values()
    ):
        raise ValueError(f"the pruning record's 'dropout_rates' must map layer names to rates in [0, 1). Got {rates!r}")
    for name, rate in rates.items():
        model.layer(name).p = rate
        lines.append(f"{name}: p {rate:.4g} (retrained after pruning)")
    return lines


def load_run(path) -> Run:
    """Read a run back: a run folder (its ``checkpoint.npz`` and ``metrics.json``)
    or a checkpoint file (such as a pruned network ``pruned-0.npz``).

    Parameters
    ----------
    path : str or os.PathLike
        The folder or the file.

    Returns
    -------
    Run
        The run, its model with the regularisers (and pruning-time dropout
        rates) it was trained with, exactly as ``tdnumpy evaluate`` evaluates it.
    """
    path = check_path(path, "path", "load_run")
    checkpoint = path / "checkpoint.npz" if path.is_dir() else path
    applied = []

    def prepare(model, meta):  # regularisers first: some own parameters, which the checkpoint holds
        config = config_from_record(meta, checkpoint)
        try:
            applied.extend(restore_regularisers(model, config, meta.get("pruned")))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{checkpoint}: its regularisers cannot be put back ({e}).") from e

    model, meta = load_checkpoint(checkpoint, prepare=prepare)
    config = config_from_record(meta, checkpoint)
    metrics = dict(meta.get("metrics") or {})
    record = checkpoint.parent / "metrics.json"
    if checkpoint.name == "checkpoint.npz" and record.is_file():
        try:
            metrics = json.loads(record.read_text())
        except (OSError, ValueError) as e:  # the checkpoint alone still makes the run
            warnings.warn(
                f"{record}: not a readable metrics file ({e}); using the metrics the checkpoint recorded.", stacklevel=2
            )
    return Run(config, model, metrics, checkpoint=checkpoint, pruned=meta.get("pruned"), applied=tuple(applied))
