"""A training step computed on two halves of its batch at once, one per thread.

NumPy runs every element-wise pass (patch copies, pooling, the bias, the
activations) on one thread, and OpenBLAS splits only the matrix products; on
LeNet-5 those single-threaded passes are about half of a step, so one of the
two cores idles for half of it. Splitting the batch instead keeps both busy
throughout: two replicas of the model (:meth:`~tdnumpy.nn.Module.replica`,
sharing the parameter values) each run forward and backward on one half, in
two threads, with OpenBLAS held to one thread per product
(:func:`tdnumpy._blas.one_blas_thread`); the halves' gradients are then added
into the model's own.

This is exact for a model whose layers treat examples one by one
(:attr:`~tdnumpy.nn.Module.splittable`): each half's loss and output gradient
are its share of the whole batch's mean, so the activations and output
gradients are those of the whole batch, and the parameter gradient, a sum over
examples, is the sum of the halves' sums. A weight-noise rule (targeted
dropout, DropConnect, ...) draws its masks here, once for the whole batch, from
the layer's own generator as an unsplit step would, and each half applies the
same masks (the rows of its examples, for per-example masks). Only the order
of the sums over examples changes, so a split step's gradients differ from a
whole step's in the last bits (float32: relative differences around 1e-7),
and a split run is reproducible bit for bit as any run is, but is not
bit-identical to an unsplit one; with NumPy's OpenBLAS it no longer depends
on the thread count. Models with dropout layers, which draw inside their
forward pass, or with rules that learn are never split.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .._blas import blas_threads, blas_threads_settable, one_blas_thread
from ..nn.conv import Conv2D
from ..nn.loss import softmax_cross_entropy
from ..nn.weighted import Keep, WeightNoise


def split_by_default(model) -> bool:
    """Whether :func:`~tdnumpy.training.fit.fit` splits steps when not told.

    Yes for a splittable model with a convolution when NumPy's OpenBLAS runs
    two threads, the case measured: on the 2-core machine of the benchmarks a
    split LeNet-5 step took 0.62-0.90 of the whole one (0.88 with targeted
    weight dropout), while a split LeNet-300-100 step, whose products are
    most of its time and run slower on one thread each, took 1.1-1.8 times as
    long. A process held to one BLAS thread (``OPENBLAS_NUM_THREADS=1``: the
    workers of a sweep, one core each) is not split; nor, unmeasured, is one
    whose OpenBLAS runs more threads (where a step would use two of them), or
    one whose BLAS tdnumpy cannot hold to one thread (not NumPy's OpenBLAS).

    Parameters
    ----------
    model : Sequential
        The model to train.

    Returns
    -------
    bool
        ``model.splittable``, some layer is a :class:`~tdnumpy.nn.Conv2D`,
        and NumPy's OpenBLAS runs exactly 2 threads and can be set to 1.
    """
    if blas_threads() != 2 or not blas_threads_settable():
        return False
    return model.splittable and any(isinstance(layer, Conv2D) for layer in _leaves(model))


class SplitStep:
    """Forward and backward of training steps on the two halves of each batch, in two threads.

    Use as a context manager (the worker thread is stopped on leaving). The
    replicas are made once, so the model's layers must not be replaced while
    it is in use; parameter values may change in place (the optimiser,
    pruning masks).

    Parameters
    ----------
    model : Sequential
        A model whose ``splittable`` is True; its parameters' ``grad`` receive
        each step's gradients.

    Raises
    ------
    ValueError
        If the model is not splittable (it names the first layer that is not).
    """

    def __init__(self, model):
        if not model.splittable:
            culprit = next(layer for layer in _leaves(model) if not layer.splittable)
            rule = getattr(culprit, "noise", None)
            what = type(culprit).__name__ + ("" if rule is None else f" with {type(rule).__name__}")
            raise ValueError(
                f"A training step of this model cannot be split over parts of its batch: layer "
                f"{culprit.name!r} ({what}) draws noise inside its forward pass, learns a rule's "
                "parameters or does not treat examples one by one."
            )
        self.model = model
        self.halves = (model.replica(), model.replica())
        self._pairs = list(zip(model.parameters(), *(half.parameters() for half in self.halves)))
        self._ruled = []  # (layer, its replicas' given masks) for the layers with a rule
        for layer, *copies in zip(_leaves(model), *(_leaves(half) for half in self.halves)):
            if getattr(layer, "noise", None) is not None:
                given = [_GivenKeep() for _ in copies]
                for clone, rule in zip(copies, given):
                    clone.noise = rule
                self._ruled.append((layer, given))
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tdnumpy-split")

    def __enter__(self) -> "SplitStep":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker thread."""
        self._worker.shutdown(wait=True)

    def forward_backward(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """One step's loss, logits and parameter gradients, each half of the batch on its own thread.

        A batch of one example runs whole, on the model itself, with the same
        single BLAS thread, so that a run's results never depend on OpenBLAS's
        thread count. NumPy's floating-point error settings (``np.errstate``)
        hold in both threads.

        Parameters
        ----------
        x : ndarray of shape (batch, ...)
            The step's inputs, batch >= 1.
        labels : ndarray of int of shape (batch,)
            Their class labels.

        Returns
        -------
        loss : float
            The mean cross-entropy over the batch.
        logits : ndarray of shape (batch, classes)
            The model's outputs, in the order of ``x``.
        """
        n = len(x)
        if n < 2:
            with one_blas_thread():
                loss, logits = _forward_backward(self.model, x, labels, n)
            return float(loss), logits
        middle = n // 2
        first, second = self.halves
        for layer, (given_first, given_second) in self._ruled:
            keep = layer.noise.sample(layer, n)
            given_first.keep, given_second.keep = _rows(keep, 0, middle, n), _rows(keep, middle, n, n)
        with one_blas_thread():
            context = contextvars.copy_context()  # np.errstate lives in a context variable
            pending = self._worker.submit(context.run, _forward_backward, first, x[:middle], labels[:middle], n)
            try:
                loss_second, logits_second = _forward_backward(second, x[middle:], labels[middle:], n)
            finally:
                wait([pending])  # the worker's half ends under one BLAS thread, even if this one failed
            loss_first, logits_first = pending.result()
        for param, one, other in self._pairs:
            np.add(one.grad, other.grad, out=param.grad)
        return float(loss_first) + float(loss_second), np.concatenate([logits_first, logits_second])


def _forward_backward(model, x: np.ndarray, labels: np.ndarray, total: int):
    """Loss share and logits of ``model`` on a part of a batch of ``total``, its gradients filled."""
    logits = model.forward(x, training=True)
    loss, grad = softmax_cross_entropy(logits, labels, total=total)
    model.backward(grad, input_grad=False)
    return loss, logits


class _GivenKeep(WeightNoise):
    """The rule of a replica layer: applies the masks the split step drew for it."""

    keep = Keep()

    def _sample(self, layer, batch, step):
        return self.keep


def _rows(keep: Keep, start: int, stop: int, batch: int) -> Keep:
    """``keep`` for the examples start:stop of its batch: per-example masks (one row
    per example of the batch) cut to their rows, any other mask as it is."""

    def cut(mask, per_example_ndim):
        if mask is None or mask.ndim != per_example_ndim or len(mask) != batch:
            return mask
        return mask[start:stop]

    return keep._replace(weight=cut(keep.weight, 3), units=cut(keep.units, 2), bias=cut(keep.bias, 2))


def _leaves(model):
    """The layers of ``model``, those of nested containers in their place."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaves(layer)
        else:
            yield layer
