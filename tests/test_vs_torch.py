"""Cross-check against an independent implementation: PyTorch (CPU, float64).

Optional: runs only where PyTorch is installed (pip install 'tdnumpy[bench]');
skipped otherwise. The same network, weights, batches and optimiser must give
the same loss, gradients and weights after several steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.models import build_model
from tdnumpy.nn import softmax_cross_entropy
from tdnumpy.optim import SGD, Adam

torch = pytest.importorskip("torch", reason="PyTorch is an optional cross-check peer ([bench] extra)")


def _torch_twin(model):
    layers = []
    for layer in model.layers:
        if hasattr(layer, "weight"):
            lin = torch.nn.Linear(layer.fan_in, layer.units, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight.value.T))
                lin.bias.copy_(torch.from_numpy(layer.bias.value))
            layers.append(lin)
        else:
            layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[layer.kind]())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("spec", ["mlp:30-20-15-10:relu", "mlp:30-20-10:tanh", "mlp:30-20-10:sigmoid"])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_training_steps_match_pytorch(spec, optimizer, rng):
    model = build_model(spec, seed=2, dtype=np.float64)
    net = _torch_twin(model)
    if optimizer == "adam":
        ours = Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        theirs = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
    else:
        nesterov = optimizer == "nesterov"
        ours = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-3)
        theirs = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=1e-3)
    for _ in range(5):
        x = rng.standard_normal((16, 30))
        y = rng.integers(0, 10, 16)
        loss, grad = softmax_cross_entropy(model.forward(x, training=True), y)
        model.backward(grad)
        ours.step()
        theirs.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        t_loss.backward()
        theirs.step()
        assert float(loss) == pytest.approx(t_loss.item(), rel=1e-12)
    t_params = [p.detach().numpy() for p in net.parameters()]
    for p, t in zip(model.parameters(), t_params):
        np.testing.assert_allclose(p.value, t.T if p.value.ndim == 2 else t, rtol=1e-10, atol=1e-12)
