"""Fuzzing the public mask functions: every function in ``masks.__all__``, from
a call known to work, with one argument replaced by a wrong type, shape or
dtype, NaN or inf, an empty or a huge size. The function either returns, or
raises TypeError or ValueError (the documented errors) with a message that
names the argument; anything else (MemoryError, IndexError, ZeroDivisionError,
a message that does not say which argument is wrong) fails.

Per CI run: every (function, argument, bad value) triple: 47 functions, their
118 arguments, 13 values, 1,534 calls (about 5 s). Before the fixes of issue 18
this found 122 failures in 17 functions: MemoryError for huge sizes, an
unbounded Gaussian-inference loop, AttributeError for an unchecked generator
or targets array, and messages naming 'shape' or 'w' for another argument."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from tdnumpy import masks

W = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
LOG_ALPHA = np.linspace(-2, 2, 8)


def _rng():
    return np.random.default_rng(1)


# A call that works, for every public function: {name: lambda: kwargs}.
GOOD = {
    "as_schedule": lambda: dict(value=0.5, name="gamma"),
    "bernoulli": lambda: dict(rng=_rng(), p=0.3, shape=(3, 4)),
    "bottom_k": lambda: dict(scores=np.array([3.0, 1.0, 2.0]), k=1),
    "drop_targets": lambda: dict(targets=np.ones((6, 4), bool), alpha=0.5, rng=_rng()),
    "dropconnect_gaussian_inference": lambda: dict(mean=np.zeros((2, 3), np.float32),
                                                   var=np.ones((2, 3), np.float32),
                                                   activation=np.tanh, rng=_rng(), samples=4),
    "dropconnect_keep": lambda: dict(shape=(6, 4), p=0.5, rng=_rng()),
    "dropconnect_moments": lambda: dict(v=np.ones((2, 6), np.float32), w=W, b=np.zeros(4, np.float32), p=0.5),
    "dropout_keep": lambda: dict(shape=(2, 4), p=0.5, rng=_rng()),
    "gaussian_dropout_noise": lambda: dict(shape=(2, 4), p=0.5, rng=_rng()),
    "global_prune_keep": lambda: dict(weights=[W, W[:3]], fraction=0.5),
    "hard_concrete_gate": lambda: dict(log_alpha=LOG_ALPHA, u=np.full(8, 0.5)),
    "hard_concrete_mean": lambda: dict(log_alpha=LOG_ALPHA),
    "hard_concrete_mean_grad": lambda: dict(log_alpha=LOG_ALPHA),
    "hard_concrete_sample": lambda: dict(log_alpha=LOG_ALPHA, rng=_rng()),
    "keep_probability": lambda: dict(theta=W, log_sigma2=np.full_like(W, -4.0)),
    "l0_penalty": lambda: dict(log_alpha=LOG_ALPHA),
    "local_reparameterization": lambda: dict(x=np.ones((2, 6), np.float32), theta=W,
                                             log_sigma2=np.full_like(W, -4.0), eps=np.zeros((2, 4), np.float32)),
    "neg_kl": lambda: dict(log_alpha=LOG_ALPHA),
    "nonzero_probability": lambda: dict(log_alpha=LOG_ALPHA),
    "sign_variance_step": lambda: dict(beta=np.ones(4), mean=np.zeros(4), variance=np.zeros(4), momentum=0.9,
                                       threshold=0.5),
    "switch_penalty": lambda: dict(beta=np.ones(4), strength=0.1),
    "vd_keep": lambda: dict(theta=W, log_sigma2=np.full_like(W, -4.0)),
    "vd_log_alpha": lambda: dict(theta=W, log_sigma2=np.full_like(W, -4.0)),
    "vd_penalty": lambda: dict(theta=W, log_sigma2=np.full_like(W, -4.0)),
    "magnitude_prune_keep": lambda: dict(w=W, fraction=0.5),
    "n_targets": lambda: dict(n=10, gamma=0.5),
    "random_unit_targets": lambda: dict(units=4, gamma=0.5, rng=_rng()),
    "random_weight_targets": lambda: dict(shape=(6, 4), gamma=0.5, rng=_rng()),
    "spatial_dropout_keep": lambda: dict(batch=2, channels=3, p=0.5, rng=_rng()),
    "standout_keep": lambda: dict(pi=np.full((2, 4), 0.5, np.float32), rng=_rng()),
    "standout_keep_prob": lambda: dict(a=np.zeros((2, 4), np.float32), alpha=1.0, beta=0.5,
                                       input_sum=np.ones((2, 1), np.float32)),
    "std_prune_keep": lambda: dict(w=W, quality=1.0),
    "targeted_unit_keep": lambda: dict(w=W, gamma=0.5, alpha=0.5, rng=_rng()),
    "targeted_weight_keep": lambda: dict(w=W, gamma=0.5, alpha=0.5, rng=_rng()),
    "tf_targeted_unit_keep": lambda: dict(w=W, gamma=0.5, alpha=0.5, rng=_rng()),
    "tf_targeted_weight_keep": lambda: dict(w=W, gamma=0.5, alpha=0.5, rng=_rng()),
    "tf_unit_targets": lambda: dict(w=W, gamma=0.5),
    "tf_weight_targets": lambda: dict(w=W, gamma=0.5),
    "uniform_bytes": lambda: dict(rng=_rng(), n=5),
    "unit_dropout_keep": lambda: dict(units=4, p=0.5, rng=_rng()),
    "unit_norms": lambda: dict(w=W),
    "unit_prune_keep": lambda: dict(w=W, fraction=0.5),
    "unit_ranks": lambda: dict(w=W),
    "unit_targets": lambda: dict(w=W, gamma=0.5),
    "weight_dropout_keep": lambda: dict(shape=(6, 4), p=0.5, rng=_rng()),
    "weight_prune_keep": lambda: dict(w=W, fraction=0.5),
    "weight_targets": lambda: dict(w=W, gamma=0.5),
}

BAD = {
    "None": None, "str": "0.5", "nested list": [[0.5, 0.5]], "complex": 1 + 1j, "nan": float("nan"),
    "inf": float("inf"), "negative": -1, "huge": 10**18, "empty array": np.zeros(0, np.float32),
    "int array": np.ones((3, 3), np.int64), "5-D array": np.ones((2,) * 5, np.float32), "object": object(),
    "nan array": np.full((6, 4), np.nan, np.float32),
}

FUNCTIONS = [name for name in masks.__all__ if inspect.isfunction(getattr(masks, name))]


def test_every_public_function_has_a_good_call_that_works():
    assert sorted(GOOD) == sorted(FUNCTIONS)
    for name, kwargs in GOOD.items():
        getattr(masks, name)(**kwargs())


CASES = [(name, arg, bad) for name in FUNCTIONS for arg in GOOD[name]() for bad in BAD]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_wrong_argument_returns_or_is_a_clear_error_naming_it(name):
    """Every (argument, wrong value) of one function; the failures are listed together
    (one test item per function: pytest's per-item cost doubled the file's time)."""
    failures = []
    for _, arg, bad in (case for case in CASES if case[0] == name):
        kwargs = GOOD[name]()
        kwargs[arg] = BAD[bad]
        try:
            getattr(masks, name)(**kwargs)
        except (TypeError, ValueError) as e:
            named = kwargs["name"] if name == "as_schedule" and arg == "value" else arg  # names its caller's argument
            if not re.search(rf"\b{re.escape(named)}\b", str(e)):
                failures.append(f"{name}({arg}={bad}): {type(e).__name__}: {e}")
        except Exception as e:
            failures.append(f"{name}({arg}={bad}): {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures)
