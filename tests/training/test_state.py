"""The training state (tdnumpy.training.state): captured, restored into a
fresh model, captured again, it is the same; what does not fit is refused."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.experiments import regularisers
from tdnumpy.nn.models import build_model
from tdnumpy.training.optim import SGD, Adam
from tdnumpy.training.state import capture, restore


def trained(reg: str, optimizer, steps: int = 3, seed: int = 0):
    """A model with ``reg`` on it, its optimiser and shuffling generator, after ``steps`` steps."""
    model = build_model("mlp:20-8-6-3", seed=seed, dtype=np.float64)
    regularisers.apply(model, regularisers.choose(reg, model), regularisers.Settings(), 100)
    opt = optimizer(model.parameters(), lr=0.1)
    shuffle = np.random.default_rng(seed)
    x = np.random.default_rng(1).standard_normal((16, 20))
    for _ in range(steps):
        shuffle.permutation(16)
        out = model.forward(x, training=True)
        model.backward(np.ones_like(out) / out.size)
        opt.step()
    return model, opt, shuffle


def same(a, b):
    (arrays_a, record_a), (arrays_b, record_b) = a, b
    return record_a == record_b and arrays_a.keys() == arrays_b.keys() and all(
        np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)


@pytest.mark.parametrize("reg", ["td-ramp", "td-random-weight", "dropout", "standout", "smallify", "l0-weight"])
@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_restored_state_captures_as_it_was_captured(reg, optimizer):
    state = capture(*trained(reg, optimizer))
    fresh = trained(reg, optimizer, steps=0)
    assert not same(capture(*fresh), state)  # three steps changed it
    restore(*fresh, *state, "saved.npz")
    assert same(capture(*fresh), state)


def test_what_a_state_holds():
    arrays, record = capture(*trained("td-random-weight", Adam))
    assert {"optimizer/m/fc1.weight", "optimizer/v/fc3.bias", "fc1.noise.targets"} <= set(arrays)
    assert record["values"]["optimizer.t"] == 3 and record["values"]["fc2.noise.step"] == 3
    assert {"shuffle", "fc1.rng", "fc3.rng"} <= set(record["generators"]) and record["version"] == 1


def test_a_state_of_another_model_is_refused_and_changes_nothing():
    arrays, record = capture(*trained("td-weight", SGD))
    fresh = trained("dropout", SGD, steps=0)
    before = capture(*fresh)
    with pytest.raises(ValueError, match=r"saved.npz: its training state does not fit this run \(it differs in \["):
        restore(*fresh, arrays, record, "saved.npz")
    assert same(capture(*fresh), before)


def test_an_optimiser_buffer_of_another_shape_is_refused():
    arrays, record = capture(*trained("none", SGD))
    arrays["optimizer/velocity/fc1.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"'optimizer/velocity/fc1.weight' is float64 \(3, 3\), not float64 \(20, 8\)"):
        restore(*trained("none", SGD, steps=0), arrays, record, "saved.npz")


def test_a_generator_state_of_another_kind_is_refused():
    arrays, record = capture(*trained("none", SGD))
    record["generators"]["fc1.rng"] = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    with pytest.raises(ValueError, match="the state of generator 'fc1.rng' does not fit it"):
        restore(*trained("none", SGD, steps=0), arrays, record, "saved.npz")
