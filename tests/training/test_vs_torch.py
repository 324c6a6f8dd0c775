"""Cross-check against an independent implementation: PyTorch (CPU, float64).

Optional: runs only where PyTorch is installed (pip install 'tdnumpy[bench]');
skipped otherwise. The same network, weights, batches and optimiser must give
the same loss, gradients and weights after several steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.experiments.bench import torch_twin
from tdnumpy.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from tdnumpy.nn import softmax_cross_entropy
from tdnumpy.nn.models import build_model
from tdnumpy.training.optim import SGD, Adam

torch = pytest.importorskip("torch", reason="PyTorch is an optional cross-check peer ([bench] extra)")


def _conv_net(rng):
    f64 = dict(rng=rng, dtype=np.float64)
    return Sequential(Conv2D(3, 4, 3, padding="same", **f64), ReLU(), MaxPool2D(2),
                      Conv2D(4, 6, (3, 2), stride=2, padding=(1, 0), dilation=2, **f64), AvgPool2D(2, stride=1),
                      Flatten(), Dense(6, 10, **f64), input_shape=(3, 10, 10))


@pytest.mark.parametrize("spec", ["mlp:30-20-15-10:relu", "mlp:30-20-10:tanh", "mlp:30-20-10:sigmoid", "lenet5",
                                  "conv"])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_training_steps_match_pytorch(spec, optimizer, rng):
    model = _conv_net(rng) if spec == "conv" else build_model(spec, seed=2, dtype=np.float64)
    net = torch_twin(model)
    shape = model.input_shape
    if optimizer == "adam":
        ours = Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        theirs = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
    else:
        nesterov = optimizer == "nesterov"
        ours = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-3)
        theirs = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-3)
    for _ in range(5):
        x = rng.standard_normal((16, *shape))
        y = rng.integers(0, 10, 16)
        loss, grad = softmax_cross_entropy(model.forward(x, training=True), y)
        model.backward(grad)
        ours.step()
        theirs.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        t_loss.backward()
        theirs.step()
        assert float(loss) == pytest.approx(t_loss.item(), rel=1e-12)
    # Float64 rounding differs between the two (summation order); Adam's update
    # m / sqrt(v) turns a 1e-17 difference in a near-zero gradient into up to
    # ~1e-11 in the weight, hence atol 1e-10 (a wrong rule errs by ~1e-3).
    twins = [layer for layer in net if hasattr(layer, "weight")]
    for layer, twin in zip([layer for layer in model.layers if layer.parameters()], twins):
        weight = layer.kernel if isinstance(layer, Conv2D) else layer.weight.value.T
        np.testing.assert_allclose(weight, twin.weight.detach().numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(layer.bias.value, twin.bias.detach().numpy(), rtol=1e-9, atol=1e-10)
