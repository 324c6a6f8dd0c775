"""The optimisers (tdnumpy.training.optim) against their equations written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdnumpy.nn import Parameter
from tdnumpy.training.optim import SGD, Adam


def _param(rng, shape=(4, 3), dtype=np.float64):
    return Parameter(rng.standard_normal(shape).astype(dtype), "w")


def _run(opt, p, grads):
    for g in grads:
        p.grad[...] = g
        opt.step()


@pytest.mark.parametrize("momentum, nesterov, wd", [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.0),
                                                     (0.5, False, 1e-2), (0.8, True, 1e-3)])
def test_sgd_matches_its_equations(momentum, nesterov, wd, rng):
    p = _param(rng)
    grads = [rng.standard_normal(p.shape) for _ in range(4)]
    w, v, lr = p.value.copy(), np.zeros(p.shape), 0.1
    for g in grads:
        g = g + wd * w
        v = momentum * v + g
        w = w - lr * ((g + momentum * v) if nesterov else (v if momentum else g))
    _run(SGD([p], lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd), p, grads)
    np.testing.assert_allclose(p.value, w, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_adam_matches_its_equations(wd, rng):
    p = _param(rng)
    grads = [rng.standard_normal(p.shape) for _ in range(5)]
    w, m, v = p.value.copy(), np.zeros(p.shape), np.zeros(p.shape)
    lr, b1, b2, eps = 1e-2, 0.9, 0.99, 1e-8
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    _run(Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), p, grads)
    np.testing.assert_allclose(p.value, w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, lr=0.01, weight_decay=1e-3)])
def test_masked_entries_and_their_state_stay_exactly_zero(make, rng):
    p = _param(rng, (6, 5), np.float32)
    keep = rng.random(p.shape) < 0.5
    p.set_mask(keep)
    opt = make([p])
    _run(opt, p, [rng.standard_normal(p.shape).astype(np.float32) for _ in range(20)])
    assert (p.value[~keep] == 0.0).all()
    assert (p.value[keep] != 0.0).all()
    for name, buf in opt.state().items():
        assert (buf[~keep] == 0.0).all(), name


def test_updates_keep_float32(rng):
    p = _param(rng, dtype=np.float32)
    for opt in (SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4), Adam([p], lr=0.1, weight_decay=1e-4)):
        _run(opt, p, [rng.standard_normal(p.shape).astype(np.float32)])
        assert p.value.dtype == np.float32
        assert all(buf.dtype == np.float32 for buf in opt.state().values())


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), r"'lr' parameter of SGD must be a float in the range \(0.0, inf\). Got 0.0"),
    (dict(lr=-1.0), "'lr'"),
    (dict(lr=float("nan")), "'lr'"),
    (dict(lr=0.1, momentum=1.0), "'momentum'"),
    (dict(lr=0.1, momentum=-0.1), "'momentum'"),
    (dict(lr=0.1, weight_decay=-1.0), "'weight_decay'"),
    (dict(lr=0.1, nesterov=True), "Nesterov momentum needs"),
])
def test_sgd_rejects_bad_arguments(kwargs, match, rng):
    with pytest.raises(ValueError, match=match):
        SGD([_param(rng)], **kwargs)


def test_adam_and_empty_parameter_lists_are_validated(rng):
    with pytest.raises(ValueError, match="'betas\\[1\\]'"):
        Adam([_param(rng)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="The 'params' parameter of SGD is an empty list"):
        SGD([], lr=0.1)


def test_float32_updates_round_like_a_float32_reference(rng):
    """Bit for bit equal to the update rules written with float32 arrays and
    scalars; computing any intermediate in float64 rounds differently."""
    f32 = np.float32
    grads = [rng.standard_normal((40, 30)).astype(f32) for _ in range(5)]
    start = rng.standard_normal((40, 30)).astype(f32)

    p = Parameter(start.copy(), "w")
    _run(SGD([p], lr=0.05, momentum=0.9, weight_decay=1e-3), p, grads)
    w, v = start.copy(), np.zeros_like(start)
    for g in grads:
        g = g + w * f32(1e-3)
        v = v * f32(0.9) + g
        w = w - v * f32(0.05)
    assert p.value.tobytes() == w.tobytes()

    p = Parameter(start.copy(), "w")
    _run(Adam([p], lr=1e-2), p, grads)
    w, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, g in enumerate(grads, start=1):
        m = m * f32(0.9) + g * f32(1 - 0.9)
        v = v * f32(0.999) + (g * g) * f32(1 - 0.999)
        denom = np.sqrt(v) / f32(math.sqrt(1 - 0.999 ** t)) + f32(1e-8)
        w = w - (m / denom) * f32(1e-2 / (1 - 0.9 ** t))
    assert p.value.tobytes() == w.tobytes()


def test_infinite_and_malformed_hyperparameters_are_rejected(rng):
    with pytest.raises(ValueError, match="'lr'"):
        SGD([_param(rng)], lr=float("inf"))
    with pytest.raises(ValueError, match="'weight_decay'"):
        Adam([_param(rng)], weight_decay=float("inf"))
    with pytest.raises(TypeError, match=r"'betas' parameter of Adam must be a pair"):
        Adam([_param(rng)], betas=0.9)
