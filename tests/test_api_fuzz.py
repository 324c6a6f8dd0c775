"""Fuzzing the public API beyond the masks (tests/masks/test_api_fuzz.py has
those): the layers and their forward passes, pruning and sparse storage,
training, checkpoints, data, runs and the conformance kit. Every public
function or class of tdnumpy.nn, .pruning, .training, .data, .experiments and
.testing that takes arguments is called from a call known to work, with one
argument replaced by a wrong type, shape or dtype, NaN or inf, an empty or a
huge size. It must return, or raise one of the documented errors (TypeError,
ValueError and their subclasses; a missing dataset's DataNotFoundError; a
diverging fit's TrainingDiverged) whose message names the argument (or, for a
path, the file); and hypothesis then draws pairs of wrong arguments.

Where an accepted call would start long work (a sweep, the conformance
kit's property runs), a stand-in raises KeyboardInterrupt once the arguments
are checked, and that counts as accepted.

Per CI run: 85 callables, 229 of their arguments, 13 values: 2,977 single
replacements (three pairs are left out, see UNCHECKED), and 100 hypothesis
draws of two wrong arguments at once; about 10 s under coverage. Before the fixes
of issue 18 the single replacements failed 1,089 times in 61 callables: an
AttributeError or a bare "expected str, bytes or os.PathLike" for a model,
optimiser, generator or path of the wrong type, MemoryError for huge
initialiser shapes and layer sizes, NumPy's "truth value of an array is
ambiguous" for an array given as a choice or flag, and messages naming
another argument ('fraction' for prune's 'amount', 'x labels' for 'y',
'dataset' for 'name').
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthetic import synthetic_dataset
from tdnumpy import data, experiments, nn, testing
from tdnumpy.data import DataNotFoundError
from tdnumpy.experiments import RunConfig
from tdnumpy.nn.models import build_model
from tdnumpy.pruning import csr, learned, masking, shrink, sparse
from tdnumpy.training import checkpoint, fit, optim, penalties, schedules, state
from tdnumpy.training.fit import TrainingDiverged

BAD = {
    "None": None, "str": "0.5", "nested list": [[0.5, 0.5]], "complex": 1 + 1j, "nan": float("nan"),
    "inf": float("inf"), "negative": -1, "huge": 10**18, "empty array": np.zeros(0, np.float32),
    "int array": np.ones((3, 3), np.int64), "5-D array": np.ones((2,) * 5, np.float32), "object": object(),
    "nan array": np.full((4, 20), np.nan, np.float32),
}
EXPECTED = (TypeError, ValueError, DataNotFoundError, TrainingDiverged)


def rng():
    return np.random.default_rng(0)


def mlp():
    return build_model("mlp:784-8-10", seed=0)


def x784():
    return np.random.default_rng(1).standard_normal((4, 784)).astype(np.float32)


def pruned_mlp():
    model = mlp()
    masking.prune(model, "weight", 0.5)
    return model


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    checkpoint.save_checkpoint(root / "checkpoint.npz", pruned_mlp(), config=RunConfig(model="mlp:784-8-10").to_dict())
    sparse.export_model(pruned_mlp(), root / "sparse.npz")
    data.write_idx(root / "labels.idx", np.arange(10, dtype=np.uint8))
    mnist = synthetic_dataset(train=200, test=100)
    folder = root / "mnist"
    folder.mkdir()
    for stem, array in [("train-images-idx3-ubyte", mnist.train.images), ("train-labels-idx1-ubyte", mnist.train.labels),
                        ("t10k-images-idx3-ubyte", mnist.test.images), ("t10k-labels-idx1-ubyte", mnist.test.labels)]:
        data.write_idx(folder / stem, array)
    (root / "sweep.toml").write_text('name = "s"\ntitle = "s"\n[base]\nmodel = "mlp:784-8-10"\ndataset = "mnist"\n'
                                     'epochs = 1\ntrain_images = 100\n[grid]\nseed = [0]\n'
                                     '[[prune]]\nkind = "weight"\nfractions = [0.0]\n')
    return {"root": root, "checkpoint": root / "checkpoint.npz", "sparse": root / "sparse.npz", "mnist": folder,
            "idx": root / "labels.idx", "sweep": root / "sweep.toml", "data": mnist}


def tiny_run(world):
    return experiments.train_run(RunConfig(model="mlp:784-8-10", epochs=1, train_images=100), data=world["data"],
                                 progress=False)


def keep_fn(*args):
    raise KeyboardInterrupt  # the kit has checked its arguments and begun


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


# A call that works, for every public callable: {name: (callable, lambda world: kwargs)}.
GOOD = {
    # nn: constructors, initialisers, losses, and the forward passes
    "Dense": (nn.Dense, lambda w: dict(fan_in=20, units=8, rng=rng())),
    "Conv2D": (nn.Conv2D, lambda w: dict(in_channels=1, out_channels=2, kernel_size=3, rng=rng(), padding=1)),
    "AvgPool2D": (nn.AvgPool2D, lambda w: dict(kernel_size=2, stride=2)),
    "MaxPool2D": (nn.MaxPool2D, lambda w: dict(kernel_size=2, stride=2)),
    "Dropout": (nn.Dropout, lambda w: dict(p=0.5, rng=rng(), mode="inverted")),
    "GaussianDropout": (nn.GaussianDropout, lambda w: dict(p=0.5, rng=rng())),
    "SpatialDropout": (nn.SpatialDropout, lambda w: dict(p=0.5, rng=rng())),
    "Standout": (nn.Standout, lambda w: dict(activation=nn.ReLU(), rng=rng(), alpha=1.0, beta=0.5, form="paper",
                                             source=nn.Dense(4, 3, rng=rng()))),
    "Parameter": (nn.Parameter, lambda w: dict(value=np.zeros(3, np.float32), name="p")),
    "Sequential": (nn.Sequential, lambda w: dict(spec=None, input_shape=(784,), name="net")),
    "glorot_normal": (nn.glorot_normal, lambda w: dict(rng=rng(), shape=(4, 3), fan_in=4, fan_out=3)),
    "glorot_uniform": (nn.glorot_uniform, lambda w: dict(rng=rng(), shape=(4, 3), fan_in=4, fan_out=3)),
    "he_normal": (nn.he_normal, lambda w: dict(rng=rng(), shape=(4, 3), fan_in=4, fan_out=3)),
    "he_uniform": (nn.he_uniform, lambda w: dict(rng=rng(), shape=(4, 3), fan_in=4, fan_out=3)),
    "lecun_uniform": (nn.lecun_uniform, lambda w: dict(rng=rng(), shape=(4, 3), fan_in=4, fan_out=3)),
    "log_softmax": (nn.log_softmax, lambda w: dict(logits=np.zeros((2, 3), np.float32))),
    "softmax_cross_entropy": (nn.softmax_cross_entropy, lambda w: dict(logits=np.zeros((2, 3), np.float32),
                                                                      labels=np.array([0, 2]))),
    "Dense.forward": (lambda x, training: nn.Dense(784, 8, rng=rng()).forward(x, training=training),
                      lambda w: dict(x=x784(), training=True)),
    "Conv2D.forward": (lambda x, training: nn.Conv2D(1, 2, 3, rng=rng()).forward(x, training=training),
                       lambda w: dict(x=np.zeros((2, 1, 6, 6), np.float32), training=True)),
    "MaxPool2D.forward": (lambda x: nn.MaxPool2D(2).forward(x), lambda w: dict(x=np.zeros((2, 1, 4, 4), np.float32))),
    "Sequential.forward": (lambda x, training: mlp().forward(x, training=training),
                           lambda w: dict(x=x784(), training=False)),
    # pruning
    "encode": (csr.encode, lambda w: dict(matrix=np.eye(4, dtype=np.float32), bits=5)),
    "decode": (csr.decode, lambda w: dict(csr=csr.encode(np.eye(4, dtype=np.float32), 5))),
    "pack_gaps": (csr.pack_gaps, lambda w: dict(gaps=np.array([1, 2, 3], np.uint8), bits=5)),
    "unpack_gaps": (csr.unpack_gaps, lambda w: dict(packed=csr.pack_gaps(np.array([1, 2, 3], np.uint8), 5),
                                                     bits=5, count=3)),
    "dense_bytes": (csr.dense_bytes, lambda w: dict(csr=csr.encode(np.eye(4, dtype=np.float32), 5))),
    "sparse_bytes": (csr.sparse_bytes, lambda w: dict(csr=csr.encode(np.eye(4, dtype=np.float32), 5))),
    "csr.report": (csr.report, lambda w: dict(csr=csr.encode(np.eye(4, dtype=np.float32), 5))),
    "csr.total": (csr.total, lambda w: dict(reports=[csr.report(csr.encode(np.eye(4, dtype=np.float32), 5))])),
    "importance": (learned.importance, lambda w: dict(model=mlp())),
    "fold": (learned.fold, lambda w: dict(model=mlp())),
    "prunable_layers": (masking.prunable_layers, lambda w: dict(model=mlp(), layers=["fc1"], kind="weight")),
    "prune": (masking.prune, lambda w: dict(model=mlp(), kind="weight", amount=0.5, layers=None)),
    "kept_weights": (masking.kept_weights, lambda w: dict(layer=pruned_mlp().layer("fc1"))),
    "masking.report": (masking.report, lambda w: dict(model=pruned_mlp(), layers=None)),
    "sparsity": (masking.sparsity, lambda w: dict(model=pruned_mlp(), layers=["fc1"])),
    "parameters_left": (masking.parameters_left, lambda w: dict(model=pruned_mlp())),
    "retrain_dropout_rate": (masking.retrain_dropout_rate, lambda w: dict(rate=0.5, kept=10, original=20)),
    "adjust_dropout": (masking.adjust_dropout, lambda w: dict(model=pruned_mlp(), original_rates=None)),
    "GradualPruning": (masking.GradualPruning, lambda w: dict(
        model=mlp(), schedule=schedules.PolynomialSparsity(0.5, 0, 10, 2), kind="layer", layers=None)),
    "dead_units": (shrink.dead_units, lambda w: dict(model=pruned_mlp())),
    "remove_dead_units": (shrink.remove_dead_units, lambda w: dict(model=pruned_mlp())),
    "compressed_bytes": (sparse.compressed_bytes, lambda w: dict(model=pruned_mlp(), dense_bits=5, conv_bits=8)),
    "export_model": (sparse.export_model, lambda w: dict(model=pruned_mlp(), path=w["root"] / "out.npz",
                                                         dense_bits=5, conv_bits=8)),
    "import_model": (sparse.import_model, lambda w: dict(path=w["sparse"])),
    # training
    "save_checkpoint": (checkpoint.save_checkpoint, lambda w: dict(path=w["root"] / "saved.npz", model=mlp())),
    "read_checkpoint": (checkpoint.read_checkpoint, lambda w: dict(path=w["checkpoint"])),
    "read_training_state": (checkpoint.read_training_state, lambda w: dict(path=w["checkpoint"])),
    "load_into": (checkpoint.load_into, lambda w: dict(model=mlp(), path=w["checkpoint"])),
    "load_checkpoint": (checkpoint.load_checkpoint, lambda w: dict(path=w["checkpoint"], dtype="float64")),
    "evaluate": (fit.evaluate, lambda w: dict(model=mlp(), x=x784(), y=np.array([0, 1, 2, 0]), batch_size=2)),
    "fit": (fit.fit, lambda w: (lambda m: dict(model=m, x=x784(), y=np.array([0, 1, 2, 0]),
                                               optimizer=optim.SGD(m.parameters(), lr=0.1), epochs=1,
                                               batch_size=2, rng=rng(), progress=False, first_epoch=1))(mlp())),
    "SGD": (optim.SGD, lambda w: dict(params=mlp().parameters(), lr=0.1, momentum=0.9, nesterov=False,
                                      weight_decay=0.0)),
    "Adam": (optim.Adam, lambda w: dict(params=mlp().parameters(), lr=0.1, betas=(0.9, 0.999), eps=1e-8,
                                        weight_decay=0.0)),
    "L1": (penalties.L1, lambda w: dict(model=mlp(), strength=0.1)),
    "L2": (penalties.L2, lambda w: dict(model=mlp(), strength=0.1)),
    "LearntPenalty": (penalties.LearntPenalty, lambda w: dict(model=mlp(), strength=0.1, method="l0", scale=1.0)),
    "Constant": (schedules.Constant, lambda w: dict(lr=0.1)),
    "StepDecay": (schedules.StepDecay, lambda w: dict(lr=0.1, step_size=10, factor=0.5)),
    "Cosine": (schedules.Cosine, lambda w: dict(lr=0.1, total_steps=10, min_lr=0.0)),
    "PolynomialSparsity": (schedules.PolynomialSparsity, lambda w: dict(final=0.5, start=0, steps=10, interval=2,
                                                                        initial=0.0)),
    "capture": (state.capture, lambda w: (lambda m: dict(model=m, optimizer=optim.SGD(m.parameters(), lr=0.1),
                                                         shuffle=rng()))(mlp())),
    "restore": (state.restore, lambda w: (lambda m, o: dict(model=m, optimizer=o, shuffle=rng(),
                                                            arrays=state.capture(m, o, rng())[0],
                                                            record=state.capture(m, o, rng())[1],
                                                            path=w["checkpoint"]))(
        *(lambda m: (m, optim.SGD(m.parameters(), lr=0.1)))(mlp()))),
    # data
    "load_dataset": (data.load_dataset, lambda w: dict(name="mnist", data_dir=w["mnist"], validation=10,
                                                       download=False, verify=False)),
    "locate": (data.locate, lambda w: dict(name="mnist", data_dir=w["mnist"], download=False, verify=False)),
    "parse_idx": (data.parse_idx, lambda w: dict(payload=data.to_idx_bytes(np.arange(3, dtype=np.uint8)),
                                                 source="bytes")),
    "read_idx": (data.read_idx, lambda w: dict(path=w["idx"])),
    "sha256_of_payload": (data.sha256_of_payload, lambda w: dict(path=w["idx"], chunk=1024)),
    "to_idx_bytes": (data.to_idx_bytes, lambda w: dict(array=np.arange(3, dtype=np.uint8))),
    "to_inputs": (data.to_inputs, lambda w: dict(images=np.zeros((2, 28, 28), np.uint8), input_shape=(784,),
                                                 dtype=np.float32)),
    "write_idx": (data.write_idx, lambda w: dict(path=w["root"] / "written.idx", array=np.arange(3, dtype=np.uint8),
                                                 compress=False)),
    "Split": (data.Split, lambda w: dict(images=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(2, np.uint8))),
    # runs
    "RunConfig": (RunConfig, lambda w: dict(model="mlp:784-8-10", epochs=1, lr=0.1, reg="td-weight", gamma=0.5)),
    "train_run": (experiments.train_run, lambda w: dict(config=RunConfig(model="mlp:784-8-10", epochs=1,
                                                                         train_images=100),
                                                        data=w["data"], progress=False, out=None)),
    "load_run": (experiments.load_run, lambda w: dict(path=w["checkpoint"])),
    "prune_run": (experiments.prune_run, lambda w: dict(run=tiny_run(w), kind="weight", fractions=(0.0, 0.5),
                                                        data=w["data"])),
    "sweep": (experiments.sweep, lambda w: dict(config=w["sweep"], out=w["root"] / "sweep", jobs=1,
                                                data_dir=w["mnist"].parent, progress=False)),
    # the conformance kit (its property runs replaced by a stand-in)
    "check_gradients": (testing.check_gradients, lambda w: dict(module=nn.Dense(5, 3, rng=rng(), dtype=np.float64),
                                                                x=np.ones((2, 5)), rng=rng(), max_entries=4)),
    "relative_error": (testing.relative_error, lambda w: dict(analytic=np.ones(3), numeric=np.ones(3))),
    **{name: (getattr(testing, name), lambda w: dict(fn=keep_fn, max_examples=1, seed=0))
       for name in ("check_dropconnect", "check_dropout", "check_targeted_unit_dropout",
                    "check_targeted_weight_dropout", "check_unit_pruning", "check_weight_pruning")},
}


@pytest.fixture(autouse=True)
def no_long_work(monkeypatch, world):
    monkeypatch.chdir(world["root"])  # a relative path such as "0.5" is written there
    import tdnumpy.experiments.sweeps as sweeps
    monkeypatch.setattr(sweeps, "_check_against_data", lambda config, data_dir: None)  # synthetic files
    monkeypatch.setattr(sweeps, "_execute", interrupted)


def call(name, world, changes=None):
    """Call GOOD[name] with ``changes``; an interruption by a stand-in means the arguments were accepted."""
    function, good = GOOD[name]
    kwargs = good(world)
    kwargs.update(changes or {})

    def hang(signum, frame):
        raise TimeoutError(f"{name}({', '.join(changes or ())}) still running after 20 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        function(**kwargs)
    except KeyboardInterrupt:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return kwargs


def check_error(error: BaseException, name: str, args: dict):
    assert isinstance(error, EXPECTED), f"{name}({args}): {type(error).__name__}: {error}"
    if isinstance(error, DataNotFoundError):
        return  # accepted arguments, and no dataset where they point: the message lists where it looked
    message = str(error)
    names = set(args) | ({"input"} if "x" in args and name.endswith(".forward") else set())  # "expects input of"
    for arg, value in args.items():
        if isinstance(value, (str, Path)):
            names.add(str(value))
    assert any(re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", message) for n in names), \
        f"{name}({', '.join(args)}): the message names none of them: {type(error).__name__}: {message}"


def test_every_good_call_works(world):
    for name in GOOD:
        call(name, world)


def cases():
    """(callable, argument, bad value) triples; the argument names come from each
    good call made with placeholder paths (only the names are used)."""
    placeholder = {"root": Path("."), "checkpoint": Path("c.npz"), "sparse": Path("s.npz"), "mnist": Path("m"),
                   "idx": Path("i.idx"), "sweep": Path("s.toml"), "data": synthetic_dataset(train=10, test=10)}
    return [(name, arg, bad) for name, (_, good) in GOOD.items() for arg in good(placeholder) for bad in BAD]


# Left out, with the reason: a layer's own forward is the training hot path
# and takes ``training`` unchecked (Sequential.forward checks it); a fit of
# 10**18 epochs is what was asked for.
UNCHECKED = {("Dense.forward", "training"), ("Conv2D.forward", "training"), ("fit", "epochs")}
CASES = [case for case in cases() if case[:2] not in UNCHECKED]


@pytest.mark.parametrize("name", sorted({name for name, _, _ in CASES}))
def test_a_wrong_argument_returns_or_is_a_clear_error_naming_it(name, world):
    """Every (argument, wrong value) of one callable; the failures are listed together.
    (One test item per callable, not per case: pytest's per-item cost under
    coverage doubled the file's time.)"""
    failures = []
    for _, arg, bad in (case for case in CASES if case[0] == name):
        try:
            call(name, world, {arg: BAD[bad]})
        except Exception as e:
            try:
                check_error(e, name, {arg: BAD[bad]})
            except AssertionError as failure:
                failures.append(f"{arg}={bad}: {failure}")
    assert not failures, "\n".join(failures)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(pick=st.sampled_from(sorted(GOOD)), first=st.sampled_from(sorted(BAD)), second=st.sampled_from(sorted(BAD)),
       which=st.randoms(use_true_random=False))
def test_two_wrong_arguments_are_a_clear_error_naming_one(pick, first, second, which, world):
    names = [arg for n, arg, _ in CASES if n == pick]
    names = sorted(set(names))
    if len(names) < 2:
        return
    a, b = which.sample(names, 2)
    changes = {a: BAD[first], b: BAD[second]}
    try:
        call(pick, world, changes)
    except Exception as e:
        check_error(e, pick, changes)
