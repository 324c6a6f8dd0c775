"""The training loop and evaluation.

One step, as data: (a hook such as gradual pruning) -> a shuffled mini-batch
is gathered into a reused buffer -> ``model.forward(x, training=True)`` ->
softmax cross-entropy -> ``model.backward`` (no gradient for the input) ->
penalty gradients (L1, L2) -> the schedule sets the learning rate ->
``optimizer.step()``. Everything stays in the model's dtype. A split step
(:mod:`tdnumpy.training.split`) runs forward, loss and backward on the two
halves of the batch in two threads and adds the halves' gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .._validation import check_bool, check_generator, check_int, check_labels
from ..nn.loss import softmax_cross_entropy
from ..nn.module import check_model
from .optim import Optimizer
from .split import SplitStep, split_by_default


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """Per-epoch metrics of a :func:`fit` call, one dict per epoch.

    Parameters
    ----------
    epochs : list of dict, default []
        The metrics of each epoch, in order (the keys are listed under :func:`fit`).
    """

    epochs: list = field(default_factory=list)

    def last(self) -> dict:
        """The metrics of the latest epoch.

        Returns
        -------
        dict
            The last entry of ``epochs``; empty if there is none.
        """
        return self.epochs[-1] if self.epochs else {}


def _check_loss(loss: float, epoch: int, step: int) -> None:
    """Stop training at a NaN or infinite loss."""
    if not np.isfinite(loss):
        raise TrainingDiverged(
            f"The training loss became {loss} at epoch {epoch}, step {step}. "
            "Lower the learning rate (--lr) or check the inputs for NaN or infinite values."
        )


def _check_data(model, x, y, name: str, owner: str):
    """The labels, after checking the model, the inputs ``x`` (``name``) and the labels (named
    ``y`` beside ``x``, else ``<name> labels``)."""
    check_model(model, "model", owner)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"The {name!r} inputs of {owner} must be a NumPy array. Got {type(x).__name__}.")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"The {name!r} inputs of {owner} hold no examples (shape {x.shape}).")
    if x.dtype != model.dtype:
        raise TypeError(
            f"The {name!r} inputs of {owner} must have the model's dtype {model.dtype}. "
            f"Got {x.dtype}; convert them once with tdnumpy.data.to_inputs or x.astype()."
        )
    if model.input_shape is not None and x.shape[1:] != model.input_shape:
        shape = ", ".join(map(str, model.input_shape))
        raise ValueError(
            f"The {name!r} inputs of {owner} must have shape (n, {shape}) "
            f"for model {model.spec!r}. Got {x.shape} instead."
        )
    return check_labels(
        y, _classes(model, x), "y" if name == "x" else f"{name} labels", owner, n_examples=len(x), examples=name
    )


def _classes(model, x) -> int:
    """The model's number of outputs: the units of a final dense layer (any
    activation after it keeps the width), else the width of one forward pass.
    Read off the layer, not computed: an evaluation pass can be long (Gaussian
    DropConnect inference samples many times)."""
    weighted = [layer for layer in model.layers if hasattr(layer, "units")]
    if weighted and getattr(weighted[-1], "kind", None) == "fc":
        return weighted[-1].units
    return model.forward(x[:1], training=False).shape[1]


def evaluate(model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000) -> dict:
    """Mean loss and accuracy of ``model`` in evaluation mode (``training=False``).

    Parameters
    ----------
    model : Sequential
        The model; its output is the logits.
    x : ndarray, shape (n, ...)
        Inputs in the model's dtype and input shape.
    y : ndarray of int, shape (n,)
        Class labels.
    batch_size : int, default 1000
        Examples per forward pass.

    Returns
    -------
    dict
        ``loss`` (mean softmax cross-entropy) and ``accuracy``, floats.
    """
    batch_size = check_int(batch_size, "batch_size", "evaluate", low=1)
    y = _check_data(model, x, y, "x", "evaluate")
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb, training=False)
        loss, _ = softmax_cross_entropy(logits, yb)
        total_loss += float(loss) * len(xb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    return {"loss": total_loss / len(x), "accuracy": correct / len(x)}


def fit(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    optimizer,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    lr_schedule=None,
    validation=None,
    progress: bool | None = None,
    on_epoch_end=None,
    penalties=(),
    before_step=None,
    first_epoch: int = 1,
    split_batch: bool | None = None,
) -> History:
    """Train ``model`` on (x, y) with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        The model, trained in place; its output is the logits.
    x : ndarray, shape (n, ...)
        Inputs in the model's dtype and input shape.
    y : ndarray of int, shape (n,)
        Class labels.
    optimizer : Optimizer
        An :mod:`tdnumpy.training.optim` optimiser over ``model.parameters()``.
    epochs, batch_size : int
        Positive. The last batch of an epoch may be smaller.
    rng : numpy.random.Generator
        The generator that shuffles the examples each epoch.
    lr_schedule : callable, optional
        step -> learning rate, set before every update (see
        :mod:`tdnumpy.training.schedules`).
    validation : tuple of (ndarray, ndarray), optional
        (x_val, y_val), evaluated after every epoch.
    progress : bool, optional
        Show a tqdm bar; ``None`` shows it only on a terminal.
    on_epoch_end : callable, optional
        Called with the epoch's metrics dict after every epoch.
    penalties : sequence of Penalty, default ()
        :mod:`tdnumpy.training.penalties` (L1, L2) whose gradients are added
        after each backward pass; the reported loss is the data term.
    before_step : callable, optional
        Called with the step (0, 1, ... over the whole run) before each step's
        forward pass, e.g. :class:`tdnumpy.pruning.masking.GradualPruning`.
    first_epoch : int, default=1
        The epoch to start at, in [1, epochs]: a resumed run trains epochs
        ``first_epoch`` .. ``epochs``, its steps counted from
        (first_epoch - 1) ceil(n / batch_size), as if the earlier epochs had
        just run (the model, optimiser and generators must be in the state
        they left; see :mod:`tdnumpy.training.state`).
    split_batch : bool or None, default=None
        Compute each step's forward and backward on the two halves of its
        batch in two threads (:mod:`tdnumpy.training.split`): the same
        gradients up to the order of their sums over examples, so a split run
        differs from an unsplit one in the last bits. None splits where that
        was measured faster (:func:`~tdnumpy.training.split.split_by_default`:
        models with a convolution and no dropout layer or rule that learns,
        with NumPy's OpenBLAS on 2 threads). True for a model that cannot be
        split is a ``ValueError``. A split step computes the gradients before
        the loss is checked, so after ``TrainingDiverged`` they hold the
        failed step's.

    Returns
    -------
    History
        One dict per epoch: ``epoch``, ``lr`` (after the epoch's last step),
        ``train_loss`` and ``train_accuracy`` (over the epoch's batches, in
        training mode), ``seconds``, and with ``validation`` ``val_loss`` and
        ``val_accuracy``.

    Raises
    ------
    TrainingDiverged
        As soon as a batch loss is NaN or infinite.
    """
    epochs = check_int(epochs, "epochs", "fit", low=1)
    batch_size = check_int(batch_size, "batch_size", "fit", low=1)
    first_epoch = check_int(first_epoch, "first_epoch", "fit", low=1, high=epochs)
    check_generator(rng, "rng", "fit")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"The 'optimizer' parameter of fit must be a tdnumpy.training.optim optimiser (SGD, Adam). "
            f"Got {type(optimizer).__name__} instead."
        )
    if progress is not None:
        check_bool(progress, "progress", "fit")
    if split_batch is not None:
        check_bool(split_batch, "split_batch", "fit")
    y = _check_data(model, x, y, "x", "fit")
    if split_batch is None:
        split_batch = split_by_default(model)
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(
                f"The 'validation' parameter of fit must be a pair (x_val, y_val). "
                f"Got {type(validation).__name__} instead."
            )
        _check_data(model, validation[0], validation[1], "validation", "fit")
    n = len(x)
    batch_buf = np.empty((min(batch_size, n), *x.shape[1:]), dtype=x.dtype)
    history = History()
    step = (first_epoch - 1) * -(-n // batch_size)
    halves = SplitStep(model) if split_batch else None
    try:
        for epoch in range(first_epoch, epochs + 1):
            start_time = time.perf_counter()
            order = rng.permutation(n)
            total_loss, correct = 0.0, 0
            bar = tqdm(
                range(0, n, batch_size),
                desc=f"epoch {epoch}/{epochs}",
                unit="batch",
                disable=None if progress is None else not progress,
                leave=False,
            )
            for start in bar:
                if before_step is not None:
                    before_step(step)
                idx = order[start : start + batch_size]
                # mode="clip" skips the bounds check that would copy through a temporary
                # (the indices come from a permutation, so they are in range)
                xb = np.take(x, idx, axis=0, out=batch_buf[: len(idx)], mode="clip")
                yb = y[idx]
                if halves is not None:
                    loss, logits = halves.forward_backward(xb, yb)  # the gradients too
                    _check_loss(loss, epoch, step)
                else:
                    logits = model.forward(xb, training=True)
                    batch_loss, grad = softmax_cross_entropy(logits, yb)
                    loss = float(batch_loss)
                    _check_loss(loss, epoch, step)
                    model.backward(grad, input_grad=False)
                for penalty in penalties:
                    penalty.add_gradient()
                if lr_schedule is not None:
                    optimizer.lr = lr_schedule(step)
                optimizer.step()
                step += 1
                total_loss += loss * len(idx)
                correct += int((logits.argmax(axis=1) == yb).sum())
            bar.close()
            metrics = {
                "epoch": epoch,
                "lr": optimizer.lr,
                "train_loss": total_loss / n,
                "train_accuracy": correct / n,
                "seconds": time.perf_counter() - start_time,
            }
            if validation is not None:
                val = evaluate(model, *validation)
                metrics.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
            history.epochs.append(metrics)
            if on_epoch_end is not None:
                on_epoch_end(metrics)
    finally:
        if halves is not None:
            halves.close()
    return history
