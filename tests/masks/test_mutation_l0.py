"""The hard-concrete gates' checks (tdnumpy.masks.l0): the stretch interval
and init_drop are refused in full, naming the function or class that took them.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy import masks
from tdnumpy.nn.sparsifying import L0WeightGates

ERRORS = [
    (lambda: masks.nonzero_probability(np.zeros(3), beta=0.0),
     "The 'beta' parameter of nonzero_probability must be a float in the range (0.0, inf). Got 0.0 instead."),
    (lambda: masks.nonzero_probability(np.zeros(3), gamma=0.0),
     "The 'gamma' parameter of nonzero_probability must be a float in the range (-inf, 0.0). Got 0.0 instead."),
    (lambda: masks.nonzero_probability(np.zeros(3), zeta=1.0),
     "The 'zeta' parameter of nonzero_probability must be a float in the range (1.0, inf). Got 1.0 instead."),
    (lambda: masks.hard_concrete_mean(np.zeros(3), beta=-1.0),
     "The 'beta' parameter of hard_concrete_mean must be a float in the range (0.0, inf). Got -1.0 instead."),
    (lambda: L0WeightGates(init_drop=0.0),
     "The 'init_drop' parameter of L0WeightGates must be a float in the range (0.0, 1.0). Got 0.0 instead."),
    (lambda: L0WeightGates(init_drop=-0.5),
     "The 'init_drop' parameter of L0WeightGates must be a float in the range (0.0, 1.0). Got -0.5 instead."),
    (lambda: L0WeightGates(init_drop=1.0),
     "The 'init_drop' parameter of L0WeightGates must be a float in the range (0.0, 1.0). Got 1.0 instead."),
]


@pytest.mark.parametrize("call, message", ERRORS, ids=[f"case{i}" for i in range(len(ERRORS))])
def test_a_bad_stretch_or_init_drop_gets_the_documented_message_in_full(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message
