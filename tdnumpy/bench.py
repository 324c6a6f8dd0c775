"""Benchmarks: one MNIST training epoch, in tdnumpy and (optionally) in PyTorch.

Both sides do the same work in the same process: the same model with the same
initial weights, the same shuffled order of examples, batch size, float32,
SGD with momentum and the same learning rate. PyTorch runs a lean loop over
preloaded tensors (no DataLoader), so the ratio measures the two training
steps, not data loading. Epochs alternate between the two (A B A B ...) so
that drift in the machine's speed affects both alike, and the figures quoted
are medians.

This is a benchmark, never a test: timings on shared machines are noisy.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .data import load_dataset, to_inputs
from .models import build_model
from .optim import SGD
from .train import fit


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


def _torch_model(model):
    import torch

    layers = []
    for layer in model.layers:
        if hasattr(layer, "weight"):
            lin = torch.nn.Linear(layer.fan_in, layer.units)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight.value.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.bias.value))
            layers.append(lin)
        else:
            layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[layer.kind]())
    return torch.nn.Sequential(*layers)


def _torch_epoch(model, x, y, order, batch_size, lr, momentum):
    import torch

    net = _torch_model(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    order_t = torch.from_numpy(order)
    loss_fn = torch.nn.functional.cross_entropy
    start = time.perf_counter()
    for s in range(0, len(order), batch_size):
        idx = order_t[s:s + batch_size]
        xb, yb = xt.index_select(0, idx), yt.index_select(0, idx)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def bench_mlp(*, model_spec="lenet300", batch_size=128, lr=0.05, momentum=0.9, repeats=3,
              vs_torch=False, data_dir=None, print_fn=print) -> dict:
    """Time one epoch of ``model_spec`` on MNIST; return the figures as a dict."""
    data = load_dataset("mnist", data_dir)
    template = build_model(model_spec, seed=0)
    x = to_inputs(data.train.images, template.input_shape)
    y = data.train.labels
    order = np.random.default_rng(0).permutation(len(x))
    runs = {"tdnumpy": []}
    if vs_torch:
        import torch

        runs["torch"] = []
        print_fn(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    args = (x, y, order, batch_size, lr, momentum)
    # One warm-up epoch each (page faults, BLAS thread start-up), then the timed ones.
    for i in range(repeats + 1):
        t = _numpy_epoch(build_model(model_spec, seed=0), *args)
        if i:
            runs["tdnumpy"].append(t)
        if vs_torch:
            t = _torch_epoch(build_model(model_spec, seed=0), *args)
            if i:
                runs["torch"].append(t)
    result = {"model": model_spec, "batch_size": batch_size, "examples": len(x), "repeats": repeats}
    for name, times in runs.items():
        med = statistics.median(times)
        result[name] = {"median_seconds": med, "min_seconds": min(times), "examples_per_second": len(x) / med}
        print_fn(f"{name:>8}: {med:.3f} s per epoch (median of {repeats}; min {min(times):.3f} s), "
                 f"{len(x) / med:,.0f} examples/s")
    if vs_torch:
        ratios = [a / b for a, b in zip(runs["tdnumpy"], runs["torch"])]
        result["ratio_median"] = statistics.median(ratios)
        print_fn(f"   ratio: tdnumpy / PyTorch = {result['ratio_median']:.2f} "
                 f"(pairwise median; {min(ratios):.2f} to {max(ratios):.2f})")
    return result
