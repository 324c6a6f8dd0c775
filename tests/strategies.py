"""Hypothesis strategies shared by the mask and noise tests: weight shapes
(including 1 x n, n x 1 and conv views), fractions in [0, 1] (including values
where gamma N is not an integer) and weight matrices with and without ties."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

SHAPES = st.one_of(
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just(1), st.integers(1, 30)),       # 1 x n
    st.tuples(st.integers(1, 30), st.just(1)),       # n x 1
    st.sampled_from([(25, 6), (18, 4), (50, 3)]),   # conv views: kh kw C x F
)
FRACTIONS = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 0.29, 0.7]), st.floats(0.0, 1.0))


@st.composite
def weights(draw, shape=None, ties=None, dtype=None):
    """A weight matrix; with ties, values come from a small set (zeros included)."""
    shape = draw(SHAPES) if shape is None else shape
    ties = draw(st.booleans()) if ties is None else ties
    dtype = draw(st.sampled_from([np.float32, np.float64])) if dtype is None else dtype
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties:
        values = (rng.integers(-2, 3, shape) * 0.5).astype(dtype)
        return np.where(values == 0, rng.choice(np.array([0.0, -0.0], dtype), shape), values)  # -0.0 ties +0.0
    return rng.standard_normal(shape).astype(dtype)
