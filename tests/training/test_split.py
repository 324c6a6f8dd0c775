"""Split training steps (tdnumpy.training.split): the same gradients as a whole
batch up to rounding, reproducible runs, which models split, and the parts
they are built from (replicas, twins, the loss's total, one BLAS thread).

The comparisons with a whole batch are deterministic (fixed seeds, no
sampling): the two differ only in the order of the sums over examples, which
in float64 moves a gradient by about 1e-16 of the sum of its terms' sizes; the
tolerance below, 1e-9 of the largest gradient entry, is far above that and far
below what a wrong split does (a half missing or counted twice, a half scaled
by its own size instead of the batch's: errors of order 1)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tdnumpy import _blas
from tdnumpy.nn import softmax_cross_entropy
from tdnumpy.nn.dropout import Dropout
from tdnumpy.nn.models import build_model
from tdnumpy.nn.module import Parameter, Sequential
from tdnumpy.nn.noise import (DropConnect, FixedKeep, RandomTargetedUnitDropout, RandomTargetedWeightDropout,
                              TargetedUnitDropout, TargetedWeightDropout, UnitDropout, WeightDropout, attach)
from tdnumpy.nn.weighted import Keep, WeightNoise
from tdnumpy.nn.sparsifying import L0WeightGates, VariationalWeights
from tdnumpy.pruning.masking import GradualPruning
from tdnumpy.training.fit import TrainingDiverged, fit
from tdnumpy.training.optim import SGD
from tdnumpy.training.penalties import L2
from tdnumpy.training.schedules import PolynomialSparsity
from tdnumpy.training import split
from tdnumpy.training.split import SplitStep, split_by_default

SMALL_LENET5 = "lenet5:3-4-12"


def images(rng, n, dtype=np.float64):
    """n random 1x28x28 images in [0, 1) and labels of 10 classes."""
    return rng.random((n, 1, 28, 28)).astype(dtype), rng.integers(0, 10, n)


def whole_batch_gradients(model, x, y):
    logits = model.forward(x, training=True)
    loss, grad = softmax_cross_entropy(logits, y)
    model.backward(grad, input_grad=False)
    return float(loss), logits, [p.grad.copy() for p in model.parameters()]


def assert_close_to(split, whole):
    """Equal up to the rounding of sums taken in another order (see the module docstring)."""
    for a, b in zip(split, whole):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.abs(b).max())


@pytest.mark.parametrize("batch", [2, 7, 16])
def test_a_split_step_gives_the_whole_batch_loss_logits_and_gradients(batch, rng):
    model = build_model(SMALL_LENET5, seed=1, dtype=np.float64)
    x, y = images(rng, batch)
    loss, logits, grads = whole_batch_gradients(model, x, y)
    for p in model.parameters():
        p.grad.fill(np.nan)  # the split step must overwrite every entry
    with SplitStep(model) as step:
        split_loss, split_logits = step.forward_backward(x, y)
    assert split_loss == pytest.approx(loss, rel=1e-12)
    assert_close_to([split_logits], [logits])
    assert_close_to([p.grad for p in model.parameters()], grads)


def test_the_halves_are_the_batch_halves_in_order(rng):
    """Each half's logits are those of its examples: swapping the halves' rows breaks this."""
    model = build_model(SMALL_LENET5, seed=1, dtype=np.float64)
    x, y = images(rng, 5)
    with SplitStep(model) as step:
        _, logits = step.forward_backward(x, y)
    assert_close_to([logits[:2], logits[2:]], [model.forward(x[:2]), model.forward(x[2:])])


def test_a_step_sees_the_values_the_optimiser_changed(rng):
    """The replicas share the parameter arrays: a second step uses the updated weights."""
    model = build_model(SMALL_LENET5, seed=1, dtype=np.float64)
    x, y = images(rng, 6)
    optimizer = SGD(model.parameters(), lr=0.1)
    with SplitStep(model) as step:
        step.forward_backward(x, y)
        optimizer.step()
        _, logits = step.forward_backward(x, y)
        grads = [p.grad.copy() for p in model.parameters()]
    _, whole_logits, whole_grads = whole_batch_gradients(model, x, y)
    assert_close_to([logits], [whole_logits])
    assert_close_to(grads, whole_grads)


def test_a_batch_of_one_runs_whole_on_the_model_itself(rng):
    model = build_model(SMALL_LENET5, seed=1, dtype=np.float64)
    x, y = images(rng, 1)
    loss, logits, grads = whole_batch_gradients(model, x, y)
    for p in model.parameters():
        p.grad.fill(np.nan)
    with SplitStep(model) as step:
        one_loss, one_logits = step.forward_backward(x, y)
    assert one_loss == loss
    np.testing.assert_array_equal(one_logits, logits)
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)


def train(split, x, y, seed=0, epochs=2, batch_size=4):
    model = build_model(SMALL_LENET5, seed=seed)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    fit(model, x, y, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
        rng=np.random.default_rng(seed), progress=False, split_batch=split)
    return [p.value.copy() for p in model.parameters()]


def test_split_runs_are_bit_identical_and_close_to_whole_ones(rng):
    x, y = images(rng, 21, np.float32)  # batches of 4 and a last one of 1, which runs whole
    first, again, whole = train(True, x, y), train(True, x, y), train(False, x, y)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, again))
    # float32 after 12 steps: the orders of summation differ, the training does not
    for a, b in zip(first, whole):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max())


def test_fit_splits_by_default_only_what_was_measured_faster(monkeypatch):
    monkeypatch.setattr(split, "blas_threads", lambda: 2)
    monkeypatch.setattr(split, "blas_threads_settable", lambda: True)
    assert split_by_default(build_model("lenet5"))
    assert not split_by_default(build_model("lenet300"))  # products on one thread each: slower
    ruled = build_model("lenet5")
    attach(ruled, lambda: TargetedWeightDropout(0.5, 0.5))
    assert split_by_default(ruled)
    attach(ruled, L0WeightGates, layers=["fc1"])
    assert not split_by_default(ruled)
    nested = Sequential(Sequential(*build_model(SMALL_LENET5).layers[:2], name="features"), name="outer")
    assert split_by_default(nested)  # a convolution inside a nested container counts


@pytest.mark.parametrize(("threads", "settable"), [(1, True), (4, True), (None, False), (2, False)])
def test_other_thread_counts_and_other_blas_are_never_split(threads, settable, monkeypatch):
    """One BLAS thread (sweep cells, test workers), more than the 2 measured, or a
    BLAS whose thread count tdnumpy cannot set."""
    monkeypatch.setattr(split, "blas_threads", lambda: threads)
    monkeypatch.setattr(split, "blas_threads_settable", lambda: settable)
    assert not split_by_default(build_model("lenet5"))


def test_fit_follows_the_default(rng, monkeypatch):
    """Unless told, fit splits exactly when split_by_default says so."""
    steps = []
    real = SplitStep.forward_backward
    monkeypatch.setattr(SplitStep, "forward_backward", lambda self, *a: steps.append(1) or real(self, *a))
    monkeypatch.setattr(split, "blas_threads_settable", lambda: True)
    x, y = images(rng, 8, np.float32)
    for threads, expected in ((1, 0), (2, 2)):
        steps.clear()
        monkeypatch.setattr(split, "blas_threads", lambda: threads)
        train(None, x, y, epochs=1)
        assert len(steps) == expected


def test_dropout_layers_and_rules_that_learn_are_not_splittable(rng):
    model = build_model(SMALL_LENET5, seed=0)
    attach(model, lambda: TargetedWeightDropout(0.5, 0.5))
    assert model.splittable  # masks drawn once per batch, by the split step
    attach(model, VariationalWeights, layers=["fc1"])
    assert not model.splittable and model.layer("conv1").splittable
    x, y = images(rng, 8, np.float32)
    with pytest.raises(ValueError, match=r"layer 'fc1' \(Dense with VariationalWeights\) draws noise inside"):
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=4,
            rng=np.random.default_rng(0), split_batch=True)
    dropout = build_model("mlp:4-3-2", seed=0)
    dropout.insert_after("relu1", Dropout(0.5, rng=np.random.default_rng(0)))
    assert not dropout.splittable
    with pytest.raises(ValueError, match=r"layer 'drop1' \(Dropout\)"):
        SplitStep(dropout)
    with pytest.raises(ValueError, match=r"layer 'drop1' \(Dropout\)"):  # named inside a nested container
        SplitStep(Sequential(dropout, name="outer"))


RULES = {
    "targeted weight": lambda: TargetedWeightDropout(0.5, 0.5),
    "targeted unit": lambda: TargetedUnitDropout(0.5, 0.5),
    "targeted unit, per example": lambda: TargetedUnitDropout(0.5, 0.5, per_example=True),
    "random targeted weight": lambda: RandomTargetedWeightDropout(0.5, 0.5),
    "random targeted unit, per example": lambda: RandomTargetedUnitDropout(0.5, 0.5, per_example=True),
    "DropConnect": lambda: DropConnect(0.3),
    "unit dropout": lambda: UnitDropout(0.3),
    "weight dropout": lambda: WeightDropout(0.3),
}


# per-example weight masks (DropConnect's) exist for dense layers only
CASES = [(rule, spec) for rule in RULES for spec in (SMALL_LENET5, "mlp:784-12-10")]
CASES.append(("DropConnect, per example", "mlp:784-12-10"))


@pytest.mark.parametrize(("rule", "spec"), CASES)
def test_a_split_step_applies_the_masks_a_whole_step_draws(rule, spec, rng):
    """Two identical models draw identical masks: split and whole steps then agree
    up to rounding, per-example masks included (each half gets its own rows)."""
    make = RULES.get(rule, lambda: DropConnect(0.3, per_example=True))
    x, y = images(rng, 7)
    if spec != SMALL_LENET5:
        x = x.reshape(7, -1)
    models = [build_model(spec, seed=2, dtype=np.float64) for _ in range(2)]
    for model in models:
        attach(model, make)
    _, logits, grads = whole_batch_gradients(models[0], x, y)
    with SplitStep(models[1]) as step:
        _, split_logits = step.forward_backward(x, y)
    assert_close_to([split_logits], [logits])
    assert_close_to([p.grad for p in models[1].parameters()], grads)
    assert {layer.noise.step for layer in models[1].layers if getattr(layer, "noise", None)} == {1}


def test_fit_with_a_rule_splits_close_to_whole_and_counts_every_step(rng):
    """Targeted weight dropout on every layer, batches of 4 and a last one of 1."""
    x, y = images(rng, 13)

    def run(split_batch):
        model = build_model(SMALL_LENET5, seed=0, dtype=np.float64)
        attach(model, lambda: TargetedWeightDropout(0.5, 0.5))
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05), epochs=1, batch_size=4,
            rng=np.random.default_rng(0), progress=False, split_batch=split_batch)
        return model

    split_model, whole_model = run(True), run(False)
    assert_close_to([p.value for p in split_model.parameters()], [p.value for p in whole_model.parameters()])
    assert {layer.noise.step for layer in split_model.layers if getattr(layer, "noise", None)} == {4}


def test_a_rule_in_a_nested_container_draws_once_per_step(rng):
    inner = build_model("mlp:784-12-10", seed=0, dtype=np.float64)
    attach(inner, lambda: TargetedWeightDropout(0.5, 0.5))
    model = Sequential(inner, name="outer")
    x, y = images(rng, 6)
    with SplitStep(model) as step:
        step.forward_backward(x.reshape(6, -1), y)
    assert [layer.noise.step for layer in inner.layers if getattr(layer, "noise", None)] == [1, 1]


class CustomRule(WeightNoise):
    """A rule tdnumpy knows nothing about: its hooks might matter, so it is not split."""

    def _sample(self, layer, batch, step):
        return Keep()


def test_only_known_mask_rules_are_splittable():
    model = build_model(SMALL_LENET5, seed=0)
    attach(model, CustomRule, layers=["fc2"])
    assert not model.splittable


def test_a_batch_wide_mask_with_one_row_is_applied_to_both_halves(rng):
    """A (1, units) unit mask broadcasts over the batch whole; a split step passes it on as it is."""
    x, y = images(rng, 6)
    units = np.array([[True] * 6 + [False] * 6])
    models = [build_model("mlp:784-12-10", seed=2, dtype=np.float64) for _ in range(2)]
    for model in models:
        attach(model, lambda: FixedKeep(units=units), layers=["fc1"])
    _, logits, grads = whole_batch_gradients(models[0], x.reshape(6, -1), y)
    with SplitStep(models[1]) as step:
        _, split_logits = step.forward_backward(x.reshape(6, -1), y)
    assert_close_to([split_logits], [logits])
    assert_close_to([p.grad for p in models[1].parameters()], grads)


@pytest.mark.skipif(not _blas.blas_threads_settable(), reason="needs NumPy's OpenBLAS, whose thread count tdnumpy sets")
def test_an_error_in_one_half_waits_for_the_other_and_restores_blas(rng, monkeypatch):
    """The worker's half ends, on one BLAS thread, before the main half's error leaves the step."""
    model = build_model(SMALL_LENET5, seed=0)
    x, y = images(rng, 6, np.float32)
    finished, threads_seen = [], []
    real = split._forward_backward

    def failing_on_the_main_thread(*args):
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("this half failed")
        time.sleep(0.2)
        threads_seen.append(_blas.blas_threads())
        finished.append(real(*args))
        return finished[-1]

    monkeypatch.setattr(split, "_forward_backward", failing_on_the_main_thread)
    _, setter = _blas._thread_count_functions()
    original = _blas.blas_threads()
    try:
        setter(2)  # the test workers run with one thread: start from another count
        with SplitStep(model) as step:
            with pytest.raises(RuntimeError, match="this half failed"):
                step.forward_backward(x, y)
            assert len(finished) == 1 and threads_seen == [1] and _blas.blas_threads() == 2
    finally:
        setter(original)


def test_numpy_error_settings_hold_in_both_halves(rng):
    model = build_model("mlp:4-3-2", seed=0)
    x = np.ones((4, 4), np.float32)
    x[0] = 3e38  # only in the first half, the worker thread's
    with SplitStep(model) as step, np.errstate(over="raise", invalid="raise"), pytest.raises(FloatingPointError):
        step.forward_backward(x, np.zeros(4, dtype=int))


RUN = """
import hashlib, numpy as np
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import TargetedWeightDropout, attach
from tdnumpy.training.fit import fit
from tdnumpy.training.optim import SGD
rng = np.random.default_rng(0)
x, y = rng.random((65, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 65)
model = build_model("lenet5", seed=0)
attach(model, lambda: TargetedWeightDropout(0.5, 0.5), layers=["fc1"])
fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=32,
    rng=np.random.default_rng(0), progress=False, split_batch=True)
print(hashlib.sha256(b"".join(p.value.tobytes() for p in model.parameters())).hexdigest())
"""


@pytest.mark.skipif(not _blas.blas_threads_settable(), reason="needs NumPy's OpenBLAS, whose thread count tdnumpy sets")
def test_a_split_run_does_not_depend_on_the_blas_thread_count():
    """Batches of 32 and a last one of 1, which also runs on one BLAS thread (LeNet-5's
    products for 16 examples or one are large enough for OpenBLAS to share them out)."""
    runs = {}
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads}
        runs[threads] = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, check=True,
                                       env=env).stdout.strip()
    assert len(runs["1"]) == 64 and runs["1"] == runs["2"]


def test_split_batch_must_be_a_bool(rng):
    model = build_model(SMALL_LENET5, seed=0)
    x, y = images(rng, 4, np.float32)
    with pytest.raises(TypeError, match="split_batch"):
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=4,
            rng=np.random.default_rng(0), split_batch="yes")


def split_threads():
    return [t for t in threading.enumerate() if t.name.startswith("tdnumpy-split")]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_fit_stops_its_worker_thread_even_when_training_fails(rng):
    x, y = images(rng, 8, np.float32)
    train(True, x, y, epochs=1)
    assert split_threads() == []
    model = build_model(SMALL_LENET5, seed=0)
    x[3, 0, 5, 5] = np.inf
    with pytest.raises(TrainingDiverged):
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8,
            rng=np.random.default_rng(0), split_batch=True)
    assert split_threads() == []


def test_a_replica_shares_values_not_gradients_or_scratch():
    model = build_model(SMALL_LENET5, seed=0)
    clone = model.replica()
    assert isinstance(clone, Sequential) and clone.layers is not model.layers
    for p, q in zip(model.parameters(), clone.parameters()):
        assert q.value is p.value and q.grad is not p.grad and q.name == p.name
    conv, conv_clone = model.layer("conv1"), clone.layer("conv1")
    assert conv_clone._buffers is not conv._buffers


def test_a_replica_masks_weights_into_an_array_of_its_own(rng):
    model = build_model(SMALL_LENET5, seed=0)
    attach(model, lambda: TargetedWeightDropout(0.5, 0.5))
    model.forward(images(rng, 2, np.float32)[0], training=True)  # the layers now hold W * keep
    clone = model.replica()
    for layer, copy in zip(model.layers, clone.layers):
        if hasattr(layer, "noise"):
            assert layer._masked_weight is not None and copy._masked_weight is None


def test_a_twin_shares_the_value_and_mask_only():
    p = Parameter(np.arange(4.0), "w")
    p.set_mask(np.array([True, False, True, True]))
    twin = p.twin()
    assert twin.value is p.value and twin.mask is p.mask and twin.name == "w"
    assert twin.grad is not p.grad and not twin.grad.any()


def test_the_losses_of_parts_add_up_to_the_whole_batch(rng):
    logits = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    loss, grad = softmax_cross_entropy(logits, labels)
    first, g1 = softmax_cross_entropy(logits[:2], labels[:2], total=6)
    second, g2 = softmax_cross_entropy(logits[2:], labels[2:], total=6)
    assert first + second == pytest.approx(loss, rel=1e-14)
    np.testing.assert_array_equal(np.concatenate([g1, g2]), grad)  # the same divisions, bit for bit
    with pytest.raises(ValueError, match="total"):
        softmax_cross_entropy(logits, labels, total=5)


@pytest.mark.skipif(not _blas.blas_threads_settable(), reason="needs NumPy's OpenBLAS, whose thread count tdnumpy sets")
def test_one_blas_thread_sets_and_restores_the_count():
    _, setter = _blas._thread_count_functions()
    original = _blas.blas_threads()
    try:
        setter(2)  # the test workers run with one thread: start from another count
        with _blas.one_blas_thread() as limited:
            inside = _blas.blas_threads()
        assert limited and inside == 1 and _blas.blas_threads() == 2
    finally:
        setter(original)


def test_one_blas_thread_leaves_another_blas_alone(monkeypatch):
    monkeypatch.setattr(_blas, "_thread_count_functions", lambda: (None, None))
    with _blas.one_blas_thread() as limited:
        assert not limited
    assert not _blas.blas_threads_settable()


def test_a_run_resumed_between_epochs_is_bit_identical_when_split(rng):
    """Replicas are made afresh by each fit call and keep nothing between steps."""
    x, y = images(rng, 12, np.float32)

    def run(pieces):
        model = build_model(SMALL_LENET5, seed=0)
        optimizer, shuffle = SGD(model.parameters(), lr=0.05, momentum=0.9), np.random.default_rng(0)
        for first, last in pieces:
            fit(model, x, y, optimizer=optimizer, epochs=last, batch_size=4, rng=shuffle, progress=False,
                first_epoch=first, split_batch=True)
        return [p.value.tobytes() for p in model.parameters()]

    assert run([(1, 2)]) == run([(1, 1), (2, 2)])


def test_split_steps_keep_pruned_weights_at_zero_and_add_penalties(rng):
    """Gradual pruning (masks set between steps on the shared values) and an L2
    penalty (added to the summed gradient) work on split steps as on whole ones."""
    x, y = images(rng, 16)

    def run(split):
        model = build_model(SMALL_LENET5, seed=0, dtype=np.float64)
        optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
        pruning = GradualPruning(model, PolynomialSparsity(0.6, start=1, steps=3, interval=2))
        fit(model, x, y, optimizer=optimizer, epochs=2, batch_size=4, rng=np.random.default_rng(0), progress=False,
            penalties=[L2(model, 1e-3)], before_step=pruning, split_batch=split)
        return model.parameters()

    split_params, whole_params = run(True), run(False)
    assert any(p.mask is not None for p in split_params)
    for p in split_params:
        if p.mask is not None:
            assert not p.value[~p.mask].any() and (~p.mask).sum() > 0
    # float64 after 8 steps: rounding of sums in another order (see the module docstring), no more
    assert_close_to([p.value for p in split_params], [p.value for p in whole_params])
