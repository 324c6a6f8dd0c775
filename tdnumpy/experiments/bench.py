"""Benchmarks: one MNIST training epoch, in tdnumpy and (optionally) in PyTorch.

Both sides do the same work: the same model with the same initial weights,
the same shuffled order of examples, batch size, float32, SGD with momentum
and the same learning rate. PyTorch runs in a child process of its own (so
that its threads and OpenBLAS's spinning threads in ours never compete) and
a lean loop over preloaded tensors (no DataLoader), so the ratio measures the
two training steps, not data loading. The two alternate in turns of
``TURN_STEPS`` steps over the same examples (A B B A A B ...), so that drift
in the machine's speed affects both alike; the figures quoted are the median
over the turns of the per-turn ratio with its quartiles, the whole epochs'
pairwise median and range, and fastest against fastest. The run reports the load average before and after and the
share of this machine's float32 GEMM rate (measured in the same run) each
side reaches. The GEMM rate is measured again at the end: a run that started
on a loaded machine, or during which the machine's speed drifted, says its
figures are not to be quoted.

This is a benchmark, never a test: timings on shared machines are noisy.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

import numpy as np

from ..data import load_dataset, to_inputs
from .. import _blas
from .._validation import check_real
from ..masks.tracking import WeightTargetTracker
from ..nn.models import build_model
from ..nn.noise import DropConnect, TargetedWeightDropout
from ..training.optim import SGD
from ..training.fit import fit
from ..training.split import split_by_default
from .._docs import shared_docstring
from .torch_peer import EPOCH, TorchChild
from .torch_peer import torch_twin  # noqa: F401  (in this module since release 0.1)


def _numpy_epoch(model, x, y, order, batch_size, lr, momentum):
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)
    rng = _FixedOrder(order)
    start = time.perf_counter()
    fit(model, x, y, optimizer=optimizer, epochs=1, batch_size=batch_size, rng=rng, progress=False)
    return time.perf_counter() - start


class _FixedOrder(np.random.Generator):
    """A Generator whose ``permutation`` returns a given order, so that both
    frameworks visit the examples in the same sequence."""

    def __init__(self, order):
        super().__init__(np.random.PCG64(0))
        self._order = order

    def permutation(self, n):
        return self._order


def gemm_rate(size: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate, in GFLOP/s: the fastest of
    ``repeats`` products of two size x size matrices (after one warm-up).

    Parameters
    ----------
    size : int
        The matrices' side.
    repeats : int
        Timed products.

    Returns
    -------
    float
        2 size^3 / seconds / 1e9.
    """
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def unquotable(load_before: float, rate_before: float, rate_after: float, drift: float = 0.1) -> str:
    """Why a benchmark run's figures are not to be quoted, or "" if they are.

    Parameters
    ----------
    load_before : float
        The 1-minute load average when the run started; 0.5 or more is a
        loaded machine.
    rate_before, rate_after : float
        The float32 GEMM rate (:func:`gemm_rate`) at the start and at the end.
    drift : float, default=0.1
        The largest relative change of the GEMM rate taken as a steady machine.

    Returns
    -------
    str
        The reasons, joined by "; ", or "".

    Raises
    ------
    ValueError, TypeError
        If the load average or ``drift`` is negative or a rate is not positive.
    """
    owner = "unquotable"
    load_before = check_real(load_before, "load_before", owner, low=0.0)
    rate_before = check_real(rate_before, "rate_before", owner, low=0.0, closed="neither")
    rate_after = check_real(rate_after, "rate_after", owner, low=0.0, closed="neither")
    drift = check_real(drift, "drift", owner, low=0.0)
    reasons = []
    if load_before >= 0.5:
        reasons.append(f"load average {load_before:.2f} before, 0.5 or more: a loaded machine")
    change = rate_after / rate_before - 1
    if abs(change) > drift:
        reasons.append(f"the GEMM rate changed by {100 * change:+.0f}% during the run: the machine's speed drifted")
    return "; ".join(reasons)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def epoch_flops(model, examples: int) -> float:
    """Floating-point operations of the matrix products of one training epoch:
    per weighted layer 2 R fan_in units for the forward product, as much for
    dL/dW and, but in the first layer, for dL/dx (R: the rows the layer
    multiplies per example, OH OW for a convolution).

    Parameters
    ----------
    model : Sequential
        The network.
    examples : int
        Examples per epoch.

    Returns
    -------
    float
        The operations.
    """
    x = np.zeros((1,) + tuple(model.input_shape), model.dtype)
    total, first = 0.0, True
    for layer in model.layers:
        if hasattr(layer, "linear_rows"):
            rows = layer.linear_rows(x)[0].shape[0]
            total += 2.0 * rows * layer.fan_in * layer.units * (2 if first else 3)
            first = False
        x = layer.forward(x)
    return total * examples


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    Returns
    -------
    float
        ``ru_maxrss`` in MiB (Linux reports KiB, macOS bytes).
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


# Steps per turn when epochs are timed in turns: 30-150 ms of LeNet-300-100, about 0.7 s of LeNet-5.
TURN_STEPS = 20


def _quartiles(values) -> str:
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.2f} to {high:.2f}"


def _numpy_turns(model, x, y, order, batch_size, lr, momentum):
    """turn(start, stop) -> seconds: train ``model`` on the examples
    order[start:stop], gathered before the clock starts, with one SGD
    optimiser kept from turn to turn; turns from 0 to len(order) in sequence
    train exactly as one epoch over ``order``."""
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)

    def turn(start: int, stop: int) -> float:
        chosen = order[start:stop]
        xs, ys, in_order = x[chosen], y[chosen], _FixedOrder(np.arange(len(chosen)))
        began = time.perf_counter()
        fit(model, xs, ys, optimizer=optimizer, epochs=1, batch_size=batch_size, rng=in_order, progress=False)
        return time.perf_counter() - began

    return turn


def _in_turns(turns: dict, n: int, span: int) -> dict[str, list[float]]:
    """One epoch of n examples for each side of ``turns`` (name -> turn(start,
    stop) -> seconds), in turns of ``span`` examples; the seconds of each
    turn, per name. Who goes first rotates from turn to turn.

    Alternating every few steps, not every epoch, puts both sides of each
    ratio on the same machine: this one's speed drifts at the scale of
    seconds (ratios of whole LeNet-300-100 epochs run one after another
    ranged from 1.44 to 2.44 within one run).
    """
    names = list(turns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for k, start in enumerate(range(0, n, span)):
        first = k % len(names)
        for name in names[first:] + names[:first]:
            times[name].append(turns[name](start, min(start + span, n)))
    return times


@shared_docstring(epoch=EPOCH)
def bench_epoch(
    model_spec: str, *, batch_size=128, lr=0.05, momentum=0.9, repeats=3, vs_torch=False, data_dir=None, print_fn=print
) -> dict:
    """Time one MNIST training epoch of ``model_spec``; return the figures as a dict.

    Each epoch is taken in turns of ``TURN_STEPS`` steps, each turn's
    examples gathered before its clock starts; with ``vs_torch`` the two
    frameworks alternate turn by turn over the same examples, and the ratio
    reported first is the median over the turns of the per-turn ratio. The
    peak resident memory reported is this process's after loading MNIST and
    training one tdnumpy epoch (PyTorch runs in a child process).

    Parameters
    ----------
    {{epoch}}
    repeats : int
        Timed epochs per framework, after one warm-up epoch each.
    vs_torch : bool
        Also time the same epoch in PyTorch on the CPU, in a child process,
        alternating with ours turn by turn.
    data_dir : str, os.PathLike or None
        Folder holding the MNIST files (None: the usual look-up).
    print_fn : callable
        Receives the report: the load average and GEMM rate at the start, a line per
        framework (median and fastest epoch, examples per second, share of
        the GEMM rate), the memory, with ``vs_torch`` the ratios, and the load
        average and GEMM rate at the end, with :func:`unquotable`'s objection.

    Returns
    -------
    dict
        Medians and minima per framework (``"tdnumpy"``, ``"torch"``), examples
        per second, ``peak_rss_mib``, ``gemm_gflops`` and ``gemm_gflops_after``
        (the GEMM rate at the start and at the end), ``epoch_gflop``,
        ``load_before`` and ``load_after`` (1-minute load averages),
        ``split_batch`` (whether fit split the steps) and, with
        ``vs_torch``, ``ratio_median`` and ``ratio_quartiles`` (over the
        turns), ``ratio_epochs`` and ``ratio_range`` (the epochs' totals,
        pairwise) and ``ratio_fastest``.
    """
    load_before = os.getloadavg()[0]
    data = load_dataset("mnist", data_dir)
    template = build_model(model_spec, seed=0)
    x = to_inputs(data.train.images, template.input_shape)
    y = data.train.labels
    order = np.random.default_rng(0).permutation(len(x))
    args = (x, y, order, batch_size, lr, momentum)
    rate, flops = gemm_rate(), epoch_flops(template, len(x))
    print_fn(
        f"load average {load_before:.2f} before; float32 GEMM {rate:.0f} GFLOP/s here; an epoch's products "
        f"are {flops / 1e9:.1f} GFLOP ({flops / 1e9 / rate:.3f} s at that rate)"
    )
    print_fn(_blas.describe())
    split = split_by_default(template)
    print_fn(
        "tdnumpy steps: each batch split in halves, one thread and one BLAS thread each (fit's default here)"
        if split
        else "tdnumpy steps: whole batches, OpenBLAS's threads in the products (fit's default here)"
    )
    runs: dict[str, list[float]] = {"tdnumpy": []}
    # A warm-up epoch (page faults, BLAS threads), also the one the memory figure covers.
    _numpy_epoch(build_model(model_spec, seed=0), *args)
    result = {
        "model": model_spec,
        "batch_size": batch_size,
        "examples": len(x),
        "repeats": repeats,
        "peak_rss_mib": peak_rss_mib(),
        "gemm_gflops": rate,
        "epoch_gflop": flops / 1e9,
        "load_before": load_before,
        "split_batch": split,
    }
    child = None
    if vs_torch:
        child = TorchChild(model_spec, batch_size, lr, momentum, data_dir)
        runs["torch"] = []
        print_fn(f"PyTorch {child.version}, {child.threads} threads, in a process of its own")
        child.turn(0, len(x))  # its warm-up
    turns: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for _ in range(repeats):
            turn_of = {"tdnumpy": _numpy_turns(build_model(model_spec, seed=0), *args)}
            if child is not None:
                turn_of["torch"] = child.turn
            for name, seconds in _in_turns(turn_of, len(x), TURN_STEPS * batch_size).items():
                turns[name] += seconds
                runs[name].append(sum(seconds))
    finally:
        if child is not None:
            child.close()
    result["load_after"] = os.getloadavg()[0]
    result["gemm_gflops_after"] = gemm_rate()
    for name, times in runs.items():
        med = statistics.median(times)
        result[name] = {
            "median_seconds": med,
            "min_seconds": min(times),
            "examples_per_second": len(x) / med,
            "gemm_fraction": flops / 1e9 / rate / min(times),
        }
        print_fn(
            f"{name:>8}: {med:.3f} s per epoch (median of {repeats}; min {min(times):.3f} s), "
            f"{len(x) / med:,.0f} examples/s, {100 * result[name]['gemm_fraction']:.0f}% of the GEMM rate"
        )
    print_fn(
        f"    peak resident memory of tdnumpy training (MNIST loaded, one epoch): {result['peak_rss_mib']:.0f} MiB"
    )
    if vs_torch:
        ratios = [a / b for a, b in zip(turns["tdnumpy"], turns["torch"])]
        epochs = [a / b for a, b in zip(runs["tdnumpy"], runs["torch"])]
        result["ratio_median"] = statistics.median(ratios)
        result["ratio_quartiles"] = tuple(statistics.quantiles(ratios, n=4)[::2])
        result["ratio_epochs"] = statistics.median(epochs)
        result["ratio_range"] = (min(epochs), max(epochs))
        result["ratio_fastest"] = min(runs["tdnumpy"]) / min(runs["torch"])
        print_fn(
            f"   ratio: tdnumpy / PyTorch = {result['ratio_median']:.2f} (median over {len(ratios)} turns of "
            f"{TURN_STEPS} steps; quartiles {_quartiles(ratios)}); whole epochs {result['ratio_epochs']:.2f} "
            f"({min(epochs):.2f} to {max(epochs):.2f}); fastest against fastest {result['ratio_fastest']:.2f}"
        )
    objection = unquotable(load_before, rate, result["gemm_gflops_after"])
    print_fn(
        f"load average {result['load_after']:.2f} after; float32 GEMM {result['gemm_gflops_after']:.0f} GFLOP/s after"
        + (f"  (figures not to be quoted: {objection})" if objection else "")
    )
    return result


def _median_time(fn, repeats: int) -> float:
    return statistics.median(_timed(fn) for _ in range(repeats))


def _with_rule(model_spec: str, make_rule):
    """A new ``model_spec`` model (seed 0) with ``make_rule()`` on every weighted layer (None: none)."""
    from ..nn.noise import attach

    model = build_model(model_spec, seed=0)
    if make_rule is not None:
        attach(model, make_rule)
    return model


class _RankedOnce(WeightTargetTracker):
    """A tracker that ranks at its first call and returns those targets ever after.

    Targeted weight dropout (constant gamma) with it draws and applies its masks
    as with a true tracker: its slowdown is what the masks cost, ranking the rest."""

    _first: np.ndarray | None = None

    def rows(self, w, gamma):
        if self._first is None:
            self._first = super().rows(w, gamma).copy()
        return self._first


def _ranked_once(gamma, alpha):
    rule = TargetedWeightDropout(gamma, alpha)
    rule.tracker = _RankedOnce()
    return rule


def bench_masks(*, size=4096, repeats=3, batch_sizes=(128, 512), data_dir=None, print_fn=print) -> dict:
    """Targeted-dropout cost as ratios measured in one run: each mask of a
    size x size float32 matrix against one size x size matmul, and a LeNet-300-100
    epoch with targeted weight dropout (gamma = alpha = 0.5, every layer)
    against the same epoch without.

    The epochs also run with DropConnect at p = 0.25, which drops the same
    expected fraction of weights (gamma alpha) without ranking anything (it
    also masks the biases, which targeted dropout does not), and with
    targeted weight dropout whose targets are ranked at the first step only
    (:class:`_RankedOnce`): its slowdown is what drawing and applying the
    masks cost, and ranking the weights at every step costs the rest. The four
    epochs are trained in turns of ``TURN_STEPS`` steps, and a rule's slowdown
    is the median over all turns of its turn's time over the plain model's
    turn on the same batches.

    Parameters
    ----------
    size : int
        The side of the square float32 matrix the masks are drawn for.
    repeats : int
        Timed runs of each figure.
    batch_sizes : tuple of int
        The batch sizes of the epochs compared.
    data_dir : str, os.PathLike or None
        Folder holding the MNIST files (None: the usual look-up).
    print_fn : callable
        Receives the report: the load average and the matmul's time, a line
        per mask, per batch size the plain epoch and each rule's slowdown,
        then the load average and the matmul's rate again at the end, with
        :func:`unquotable`'s objection.

    Returns
    -------
    dict
        Each mask's time over the matmul's, per batch size the epoch
        slowdowns (median over the turns, the epochs' totals' median and
        fastest against fastest),
        ``load_before`` and ``load_after`` (1-minute load averages) and
        ``gemm_gflops`` and ``gemm_gflops_after`` (the matmul's rate at the
        start and at the end).
    """
    from .. import masks

    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((size, size)).astype(np.float32)
    w @ w  # warm-up: page faults, BLAS threads
    matmul = _median_time(lambda: w @ w, repeats)
    result = {"size": size, "load_before": load_before, "gemm_gflops": 2 * size**3 / matmul / 1e9}
    print_fn(
        f"load average {load_before:.2f} before; {size}x{size} float32 matmul: {matmul:.3f} s "
        f"(median of {repeats}; {result['gemm_gflops']:.0f} GFLOP/s)"
    )
    print_fn(_blas.describe())
    functions = {
        "targeted_weight_keep": lambda: masks.targeted_weight_keep(w, 0.5, 0.5, rng),
        "targeted_unit_keep": lambda: masks.targeted_unit_keep(w, 0.5, 0.5, rng),
        "tf_targeted_weight_keep": lambda: masks.tf_targeted_weight_keep(w, 0.5, 0.5, rng),
        "tf_targeted_unit_keep": lambda: masks.tf_targeted_unit_keep(w, 0.5, 0.5, rng),
    }
    for name, fn in functions.items():
        seconds = _median_time(fn, repeats)
        result[name] = seconds / matmul
        print_fn(f"  {name:<24} {seconds:.3f} s = {seconds / matmul:.2f} x the matmul")
    data = load_dataset("mnist", data_dir)
    x = to_inputs(data.train.images, (784,))
    order = np.random.default_rng(0).permutation(len(x))
    rules = {
        "targeted weight dropout": ("epoch_slowdown", lambda: TargetedWeightDropout(0.5, 0.5)),
        "DropConnect": ("dropconnect_slowdown", lambda: DropConnect(0.25)),
        "targets ranked once": ("ranked_once_slowdown", lambda: _ranked_once(0.5, 0.5)),
    }
    makers = {"plain": None, **{name: make_rule for name, (_, make_rule) in rules.items()}}
    for batch_size in batch_sizes:
        turns: dict[str, list[float]] = {name: [] for name in makers}
        epochs: dict[str, list[float]] = {name: [] for name in makers}
        for _ in range(repeats):
            turn_of = {
                name: _numpy_turns(_with_rule("lenet300", make), x, data.train.labels, order, batch_size, 0.05, 0.9)
                for name, make in makers.items()
            }
            run = _in_turns(turn_of, len(x), TURN_STEPS * batch_size)
            for name, turn_times in run.items():
                turns[name] += turn_times
                epochs[name].append(sum(turn_times))
        plain = epochs["plain"]
        print_fn(
            f"LeNet-300-100 epoch, batch {batch_size}: plain {statistics.median(plain):.2f} s (median of "
            f"{repeats}); epochs taken in turns of {TURN_STEPS} steps; with a rule on every layer, as a "
            "multiple of the plain model's time:"
        )
        for name, (key, _) in rules.items():
            ratios = [t / p for t, p in zip(turns[name], turns["plain"])]
            totals = [t / p for t, p in zip(epochs[name], plain)]
            result[f"{key}_batch{batch_size}"] = statistics.median(ratios)
            result[f"{key}_batch{batch_size}_epochs"] = statistics.median(totals)
            fastest = result[f"{key}_batch{batch_size}_fastest"] = min(epochs[name]) / min(plain)
            print_fn(
                f"  {name:<24} {statistics.median(ratios):.2f} x (median over {len(ratios)} turns; "
                f"quartiles {_quartiles(ratios)}); whole epochs {statistics.median(totals):.2f} x "
                f"({min(totals):.2f} to {max(totals):.2f}), fastest against fastest {fastest:.2f} x"
            )
    result["load_after"] = os.getloadavg()[0]
    result["gemm_gflops_after"] = 2 * size**3 / _median_time(lambda: w @ w, repeats) / 1e9
    objection = unquotable(load_before, result["gemm_gflops"], result["gemm_gflops_after"])
    print_fn(
        f"load average {result['load_after']:.2f} after; the matmul at {result['gemm_gflops_after']:.0f} GFLOP/s"
        + (f"  (figures not to be quoted: {objection})" if objection else "")
    )
    return result
