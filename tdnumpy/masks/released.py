"""The authors' released TensorFlow code (for-ai/TD), reproduced with its differences.

Gomez et al. released ``targeted_weight_dropout`` and ``targeted_unit_dropout``
with their paper. Their targets and masks differ from the paper's definition
(:mod:`tdnumpy.masks.targeted`) in the threshold rule, the rounding of k, the
float32 unit norms, the noise of targeted units and what happens at
evaluation; each function below lists where. On tie-free columns (for units:
distinct float32 norms, ordered as the exact ones) with the same k the
targets agree.
"""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_generator, check_real
from ._select import WEIGHT_PARAMETERS, check_weight, magnitude_keys


def _tf_threshold_rows(rows: np.ndarray, idx: int) -> np.ndarray:
    """rows < sort(rows, axis=1)[:, idx], the released code's strict threshold,
    along each row of a C-contiguous array.

    Where idx >= N (gamma = 1) the TensorFlow code indexes past the end of the
    sorted column; here the threshold is then +inf, so every entry is targeted.
    """
    if idx >= rows.shape[1]:
        return np.ones(rows.shape, bool)
    return rows < np.partition(rows, idx, axis=1)[:, idx : idx + 1]


@shared_docstring(weight=WEIGHT_PARAMETERS)
def tf_weight_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """Targets as the released ``targeted_weight_dropout`` computes them.

    idx = int(float32(gamma) * float32(N_row)) and, per column,
    target = |W| < sort(|W|)[idx]. Differences from :func:`weight_targets`:

    - the threshold is strict, so where |W| ties at the idx-th value fewer than
      k entries are targeted; a column with more than k exact zeros gets no
      targets at all (0 < 0 is false);
    - idx comes from a float32 product, which can differ from floor(gamma N)
      by one when gamma N is within float32 rounding of an integer;
    - gamma = 1 gives idx = N_row, past the end of the sorted column in the
      released code; here every entry is then targeted.

    On tie-free columns (and exact idx) the two agree.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; idx = int(float32(gamma) * float32(N_row)).

    Returns
    -------
    targets : ndarray of bool, shape (fan_in, units)
        True at the targets of each column.
    """
    check_weight(w, "tf_weight_targets", finite=False)  # checked on the keys
    gamma = check_real(gamma, "gamma", "tf_weight_targets", low=0, high=1)
    idx = int(np.float32(gamma) * np.float32(w.shape[0]))
    return _tf_threshold_rows(magnitude_keys(w, "tf_weight_targets"), idx).T


@shared_docstring(weight=WEIGHT_PARAMETERS)
def tf_unit_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """Targets as the released ``targeted_unit_dropout`` computes them.

    idx = int(gamma N_col) (a Python float product), and the columns with
    norm[o] < sort(norm)[idx], norm = ``tf.norm(w, axis=0)``. Differences from
    :func:`unit_targets`:

    - the strict threshold and gamma = 1, as in :func:`tf_weight_targets`;
    - the norms are float32, as ``tf.norm`` computes them on the released
      models' float32 weights: sqrt of the float32 sum of float32 squares
      (here for any dtype of ``w``, cast to float32 first). A square or a
      sum above float32's largest value overflows to inf (any |w| >= 2^64,
      about 1.8e19), a square of |w| <= 2^-75 (about 2.6e-23) underflows to
      0, so such columns tie; and rounding can tie or swap columns whose
      exact norms differ (the sum is not taken in TensorFlow's order, so last
      bits can differ from TensorFlow's too). The definition ranks the exact
      norms (:func:`unit_ranks`).

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; idx = int(gamma N_col).

    Returns
    -------
    targets : ndarray of bool, shape (units,)
        True at the targeted units.
    """
    check_weight(w, "tf_unit_targets")
    gamma = check_real(gamma, "gamma", "tf_unit_targets", low=0, high=1)
    return _tf_threshold_rows(_tf_norms(w)[None, :], int(gamma * w.shape[1]))[0]


def _tf_norms(w: np.ndarray) -> np.ndarray:
    """``tf.norm(w, axis=0)`` in float32: sqrt(sum(w * w, axis=0)), overflow and underflow included."""
    with np.errstate(over="ignore", under="ignore"):
        return np.sqrt(np.square(w.astype(np.float32)).sum(axis=0, dtype=np.float32))


@shared_docstring(weight=WEIGHT_PARAMETERS)
def tf_targeted_weight_keep(
    w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator, training: bool = True
) -> np.ndarray:
    """Keep-mask of the released ``targeted_weight_dropout``, shaped like ``w``.

    Training: drop = target and u < alpha, u ~ U[0, 1) drawn in float32 (as
    ``tf.random_uniform``) for every weight; column by column here (a
    convention of this library: TensorFlow draws in w's row-major order from
    its own generator, which cannot be reproduced anyway). Evaluation
    (``training=False``): every target is dropped, i.e. the released code
    prunes at test time; the paper's definition applies no dropout at
    evaluation and leaves pruning to an explicit step.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; the targets are those of
        :func:`tf_weight_targets`.
    alpha : float
        The drop rate of each target, in [0, 1].
    rng : numpy.random.Generator
        The source of u; unused when ``training`` is False.
    training : bool, default=True
        Training (random drops) or evaluation (every target dropped).

    Returns
    -------
    keep : ndarray of bool, shape (fan_in, units)
        True where the weight is kept.
    """
    targets = tf_weight_targets(w, gamma).T  # one row per column of w
    alpha = check_real(alpha, "alpha", "tf_targeted_weight_keep", low=0, high=1)
    if not training:
        return ~targets.T
    u = check_generator(rng, "rng", "tf_targeted_weight_keep").random(targets.shape, dtype=np.float32)
    kept = np.greater_equal(u, np.float32(alpha), out=np.empty(targets.shape, bool))  # not d
    return np.less_equal(targets, kept, out=kept).T  # not (target and d) = (target <= not d)


@shared_docstring(weight=WEIGHT_PARAMETERS)
def tf_targeted_unit_keep(
    w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator, training: bool = True
) -> np.ndarray:
    """Keep-mask of the released ``targeted_unit_dropout``, shaped like ``w``.

    Differs from :func:`targeted_unit_keep` in three ways: the noise is drawn
    per *weight* inside the targeted columns (drop = target column and
    1 - alpha < u), so a targeted unit loses a random alpha fraction of its
    weights rather than all or nothing; the bias is not touched; and at
    evaluation every targeted column is zeroed. u is drawn in float32 and
    compared with float32(1 - alpha), as in the TensorFlow code.

    {{weight}}
    gamma : float
        The targeting proportion, in [0, 1]; the targeted columns are those of
        :func:`tf_unit_targets`.
    alpha : float
        The drop rate of each weight in a targeted column, in [0, 1].
    rng : numpy.random.Generator
        The source of u, one per weight; unused when ``training`` is False.
    training : bool, default=True
        Training (random drops) or evaluation (every targeted column zeroed).

    Returns
    -------
    keep : ndarray of bool, shape (fan_in, units)
        True where the weight is kept; one entry per weight, not per unit.
    """
    columns = tf_unit_targets(w, gamma)
    alpha = check_real(alpha, "alpha", "tf_targeted_unit_keep", low=0, high=1)
    targets = np.broadcast_to(columns, w.shape)
    if not training:
        return ~targets
    u = check_generator(rng, "rng", "tf_targeted_unit_keep").random(w.shape, dtype=np.float32)
    return ~(targets & (np.float32(1 - alpha) < u))
