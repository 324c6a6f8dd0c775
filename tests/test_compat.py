"""Release 0.1's module paths and public names keep working after the move
into folders (see tdnumpy/_compat.py): old code and the README's examples run
unchanged."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tdnumpy._compat import MOVED

# Every public name each module of release 0.1 defined (read off release 0.1
# itself: its classes, functions and module-level constants, not what it
# imported), less two internal helpers of the masks (magnitude_keys and
# row_counts, now in tdnumpy.masks._select).
PUBLIC_0_1 = {
    'bench': ['bench_epoch', 'bench_masks', 'peak_rss_mib', 'torch_twin'],
    'checkpoint': ['CheckpointError', 'FORMAT', 'RESERVED', 'VERSION', 'load_checkpoint', 'load_into',
        'read_checkpoint', 'save_checkpoint'],
    'models': ['LENET5_WIDTHS', 'NAMED', 'SPEC_HELP', 'build_model', 'is_lenet5_spec', 'lenet5', 'mlp',
        'parse_lenet5_spec', 'parse_mlp_spec'],
    'optim': ['Adam', 'Optimizer', 'SGD'],
    'penalties': ['L1', 'L2', 'Penalty'],
    'prune': ['GradualPruning', 'KINDS', 'adjust_dropout', 'kept_weights', 'parameters_left', 'prunable_layers',
        'prune', 'report', 'retrain_dropout_rate', 'sparsity'],
    'regularisers': ['ACTIVATION_NOISE', 'NAMES', 'Settings', 'TARGETED', 'WEIGHT_RULES', 'apply', 'parse',
        'weight_rule'],
    'schedules': ['Constant', 'Cosine', 'Fixed', 'LinearRamp', 'PolynomialSparsity', 'StepDecay', 'TwoPhaseRamp',
        'as_schedule'],
    'shrink': ['ShrinkReport', 'dead_units', 'remove_dead_units'],
    'sparse': ['FORMAT', 'RelativeCSR', 'SparseFormatError', 'VERSION', 'compressed_bytes', 'decode',
        'dense_bytes', 'encode', 'export_model', 'import_model', 'pack_gaps', 'report', 'sparse_bytes', 'total',
        'unpack_gaps'],
    'target_tracking': ['WeightTargetTracker'],
    'train': ['History', 'TrainingDiverged', 'evaluate', 'fit'],
    'masks': ['bernoulli', 'bottom_k', 'drop_targets', 'dropconnect_gaussian_inference', 'dropconnect_keep',
        'dropconnect_moments', 'dropout_keep', 'gaussian_dropout_noise', 'global_prune_keep',
        'magnitude_prune_keep', 'n_targets', 'random_unit_targets', 'random_weight_targets',
        'spatial_dropout_keep', 'standout_keep', 'standout_keep_prob', 'std_prune_keep', 'targeted_unit_keep',
        'targeted_weight_keep', 'tf_targeted_unit_keep', 'tf_targeted_weight_keep', 'tf_unit_targets',
        'tf_weight_targets', 'uniform_bytes', 'unit_dropout_keep', 'unit_norms', 'unit_prune_keep', 'unit_targets',
        'weight_dropout_keep', 'weight_prune_keep', 'weight_targets'],
    'nn': ['ACTIVATIONS', 'AvgPool2D', 'Conv2D', 'Dense', 'Dropout', 'Flatten', 'GaussianDropout', 'MaxPool2D',
        'Module', 'Parameter', 'ReLU', 'Sequential', 'Sigmoid', 'SpatialDropout', 'Standout', 'Tanh',
        'glorot_normal', 'glorot_uniform', 'he_normal', 'he_uniform', 'lecun_uniform', 'log_softmax',
        'softmax_cross_entropy'],
    'nn.noise': ['DropConnect', 'FixedKeep', 'Keep', 'NO_KEEP', 'RandomTargetedUnitDropout',
        'RandomTargetedWeightDropout', 'TargetedUnitDropout', 'TargetedWeightDropout', 'UnitDropout',
        'WeightDropout', 'WeightNoise', 'WeightedLayer', 'apply_units', 'attach', 'choose_layers'],
    'nn.dropout': ['Dropout', 'GaussianDropout', 'SpatialDropout', 'Standout'],
    'nn.module': ['Module', 'Parameter', 'Sequential'],
    'data': ['DATASETS', 'DataNotFoundError', 'Dataset', 'DownloadError', 'FILES', 'IDXError', 'Split',
        'cache_dir', 'download_verified', 'load_dataset', 'locate', 'parse_idx', 'read_idx', 'sha256_of_payload',
        'to_idx_bytes', 'to_inputs', 'write_idx'],
    'testing': ['GradCheck', 'check_gradients', 'relative_error'],
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_an_old_path_is_the_module_at_its_new_place(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)
    assert importlib.import_module(new).__spec__.name == new  # the alias leaves the module's own spec alone


@pytest.mark.parametrize("module", sorted(PUBLIC_0_1))
def test_every_public_name_of_release_0_1_still_imports(module):
    found = importlib.import_module(f"tdnumpy.{module}")
    assert [n for n in PUBLIC_0_1[module] if not hasattr(found, n)] == []


def test_old_paths_work_in_a_fresh_interpreter():
    """The aliases need nothing imported beforehand: `from tdnumpy.train import fit` first thing."""
    code = ("from tdnumpy.train import fit; from tdnumpy.prune import prune; "
            "from tdnumpy.schedules import Cosine, TwoPhaseRamp; import tdnumpy.training.fit as f; "
            "assert fit is f.fit; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_an_unknown_old_looking_path_still_fails():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("tdnumpy.trainer")
