"""Schedules of the training step (tdnumpy.training.schedules): learning rates
and Zhu and Gupta's gradual sparsity, against their formulas."""

from __future__ import annotations

import math

import pytest

from tdnumpy.training.schedules import Constant, Cosine, PolynomialSparsity, StepDecay


def test_schedules():
    assert Constant(0.3)(10_000) == 0.3
    step = StepDecay(1.0, step_size=10, factor=0.5)
    assert [step(t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    cos = Cosine(1.0, total_steps=100, min_lr=0.1)
    assert cos(0) == 1.0 and cos(100) == pytest.approx(0.1) and cos(500) == pytest.approx(0.1)
    assert cos(50) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    with pytest.raises(ValueError, match="'step_size'"):
        StepDecay(1.0, step_size=0)
    with pytest.raises(ValueError, match="'lr'"):
        Constant(0.0)
    with pytest.raises(ValueError, match="'min_lr'"):
        Cosine(0.1, total_steps=10, min_lr=0.2)


def test_zhu_gupta_schedule():
    s = PolynomialSparsity(0.9, start=10, steps=4, interval=5, initial=0.1)
    assert s(0) == 0.0 and s(9) == 0.0
    assert s(10) == pytest.approx(0.1) and s(14) == pytest.approx(0.1)
    assert s(15) == pytest.approx(0.9 + (0.1 - 0.9) * (1 - 1 / 4) ** 3)
    assert s(30) == pytest.approx(0.9) and s(10**6) == pytest.approx(0.9)
    values = [s(t) for t in range(10, 40)]
    assert values == sorted(values)
    assert [t for t in range(60) if s.is_pruning_step(t)] == [10, 15, 20, 25, 30]
    with pytest.raises(ValueError, match=r"'initial' parameter of PolynomialSparsity"):
        PolynomialSparsity(0.5, start=0, steps=1, interval=1, initial=0.6)
    with pytest.raises(ValueError, match="'interval' parameter of PolynomialSparsity"):
        PolynomialSparsity(0.5, start=0, steps=1, interval=0)
