"""The pieces of a training run, built from its :class:`RunConfig`: the
optimiser, the learning-rate schedule, the penalties and gradual pruning."""

from __future__ import annotations

from .._validation import ParameterError
from ..pruning.masking import GradualPruning
from ..training.optim import SGD, Adam
from ..nn.sparsifying import learnt_sparsifiers
from ..training.penalties import L1, L2, LearntPenalty, Penalty
from ..training.schedules import Constant, Cosine, PolynomialSparsity, StepDecay
from .config import RunConfig


def make_optimizer(config: RunConfig, model, lr: float):
    """The optimiser ``config`` names, over ``model``'s parameters, at learning rate ``lr``.

    Parameters
    ----------
    config : RunConfig
        ``optimizer``, ``momentum``, ``nesterov``, ``weight_decay``.
    model : Sequential
        The network.
    lr : float
        The learning rate.

    Returns
    -------
    SGD or Adam
        The optimiser.
    """
    if config.optimizer == "adam":
        return Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    return SGD(
        model.parameters(), lr=lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay
    )


def make_penalties(config: RunConfig, model, n_train: int | None = None) -> list:
    """The penalties ``config`` asks for (those of strength > 0): L1 and L2 on
    the weights, and the penalty of each learnt sparsifier on ``model``.

    Parameters
    ----------
    config : RunConfig
        ``l1``, ``l2``, ``l0_strength``, ``vd_strength``, ``smallify_strength``.
    model : Sequential
        The network, its regularisers in place.
    n_train : int or None
        Training images, N of variational dropout's KL / N; needed only when
        ``model`` carries variational dropout.

    Returns
    -------
    list of Penalty or LearntPenalty
        The penalties.
    """
    penalties: list[Penalty | LearntPenalty] = [
        cls(model, strength) for cls, strength in ((L1, config.l1), (L2, config.l2)) if strength > 0
    ]
    methods = {item.method for item in learnt_sparsifiers(model)}
    for method, strength in (
        ("l0", config.l0_strength),
        ("vd", config.vd_strength),
        ("smallify", config.smallify_strength),
    ):
        if method not in methods or strength == 0:
            continue
        if method == "vd" and n_train is None:
            raise ParameterError(
                "make_penalties needs `n_train` (the training images) for variational dropout's KL / N."
            )
        scale = 1.0 / n_train if method == "vd" and n_train is not None else 1.0
        penalties.append(LearntPenalty(model, strength, method, scale))
    return penalties


def lr_schedule(config: RunConfig, steps_per_epoch: int):
    """The learning-rate schedule of ``config`` over its training steps.

    Parameters
    ----------
    config : RunConfig
        ``lr``, ``lr_schedule``, ``lr_step_epochs``, ``lr_decay``, ``epochs``.
    steps_per_epoch : int
        Mini-batches per epoch.

    Returns
    -------
    Constant, StepDecay or Cosine
        The schedule (cosine decays ``lr`` to 0 by the last step).
    """
    if config.lr_schedule == "step":
        return StepDecay(config.lr, config.lr_step_epochs * steps_per_epoch, config.lr_decay)
    if config.lr_schedule == "cosine":
        return Cosine(config.lr, config.epochs * steps_per_epoch)
    return Constant(config.lr)


def gradual_pruning(config: RunConfig, model, steps_per_epoch: int) -> GradualPruning | None:
    """Zhu and Gupta's gradual pruning as ``config`` asks for it, or None.

    Pruning steps fall at t0, t0 + dt, ..., t0 + n dt, the last one inside the
    run (steps 0 .. epochs * steps_per_epoch - 1).

    Parameters
    ----------
    config : RunConfig
        ``gradual_sparsity`` and the other ``gradual_*`` fields.
    model : Sequential
        The network to prune.
    steps_per_epoch : int
        Mini-batches per epoch.

    Returns
    -------
    GradualPruning or None
        The hook to pass to :func:`tdnumpy.training.fit.fit` as ``before_step``.
    """
    epochs = config.gradual_epochs_used()
    if epochs is None or config.gradual_sparsity is None:
        return None
    start = config.gradual_start * steps_per_epoch
    span = min(epochs * steps_per_epoch, config.epochs * steps_per_epoch - start) - 1  # t0 + n dt <= last step
    if span < config.gradual_interval:
        raise ParameterError(
            f"`gradual_interval` {config.gradual_interval} is longer than the pruning phase "
            f"({span + 1} steps); choose a smaller interval."
        )
    schedule = PolynomialSparsity(
        config.gradual_sparsity, start=start, steps=span // config.gradual_interval, interval=config.gradual_interval
    )
    return GradualPruning(model, schedule, kind=config.gradual_kind)


def describe(item) -> str:
    """One line saying what a penalty or a gradual-pruning hook does.

    Parameters
    ----------
    item : Penalty or GradualPruning
        What :func:`make_penalties` or :func:`gradual_pruning` built.

    Returns
    -------
    str
        The line, for the training log.
    """
    if isinstance(item, GradualPruning):
        s = item.schedule
        return (
            f"gradual pruning ({item.kind}): sparsity 0 -> {s.final} over steps {s.start}.."
            f"{s.start + s.steps * s.interval}, every {s.interval} steps"
        )
    if isinstance(item, LearntPenalty):
        return f"{item.name} penalty on {len(item.items)} sparsifiers, lambda {item.strength:g}"
    return f"{item.name} penalty on the weights, lambda {item.strength}"
