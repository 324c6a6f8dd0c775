"""The pieces a RunConfig builds (tdnumpy.experiments.build)."""

from __future__ import annotations

import pytest

from tdnumpy._validation import ParameterError
from tdnumpy.experiments import RunConfig
from tdnumpy.experiments.build import describe, gradual_pruning, lr_schedule, make_optimizer, make_penalties
from tdnumpy.nn.models import build_model
from tdnumpy.training.optim import SGD, Adam
from tdnumpy.training.penalties import L1, L2
from tdnumpy.training.schedules import Constant, Cosine, StepDecay


def test_the_optimiser_and_its_settings():
    model = build_model("mlp:784-8-10")
    sgd = make_optimizer(RunConfig(momentum=0.5, nesterov=True, weight_decay=1e-3), model, 0.2)
    assert isinstance(sgd, SGD) and (sgd.lr, sgd.momentum, sgd.nesterov, sgd.weight_decay) == (0.2, 0.5, True, 1e-3)
    adam = make_optimizer(RunConfig(optimizer="adam", weight_decay=1e-4), model, 0.001)
    assert isinstance(adam, Adam) and (adam.lr, adam.weight_decay) == (0.001, 1e-4)


def test_the_learning_rate_schedules():
    assert lr_schedule(RunConfig(lr=0.1, epochs=3), 10) == Cosine(0.1, 30)
    assert lr_schedule(RunConfig(lr=0.1, lr_schedule="step", lr_step_epochs=2, lr_decay=0.5), 10) == StepDecay(0.1, 20,
                                                                                                                0.5)
    assert lr_schedule(RunConfig(lr=0.1, lr_schedule="constant"), 10) == Constant(0.1)


def test_penalties_are_made_only_when_asked_for():
    model = build_model("mlp:784-8-10")
    assert make_penalties(RunConfig(), model) == []
    made = make_penalties(RunConfig(l1=1e-5, l2=2e-4), model)
    assert [type(p) for p in made] == [L1, L2] and [p.strength for p in made] == [1e-5, 2e-4]
    assert describe(made[0]) == "l1 penalty on the weights, lambda 1e-05"


def test_gradual_pruning_ends_inside_the_run():
    """Zhu and Gupta's steps t0, t0 + dt, ..., t0 + n dt with the last inside the
    run: 10 epochs of 100 steps, start at epoch 2, 4 epochs, every 50 steps."""
    model = build_model("mlp:784-8-10")
    assert gradual_pruning(RunConfig(), model, 100) is None
    hook = gradual_pruning(RunConfig(gradual_sparsity=0.8, gradual_start=2, gradual_epochs=4, gradual_interval=50),
                           model, 100)
    s = hook.schedule
    assert (s.final, s.start, s.interval, s.steps) == (0.8, 200, 50, 399 // 50)
    last = RunConfig(epochs=2, gradual_sparsity=0.5, gradual_start=1, gradual_epochs=1, gradual_interval=10)
    assert gradual_pruning(last, model, 100).schedule.start + 9 * 10 <= 2 * 100 - 1
    assert describe(hook) == "gradual pruning (layer): sparsity 0 -> 0.8 over steps 200..550, every 50 steps"
    with pytest.raises(ParameterError, match="'gradual_interval' 100 is longer than the pruning phase"):
        gradual_pruning(RunConfig(epochs=1, gradual_sparsity=0.5), model, 100)
