"""The benchmark's arithmetic (tdnumpy.experiments.bench): the matrix-product
operations of an epoch, counted by hand for both models, and the GEMM rate."""

from __future__ import annotations

import pytest

from tdnumpy.experiments.bench import epoch_flops, gemm_rate
from tdnumpy.nn.models import build_model


@pytest.mark.parametrize("spec, per_example", [
    # fc1 forward and dW only (no input gradient), then forward, dW and dx per layer
    ("lenet300", 2 * 784 * 300 * 2 + 2 * 300 * 100 * 3 + 2 * 100 * 10 * 3),
    # conv1: 24 x 24 rows of 25 inputs, 20 units; conv2: 8 x 8 rows of 500, 50 units
    ("lenet5", 2 * 576 * 25 * 20 * 2 + 2 * 64 * 500 * 50 * 3 + 2 * 800 * 500 * 3 + 2 * 500 * 10 * 3),
])
def test_epoch_flops_count_every_product(spec, per_example):
    assert epoch_flops(build_model(spec), 60000) == 60000 * per_example


def test_gemm_rate_is_a_rate():
    rate = gemm_rate(size=128, repeats=2)
    assert 0.01 < rate < 1e5  # GFLOP/s: more than a calculator, less than a supercomputer
