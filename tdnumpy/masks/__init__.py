"""The specification: pure functions that return keep-masks (True = kept).

One file per paper:

- :mod:`~tdnumpy.masks.targeted`: targeted dropout, Gomez et al. (2019): the
  weight and unit target sets and the keep-masks that drop each target with
  probability alpha, and the fixed random targets of the authors' baselines;
- :mod:`~tdnumpy.masks.dropout`: dropout and its relatives (Srivastava et al.,
  Tompson et al., Wan et al., Ba and Frey) and the paper's untargeted unit and
  weight dropout;
- :mod:`~tdnumpy.masks.pruning`: magnitude pruning (Han et al. 2015), which at
  fraction f keeps what targeted dropout with gamma = f, alpha = 1 keeps;
- :mod:`~tdnumpy.masks.released`: the authors' released TensorFlow code,
  differences included;
- :mod:`~tdnumpy.masks.ramps`: the schedules of gamma and alpha;
- the sparsifying baselines the paper compares with, their gates, penalties
  and gradients: :mod:`~tdnumpy.masks.l0` (hard-concrete gates, Louizos et
  al. 2018), :mod:`~tdnumpy.masks.variational` (sparse variational dropout,
  Molchanov et al. 2017), :mod:`~tdnumpy.masks.smallify` (switches and the
  sign-variance rule, Leclerc et al. 2018).

Beside them, :mod:`~tdnumpy.masks.tracking` gives the same weight targets step
after step during training, faster; ``_select`` holds the selection
machinery they share (bottom-k per column, argument checks) and ``_draws``
the Bernoulli events drawn a byte at a time.
Every name below can be used as ``from tdnumpy import masks; masks.NAME``.
"""

from ._draws import bernoulli, uniform_bytes
from ._select import bottom_k, n_targets
from .dropout import (
    dropconnect_gaussian_inference,
    dropconnect_keep,
    dropconnect_moments,
    dropout_keep,
    gaussian_dropout_noise,
    spatial_dropout_keep,
    standout_keep,
    standout_keep_prob,
    unit_dropout_keep,
    weight_dropout_keep,
)
from .l0 import (
    hard_concrete_gate,
    hard_concrete_mean,
    hard_concrete_mean_grad,
    hard_concrete_sample,
    l0_penalty,
    nonzero_probability,
)
from .pruning import global_prune_keep, magnitude_prune_keep, std_prune_keep, unit_prune_keep, weight_prune_keep
from .ramps import Fixed, LinearRamp, TwoPhaseRamp, as_schedule
from .released import tf_targeted_unit_keep, tf_targeted_weight_keep, tf_unit_targets, tf_weight_targets
from .targeted import (
    drop_targets,
    random_unit_targets,
    random_weight_targets,
    targeted_unit_keep,
    targeted_weight_keep,
    unit_norms,
    unit_ranks,
    unit_targets,
    weight_targets,
)
from .smallify import sign_variance_step, switch_penalty
from .tracking import WeightTargetTracker
from .variational import keep_probability, local_reparameterization, neg_kl, vd_keep, vd_log_alpha, vd_penalty

__all__ = [
    "Fixed",
    "LinearRamp",
    "TwoPhaseRamp",
    "WeightTargetTracker",
    "as_schedule",
    "bernoulli",
    "bottom_k",
    "drop_targets",
    "dropconnect_gaussian_inference",
    "dropconnect_keep",
    "dropconnect_moments",
    "dropout_keep",
    "gaussian_dropout_noise",
    "global_prune_keep",
    "hard_concrete_gate",
    "hard_concrete_mean",
    "hard_concrete_mean_grad",
    "hard_concrete_sample",
    "keep_probability",
    "l0_penalty",
    "local_reparameterization",
    "neg_kl",
    "nonzero_probability",
    "sign_variance_step",
    "switch_penalty",
    "vd_keep",
    "vd_log_alpha",
    "vd_penalty",
    "magnitude_prune_keep",
    "n_targets",
    "random_unit_targets",
    "random_weight_targets",
    "spatial_dropout_keep",
    "standout_keep",
    "standout_keep_prob",
    "std_prune_keep",
    "targeted_unit_keep",
    "targeted_weight_keep",
    "tf_targeted_unit_keep",
    "tf_targeted_weight_keep",
    "tf_unit_targets",
    "tf_weight_targets",
    "uniform_bytes",
    "unit_dropout_keep",
    "unit_norms",
    "unit_prune_keep",
    "unit_ranks",
    "unit_targets",
    "weight_dropout_keep",
    "weight_prune_keep",
    "weight_targets",
]
