"""Unfinished runs: the checkpoint :func:`~tdnumpy.experiments.train_run`
writes after every epoch but the last, and going on from it.

That checkpoint holds the model, the training state
(:mod:`tdnumpy.training.state`: optimiser buffers, every generator, the
rules' step counts) and the metrics so far: ``interrupted_after_epoch``,
``of_epochs``, ``epochs`` (one dict per finished epoch) and
``train_seconds``. ``metrics.json`` is written only when the run finishes, so
a folder holding ``checkpoint.npz`` without ``metrics.json`` holds an
unfinished run. ``train_run(config, out=folder, resume=True)`` (``tdnumpy
train ... --resume``) loads it into a model built from the same config and
trains the remaining epochs; the result is bit-identical to the run never
interrupted.
"""

from __future__ import annotations

from pathlib import Path

from .._validation import ParameterError
from ..training.checkpoint import load_into, read_training_state, save_checkpoint
from ..training.state import capture, restore
from .config import RunConfig


def save_unfinished(
    path: Path, model, config: RunConfig, optimizer, shuffle, epochs: list[dict], seconds: float
) -> None:
    """Write the checkpoint of a run interrupted now, after ``len(epochs)`` epochs.

    Parameters
    ----------
    path : Path
        The run's ``checkpoint.npz``.
    model : Sequential
        The network.
    config : RunConfig
        The run's config.
    optimizer : Optimizer
        Its optimiser.
    shuffle : numpy.random.Generator
        The generator that orders the examples.
    epochs : list of dict
        The metrics of the finished epochs.
    seconds : float
        The training time so far.
    """
    last = epochs[-1]
    save_checkpoint(
        path,
        model,
        state=capture(model, optimizer, shuffle),
        seed=config.seed,
        epoch=last["epoch"],
        dataset=config.dataset,
        config=config.to_dict(),
        metrics={
            "interrupted_after_epoch": last["epoch"],
            "of_epochs": config.epochs,
            "train_loss": last["train_loss"],
            "train_accuracy": last["train_accuracy"],
            "epochs": epochs,
            "train_seconds": seconds,
        },
    )


def check_resumable(path: Path, config: RunConfig) -> tuple[dict, dict]:
    """Read an unfinished run's checkpoint and check that ``config`` can go on with it.

    Called before any data is loaded or model built, so that a wrong folder
    or config is refused at once.

    Parameters
    ----------
    path : Path
        The run's ``checkpoint.npz``.
    config : RunConfig
        The config it is to be resumed with: the one the run was started with.

    Returns
    -------
    arrays, meta : dict
        The checkpoint's training-state arrays and its metadata, for :func:`resume`.

    Raises
    ------
    ParameterError
        If ``path`` holds no unfinished run, or one of another config.
    CheckpointError
        If the checkpoint is damaged.
    """
    if not path.is_file():
        raise ParameterError(f"`resume`: {path.parent} holds no checkpoint.npz to resume from.")
    arrays, meta = read_training_state(path)
    metrics: dict = meta["metrics"] if isinstance(meta.get("metrics"), dict) else {}
    after = metrics.get("interrupted_after_epoch")
    if "state" not in meta or not isinstance(after, int) or not isinstance(metrics.get("epochs"), list):
        raise ParameterError(
            f"`resume`: {path} holds no unfinished run (one interrupted after an epoch by this "
            f"release of tdnumpy), so there is nothing to resume."
        )
    saved = meta.get("config")
    differ = _differences(saved, config.to_dict()) if isinstance(saved, dict) else ["config"]
    if differ:
        raise ParameterError(
            f"`resume`: {path} was started with another config (it differs in "
            f"{', '.join(differ)}); resume with the settings it was started with."
        )
    if not 1 <= after < config.epochs or len(metrics["epochs"]) != after:
        raise ParameterError(
            f"`resume`: {path} says it was interrupted after epoch {after!r} of "
            f"{config.epochs}, with {len(metrics['epochs'])} epochs of metrics."
        )
    return arrays, meta


def resume(path: Path, model, optimizer, shuffle, checked: tuple[dict, dict]) -> tuple[list[dict], float]:
    """Load an unfinished run into a freshly built model, optimiser and shuffling generator.

    Parameters
    ----------
    path : Path
        The run's ``checkpoint.npz``.
    model : Sequential
        A network built from the run's config, its regularisers applied.
    optimizer : Optimizer
        A fresh optimiser over its parameters.
    shuffle : numpy.random.Generator
        ``default_rng(config.seed)``, fresh.
    checked : tuple of dict
        What :func:`check_resumable` returned for ``path`` and the config.

    Returns
    -------
    epochs : list of dict
        The metrics of the finished epochs.
    seconds : float
        The training time so far.

    Raises
    ------
    ParameterError
        If the saved state does not fit the model or optimiser.
    CheckpointError
        If the checkpoint is damaged.
    """
    arrays, meta = checked
    load_into(model, path)
    try:
        restore(model, optimizer, shuffle, arrays, meta["state"], path)
    except ValueError as e:
        raise ParameterError(f"`resume`: {e}") from e
    metrics = meta["metrics"]
    return list(metrics["epochs"]), float(metrics.get("train_seconds", 0.0))


def _differences(saved: dict, ours: dict) -> list[str]:
    """The fields whose values differ, as ``name (here X, there Y)``."""
    return [
        f"{key} (here {ours.get(key)!r}, there {saved.get(key)!r})"
        for key in sorted(set(saved) | set(ours))
        if saved.get(key) != ours.get(key)
    ]
