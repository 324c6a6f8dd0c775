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

import threading

import numpy as np
import pytest

from tdnumpy import _blas
from tdnumpy.nn import softmax_cross_entropy
from tdnumpy.nn.dropout import Dropout
from tdnumpy.nn.models import build_model
from tdnumpy.nn.module import Parameter, Sequential
from tdnumpy.nn.noise import DropConnect, TargetedUnitDropout, TargetedWeightDropout, UnitDropout, attach
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
    np.testing.assert_array_equal(logits[:2], model.forward(x[:2]))
    np.testing.assert_array_equal(logits[2:], model.forward(x[2:]))


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


def test_a_batch_of_one_cannot_be_split(rng):
    model = build_model(SMALL_LENET5, seed=1, dtype=np.float64)
    x, y = images(rng, 1)
    with SplitStep(model) as step, pytest.raises(ValueError, match="at least 2 examples. Got 1"):
        step.forward_backward(x, y)


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
    assert not all(a.tobytes() == b.tobytes() for a, b in zip(first, whole))


@pytest.mark.parametrize("threads", [2, None])
def test_fit_splits_by_default_only_what_was_measured_faster(threads, monkeypatch):
    monkeypatch.setattr(split, "blas_threads", lambda: threads)
    monkeypatch.setattr(split.os, "cpu_count", lambda: 2)
    assert split_by_default(build_model("lenet5"))
    assert not split_by_default(build_model("lenet300"))  # products on one thread each: slower
    ruled = build_model("lenet5")
    attach(ruled, lambda: TargetedWeightDropout(0.5, 0.5))
    assert split_by_default(ruled)
    attach(ruled, L0WeightGates, layers=["fc1"])
    assert not split_by_default(ruled)


@pytest.mark.parametrize(("threads", "cores"), [(1, 2), (None, 1), (None, None)])
def test_one_blas_thread_or_one_core_is_never_split(threads, cores, monkeypatch):
    monkeypatch.setattr(split, "blas_threads", lambda: threads)
    monkeypatch.setattr(split.os, "cpu_count", lambda: cores)
    assert not split_by_default(build_model("lenet5"))


def test_fit_follows_the_default(rng, monkeypatch):
    """Unless told, fit splits exactly when split_by_default says so (the default changes the bits)."""
    x, y = images(rng, 8, np.float32)
    bits = {told: [a.tobytes() for a in train(told, x, y, epochs=1)] for told in (False, True)}
    assert bits[False] != bits[True]
    for threads in (1, 2):
        monkeypatch.setattr(split, "blas_threads", lambda: threads)
        assert [a.tobytes() for a in train(None, x, y, epochs=1)] == bits[threads == 2]


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


RULES = {
    "targeted weight": lambda: TargetedWeightDropout(0.5, 0.5),
    "targeted unit, per example": lambda: TargetedUnitDropout(0.5, 0.5, per_example=True),
    "DropConnect, per example": lambda: DropConnect(0.3, per_example=True),
    "unit dropout": lambda: UnitDropout(0.3),
}


@pytest.mark.parametrize("rule", RULES)
def test_a_split_step_applies_the_masks_a_whole_step_draws(rule, rng):
    """Two identical models draw identical masks: split and whole steps then agree
    up to rounding, per-example masks included (each half gets its own rows)."""
    x, y = images(rng, 7)
    models = [build_model("mlp:784-12-10", seed=2, dtype=np.float64) for _ in range(2)]
    for model in models:
        attach(model, RULES[rule])
    flat = x.reshape(7, -1)
    _, logits, grads = whole_batch_gradients(models[0], flat, y)
    with SplitStep(models[1]) as step:
        _, split_logits = step.forward_backward(flat, y)
    assert_close_to([split_logits], [logits])
    assert_close_to([p.grad for p in models[1].parameters()], grads)
    assert [layer.noise.step for layer in models[1].layers if hasattr(layer, "noise")] == [1, 1]


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


def test_one_blas_thread_sets_and_restores_the_count():
    before = _blas.blas_threads()
    with _blas.one_blas_thread() as limited:
        inside = _blas.blas_threads()
    assert _blas.blas_threads() == before
    if before is None:
        assert not limited and inside is None
    else:
        assert limited and inside == 1


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
