"""Plausible wrong implementations of the rules the conformance kit checks.

Each mutant is a mistake seen in, or easily made by, a port of targeted
dropout or pruning; ``MUTANTS`` pairs it with the check it claims to pass and
the property that must catch it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tdnumpy import masks


def _bottom_k_columns(scores, k):
    """Lower-index bottom-k of each column (a plain sort)."""
    order = np.argsort(scores, axis=0, kind="stable")
    chosen = np.zeros(scores.shape, bool)
    np.put_along_axis(chosen, order[:k], True, axis=0)
    return chosen


def _drop(targets, alpha, rng):
    return ~(targets & (rng.random(targets.shape) < alpha))


def per_layer_targets(w, gamma, alpha, rng):
    """Targets the k N_col smallest of the whole matrix instead of k per column."""
    k = math.floor(gamma * w.shape[0]) * w.shape[1]
    flat = np.zeros(w.size, bool)
    flat[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = True
    return _drop(flat.reshape(w.shape), alpha, rng)


def one_minus_alpha(w, gamma, alpha, rng):
    """Drops each target with probability 1 - alpha (alpha read as a keep rate)."""
    return _drop(masks.weight_targets(w, gamma), 1 - alpha, rng)


def largest_targeted(w, gamma, alpha, rng):
    """Targets the largest magnitudes instead of the smallest."""
    return _drop(_bottom_k_columns(-np.abs(w).astype(np.float64), math.floor(gamma * w.shape[0])), alpha, rng)


def ceil_rounding(w, gamma, alpha, rng):
    return _drop(_bottom_k_columns(np.abs(w).astype(np.float64), math.ceil(gamma * w.shape[0])), alpha, rng)


def round_rounding(w, gamma, alpha, rng):
    return _drop(_bottom_k_columns(np.abs(w).astype(np.float64), round(gamma * w.shape[0])), alpha, rng)


def signed_values(w, gamma, alpha, rng):
    """Ranks the signed weights: the most negative are targeted."""
    return _drop(_bottom_k_columns(w.astype(np.float64), math.floor(gamma * w.shape[0])), alpha, rng)


def one_threshold(w, gamma, alpha, rng):
    """Uses the threshold of column 0 for every column."""
    k = math.floor(gamma * w.shape[0])
    mags = np.abs(w).astype(np.float64)
    threshold = np.sort(mags[:, 0])[k] if k < w.shape[0] else np.inf
    return _drop(mags < threshold, alpha, rng)


def rescaled(w, gamma, alpha, rng):
    """Returns W * keep / (1 - gamma alpha), as if targeted dropout were inverted dropout."""
    keep = masks.targeted_weight_keep(w, gamma, alpha, rng)
    return (w * keep / w.dtype.type(1 - gamma * alpha if gamma * alpha < 1 else 1)).astype(w.dtype)


def leaky(w, gamma, alpha, rng):
    """Also drops 0.2% of the weights outside the targets."""
    return masks.targeted_weight_keep(w, gamma, alpha, rng) & (rng.random(w.shape) >= 0.002)


def ignores_generator(w, gamma, alpha, rng):
    """Draws from a fresh unseeded generator instead of ``rng``."""
    return _drop(masks.weight_targets(w, gamma), alpha, np.random.default_rng())


def l1_unit_norms(w, gamma, alpha, rng):
    k = math.floor(gamma * w.shape[1])
    targets = _bottom_k_columns(np.abs(w).astype(np.float64).sum(axis=0), k)
    return ~(targets & (rng.random(w.shape[1]) < alpha))


def float_unit_norms(w, gamma, alpha, rng):
    """Ranks units by float64 norms m sqrt(sum((w / m)^2)), which can split exact ties."""
    m = np.abs(w).max(axis=0).astype(np.float64)
    m[m == 0] = 1.0
    norms = m * np.sqrt(((w / m) ** 2).sum(axis=0))
    targets = _bottom_k_columns(norms, math.floor(gamma * w.shape[1]))
    return ~(targets & (rng.random(w.shape[1]) < alpha))


def per_weight_unit_noise(w, gamma, alpha, rng):
    """Drops single weights of targeted units (the released code's rule) under the paper's claim."""
    targets = np.broadcast_to(masks.unit_targets(w, gamma), w.shape)
    return _drop(targets, alpha, rng)


def right_mean_wrong_elements(x, p, rng):
    """Drops the even-numbered elements with probability 2p (p <= 1/2) or all of them, the odd ones
    with what is left: the right mean, the wrong per-element rates."""
    even = np.arange(x.size).reshape(x.shape) % 2 == 0
    rate = np.where(even, min(2 * p, 1.0), max(2 * p - 1, 0.0))
    return rng.random(x.shape) >= rate


def classic_claimed_inverted(x, p, rng):
    """Returns x * keep without the 1 / (1 - p) of inverted dropout."""
    return x * masks.dropout_keep(x.shape, p, rng)


def ties_to_higher_index(w, fraction):
    """Pruning whose ties go to the higher row index."""
    k = math.floor(fraction * w.shape[0])
    flipped = _bottom_k_columns(np.abs(w[::-1]).astype(np.float64), k)
    return ~flipped[::-1]


def unit_pruning_l1(w, fraction):
    k = math.floor(fraction * w.shape[1])
    return ~_bottom_k_columns(np.abs(w).astype(np.float64).sum(axis=0), k)


def same_number_every_call(w, gamma, alpha, rng):
    """Drops exactly round(alpha m) of the m targets at every call, chosen at random: each
    target's rate is alpha, but the drops are not independent."""
    targets = np.flatnonzero(masks.weight_targets(w, gamma))
    keep = np.ones(w.size, bool)
    keep[rng.choice(targets, round(alpha * len(targets)), replace=False)] = False
    return keep.reshape(w.shape)


def one_draw_per_row(w, gamma, alpha, rng):
    """Shares one uniform draw across each row: the right rate, drops tied across columns."""
    return _drop(masks.weight_targets(w, gamma), alpha, _RowDraws(rng, w.shape))


class _RowDraws:
    """A stand-in generator whose random(shape) repeats one draw along each row."""

    def __init__(self, rng, shape):
        self.row = rng.random((shape[0], 1))

    def random(self, shape):
        return np.broadcast_to(self.row, shape)


def mask_per_feature_map(x, p, rng):
    """Dropout that, on 4-D input, draws one mask per (example, channel) map: spatial
    dropout claimed as dropout. Each element's rate is right; the drops are tied."""
    if x.ndim != 4:
        return masks.dropout_keep(x.shape, p, rng)
    return np.broadcast_to(masks.dropout_keep(x.shape[:2] + (1, 1), p, rng), x.shape).copy()


def global_generator_pruning(w, fraction):
    """Pruning that inverts its mask when NumPy's global generator says so (30% of calls)."""
    keep = masks.weight_prune_keep(w, fraction)
    return ~keep if np.random.random() < 0.3 else keep


def float32_index(w, gamma, alpha, rng):
    """Targets k = int(float32(gamma) float32(N)) per column, exactly ranked otherwise."""
    k = int(np.float32(gamma) * np.float32(w.shape[0]))
    return _drop(_bottom_k_columns(np.abs(w).astype(np.float64), k), alpha, rng)


def fixed_seed_dropconnect(w, p, rng):
    """Ignores ``rng`` for a generator seeded 0 at every call."""
    return masks.dropconnect_keep(w.shape, p, np.random.default_rng(0))


@dataclass(frozen=True)
class Mutant:
    """A wrong implementation, the check it claims to pass and the property that must catch it."""

    fn: object
    check: str
    catch: str
    options: dict = field(default_factory=dict)


MUTANTS = {
    "per-layer targets": Mutant(per_layer_targets, "check_targeted_weight_dropout", "targets"),
    "drop rate 1 - alpha": Mutant(one_minus_alpha, "check_targeted_weight_dropout", "kept-fraction"),
    "largest targeted": Mutant(largest_targeted, "check_targeted_weight_dropout", "targets"),
    "ceil rounding": Mutant(ceil_rounding, "check_targeted_weight_dropout", "targets"),
    "round rounding": Mutant(round_rounding, "check_targeted_weight_dropout", "targets"),
    "signed values": Mutant(signed_values, "check_targeted_weight_dropout", "targets"),
    "one column's threshold": Mutant(one_threshold, "check_targeted_weight_dropout", "targets"),
    "rescaled kept weights": Mutant(rescaled, "check_targeted_weight_dropout", "no-rescaling", {"returns": "weights"}),
    "leak outside targets": Mutant(leaky, "check_targeted_weight_dropout", "only-targets"),
    "ignores the generator": Mutant(ignores_generator, "check_targeted_weight_dropout", "uses-rng"),
    "L1 unit norms": Mutant(l1_unit_norms, "check_targeted_unit_dropout", "targets"),
    "float unit norms": Mutant(float_unit_norms, "check_targeted_unit_dropout", "targets"),
    "per-weight noise in units": Mutant(per_weight_unit_noise, "check_targeted_unit_dropout", "whole-units"),
    "right mean, wrong elements": Mutant(right_mean_wrong_elements, "check_dropout", "drop-frequency"),
    "no inverted scaling": Mutant(classic_claimed_inverted, "check_dropout", "scaling", {"returns": "output"}),
    "ties to the higher index": Mutant(ties_to_higher_index, "check_weight_pruning", "targets"),
    "L1 unit pruning": Mutant(unit_pruning_l1, "check_unit_pruning", "targets"),
    "DropConnect with a fixed seed": Mutant(fixed_seed_dropconnect, "check_dropconnect", "uses-rng"),
    "same number dropped every call": Mutant(same_number_every_call, "check_targeted_weight_dropout", "independence"),
    "one draw per row": Mutant(one_draw_per_row, "check_targeted_weight_dropout", "independence"),
    "one mask per feature map": Mutant(mask_per_feature_map, "check_dropout", "independence"),
    "pruning from the global generator": Mutant(global_generator_pruning, "check_weight_pruning", "deterministic"),
    "float32 index": Mutant(float32_index, "check_targeted_weight_dropout", "targets"),
}
