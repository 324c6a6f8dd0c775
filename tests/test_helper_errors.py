"""Public helpers refuse bad input with an error naming the argument (issue 18,
"public helpers with raw errors or silent nonsense"). Each case raised a raw
AttributeError / ZeroDivisionError, named the wrong parameter, or returned
nonsense (20 targets of 10, NaN probabilities) before the fix."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy import masks
from tdnumpy.nn.models import build_model
from tdnumpy.nn.weighted import choose_layers
from tdnumpy.pruning.masking import prune, sparsity

F32 = np.ones((4, 3), np.float32)
RNG = np.random.default_rng(0)

CASES = [
    # (call, error, message pattern)
    (lambda: masks.n_targets(10, 2.0), ValueError, r"'gamma' parameter of n_targets .* \[0, 1\]. Got 2.0"),
    (lambda: masks.n_targets(-1, 0.5), ValueError, r"'n' parameter of n_targets"),
    (lambda: masks.n_targets(10.0, 0.5), TypeError, r"'n' parameter of n_targets must be an int"),
    (lambda: masks.bottom_k(np.array([1.0, 2.0]), -1), ValueError, r"'k' parameter of bottom_k .* \[0, 2\]. Got -1"),
    (lambda: masks.bottom_k(np.array([1.0, 2.0]), 3), ValueError, r"'k' parameter of bottom_k .* \[0, 2\]. Got 3"),
    (lambda: masks.bottom_k(np.array(["a", "b"]), 1), TypeError, r"'scores' parameter of bottom_k"),
    (lambda: masks.bottom_k(np.zeros((2, 2, 2)), 1), ValueError, r"'scores' .* 1-D or 2-D .* \(2, 2, 2\)"),
    (lambda: masks.bottom_k(np.array([1.0, np.nan]), 1), ValueError, r"'scores' parameter of bottom_k must not "
                                                                      r"hold NaN"),
    (lambda: masks.unit_norms(np.ones(3, np.float32)), ValueError, r"'w' parameter of unit_norms .* 2-D"),
    (lambda: masks.unit_norms([[1.0]]), TypeError, r"'w' parameter of unit_norms must be a NumPy array"),
    (lambda: masks.dropconnect_moments([[1.0]], F32, None, 0.5), TypeError,
     r"'v' parameter of dropconnect_moments must be a NumPy array .* Got list"),
    (lambda: masks.dropconnect_moments(np.ones((2, 4), np.float32), F32.tolist(), None, 0.5), TypeError,
     r"'w' parameter of dropconnect_moments"),
    (lambda: masks.dropconnect_moments(np.ones((2, 5), np.float32), F32, None, 0.5), ValueError,
     r"dropconnect_moments needs v of shape \(batch, fan_in\).* \(2, 5\), \(4, 3\)"),
    (lambda: masks.dropconnect_moments(np.ones((2, 4), np.float32), F32, np.ones(4, np.float32), 0.5), ValueError,
     r"b of shape \(units,\)"),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), F32, None, 0.5), TypeError,
     r"'w' parameter .* dtype of the first array, float64. Got float32"),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), -np.ones((2, 3)), None, RNG, 2), ValueError,
     r"'var' parameter of dropconnect_gaussian_inference must be >= 0 .* -1.0"),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((3, 2)), None, RNG, 2), ValueError,
     r"'var' .* shape of 'mean', \(2, 3\). Got \(3, 2\)"),
    (lambda: masks.dropconnect_gaussian_inference([[0.0]], np.ones((1, 1)), None, RNG, 2), TypeError,
     r"'mean' parameter of dropconnect_gaussian_inference"),
    (lambda: masks.standout_keep_prob([[0.5]], 1.0, 0.0), TypeError,
     r"'a' parameter of standout_keep_prob must be a NumPy array .* Got list"),
    (lambda: masks.standout_keep([[0.5]], RNG), TypeError, r"'pi' parameter of standout_keep"),
    (lambda: masks.standout_keep(np.array([0.5], np.float16), RNG), TypeError, r"'pi' .* float32 or float64"),
    (lambda: masks.standout_keep_prob(np.array([1, 2]), 1.0, 0.0), ValueError, r"'a' parameter of "
                                                                             r"standout_keep_prob .* Got dtype int64"),
    (lambda: masks.standout_keep(np.array([0.5, 1.5]), RNG), ValueError,
     r"'pi' parameter of standout_keep must hold probabilities in \[0, 1\]. Got values from 0.5 to 1.5"),
    (lambda: masks.spatial_dropout_keep(2.0, 3, 0.5, RNG), TypeError,
     r"'batch' parameter of spatial_dropout_keep must be an int"),
    (lambda: masks.spatial_dropout_keep(2, -3, 0.5, RNG), ValueError, r"'channels' parameter of spatial_dropout_keep"),
    (lambda: prune(None, "weight", 0.5), TypeError, r"'model' parameter must be a model with layers .* NoneType"),
    (lambda: sparsity(build_model("lenet300", seed=0), []), ValueError, r"sparsity needs at least one weighted "
                                                                        r"layer; 'layers' picks none \(got \[\]\)"),
    (lambda: choose_layers(build_model("lenet300", seed=0), "fc1"), TypeError, r"not the string 'fc1'; "
                                                                               r"write \['fc1'\]"),
    (lambda: choose_layers(build_model("lenet300", seed=0), ["fc1", "fc2", "fc1"]), ValueError,
     r"'layers' parameter names 'fc1' more than once"),
]


@pytest.mark.parametrize("call, error, pattern", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_gets_an_error_naming_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_good_input_still_works():
    """The checks refuse only what they should: the documented edge cases pass."""
    assert masks.n_targets(10, 1.0) == 10 and masks.n_targets(0, 0.5) == 0
    np.testing.assert_array_equal(masks.bottom_k([3, 1, 2], 0), [False, False, False])
    np.testing.assert_array_equal(masks.bottom_k([3, 1, 2], 3), [True, True, True])
    np.testing.assert_array_equal(masks.bottom_k([3, 1, 2], 1), [False, True, False])  # a list is array_like
    mean, var = masks.dropconnect_moments(np.ones((2, 4), np.float32), F32, np.zeros(3, np.float32), 0.5)
    assert mean.shape == var.shape == (2, 3) and (var >= 0).all()
    assert masks.dropconnect_gaussian_inference(mean, np.zeros_like(var), None, RNG, 2).shape == (2, 3)
    assert masks.standout_keep(np.array([0.0, 1.0]), RNG).tolist() == [False, True]
    assert masks.spatial_dropout_keep(np.int64(2), 3, 0.0, RNG).all()
    assert sparsity(build_model("lenet300", seed=0), ["fc1"]) == 0.0
