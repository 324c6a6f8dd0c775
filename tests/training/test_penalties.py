"""The L1 and L2 weight penalties (tdnumpy.training.penalties): gradients by
central differences, their exact share of a training step (pruned weights
stay at zero), bad strength."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn.models import build_model
from tdnumpy.pruning import masking
from tdnumpy.training.fit import fit
from tdnumpy.training.optim import SGD
from tdnumpy.training.penalties import L1, L2


def _model():
    return build_model("mlp:12-10-8-4", seed=0, dtype=np.float64)


@pytest.mark.parametrize("cls", [L1, L2])
def test_penalty_gradients_match_central_differences(cls):
    model = _model()
    for p in model.parameters():  # keep weights away from 0, where |w| has a kink
        p.value += np.sign(p.value) * 0.05
    penalty = cls(model, 0.3)
    for p in model.parameters():
        p.grad[...] = 0.0
    penalty.add_gradient()
    h = 1e-6
    for layer_name in ("fc1", "fc3"):
        w = model.layer(layer_name).weight
        numeric = np.empty_like(w.value)
        for i in np.ndindex(w.shape):
            old = w.value[i]
            w.value[i] = old + h
            up = penalty.value()
            w.value[i] = old - h
            down = penalty.value()
            w.value[i] = old
            numeric[i] = (up - down) / (2 * h)
        error = np.abs(numeric - w.grad) / np.maximum(1e-8, np.abs(numeric) + np.abs(w.grad))
        assert error.max() < 1e-6, (layer_name, error.max())
    assert all((model.layer(n).bias.grad == 0).all() for n in ("fc1", "fc2", "fc3"))  # biases not penalised


def test_penalties_add_their_gradient_to_a_training_step_and_keep_pruned_weights_at_zero():
    """One SGD step with L1 (lambda1) and L2 (lambda2) moves each weight by exactly
    -lr (lambda1 sign(w) + lambda2 w) more than the same step without them;
    biases and pruned weights do not move because of them."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 12))
    y = rng.integers(0, 4, 32)
    lr, l1, l2 = 0.05, 0.03, 0.2
    after = {}
    for penalised in (False, True):
        model = _model()
        masking.prune(model, "weight", 0.5)
        before = {n: p.value.copy() for n, p in model.named_parameters().items()}
        penalties = [L1(model, l1), L2(model, l2)] if penalised else []
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=lr), epochs=1, batch_size=32,
            rng=np.random.default_rng(0), progress=False, penalties=penalties)
        after[penalised] = {n: p.value.copy() for n, p in model.named_parameters().items()}
        for p in model.parameters():
            if p.mask is not None:
                assert (p.value[~p.mask] == 0).all()
    for name, w in before.items():
        expected = after[False][name]
        if name.endswith("weight"):
            expected = expected - lr * (l1 * np.sign(w) + l2 * w)
        np.testing.assert_allclose(after[True][name], expected, rtol=0, atol=1e-14, err_msg=name)


def test_penalty_rejects_a_bad_strength():
    with pytest.raises(ValueError, match=r"'strength' parameter of L1 must be a float in the range \[0.0, inf\)"):
        L1(_model(), -1.0)
