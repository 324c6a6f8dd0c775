"""The ``tdnumpy`` command: train, evaluate, prune, export-sparse, data, bench."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import atomic_write_bytes, atomic_write_json
from ..training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..data import DATASETS, DataNotFoundError, IDXError, load_dataset, locate, to_inputs
from ..data.download import DownloadError
from ..nn.models import SPEC_HELP, build_model
from ..experiments import regularisers
from ..nn.noise import choose_layers
from ..experiments.regularisers import NAMES
from ..training.optim import SGD, Adam
from ..training.penalties import L1, L2
from ..pruning.masking import GradualPruning
from ..training.schedules import Constant, Cosine, PolynomialSparsity, StepDecay
from ..training.fit import TrainingDiverged, evaluate, fit


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (1 or more), got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _float_in(low: float, high: float | None, low_open: bool, high_closed: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        bad_low = value <= low if low_open else value < low
        bad_high = high is not None and (value > high if high_closed else value >= high)
        if not math.isfinite(value) or bad_low or bad_high:
            left = "(" if low_open else "["
            right = "inf)" if high is None else (f"{high}]" if high_closed else f"{high})")
            raise argparse.ArgumentTypeError(f"must be in {left}{low}, {right}, got {text}")
        return value
    return parse


def _data_arguments(p: argparse.ArgumentParser, dataset_help="the dataset (default: %(default)s)",
                    dataset_default="mnist") -> None:
    p.add_argument("--dataset", choices=sorted(DATASETS), default=dataset_default, help=dataset_help)
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder holding the IDX files, directly or in a subfolder named after the dataset; "
                        "searched before $TDNUMPY_DATA and the cache ~/.cache/tdnumpy")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of downloading when the files are not found")
    _mirror_argument(p)


def _mirror_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mirror", action="append", default=None, metavar="URL",
                   help="download from this URL prefix instead of the public mirrors (repeatable; "
                        "tried in the order given)")


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model and write metrics.json and checkpoint.npz",
                       description="Train a model on MNIST or Fashion-MNIST with hand-written backprop.")
    p.add_argument("--model", default="lenet300", help=f"the model: {SPEC_HELP} (default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=128, help="mini-batch size (default: %(default)s)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="the optimiser (default: %(default)s)")
    p.add_argument("--lr", type=_float_in(0.0, None, True), default=0.05,
                   help="learning rate, > 0 (default: %(default)s)")
    p.add_argument("--momentum", type=_float_in(0.0, 1.0, False), default=0.9,
                   help="SGD momentum in [0, 1) (default: %(default)s)")
    p.add_argument("--nesterov", action="store_true", help="use Nesterov momentum with SGD")
    p.add_argument("--weight-decay", type=_float_in(0.0, None, False), default=0.0,
                   help="L2 weight decay added to the gradient (default: %(default)s)")
    p.add_argument("--lr-schedule", choices=("constant", "step", "cosine"), default="cosine",
                   help="learning-rate schedule over training steps: cosine decays --lr to 0 by the last step "
                        "(default: %(default)s)")
    p.add_argument("--lr-step-epochs", type=_positive_int, default=5,
                   help="with --lr-schedule step: epochs between decays (default: %(default)s)")
    p.add_argument("--lr-decay", type=_float_in(0.0, 1.0, True), default=0.1,
                   help="with --lr-schedule step: factor applied at each decay, in (0, 1) (default: %(default)s)")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed of the weights and of the example order; one seed gives bit-identical runs "
                        "(default: %(default)s)")
    p.add_argument("--validation", type=_non_negative_int, default=0,
                   help="hold out the last N training images as a validation set, reported per epoch "
                        "(default: %(default)s; 5000 is usual)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder for metrics.json and checkpoint.npz (default: runs/<model>-seed<seed>)")
    reg = p.add_argument_group("regularisers: targeted dropout (Gomez et al. 2019) and its relatives")
    reg.add_argument("--reg", default="none", metavar="NAME or LAYER=NAME,...",
                     help="one of: " + ", ".join(NAMES) + ". Weight rules (td-*, dropconnect, unit-dropout, "
                          "weight-dropout) go on every weighted layer; activation noise (dropout, "
                          "dropout-classic, gaussian, spatial, standout) after every weighted layer but the "
                          "last. --reg-layers picks the layers, or give one per layer: "
                          "--reg fc1=dropconnect,fc2=dropout (default: %(default)s)")
    reg.add_argument("--gamma", type=_float_in(0.0, 1.0, False, high_closed=True), default=0.5,
                     help="td-*: targeting proportion gamma in [0, 1] (default: %(default)s)")
    reg.add_argument("--alpha", type=_float_in(0.0, 1.0, False, high_closed=True), default=0.5,
                     help="td-*: drop rate alpha in [0, 1] of each target (default: %(default)s)")
    reg.add_argument("--drop-rate", type=_float_in(0.0, 1.0, False), default=0.5,
                     help="dropout, gaussian, spatial, dropconnect, unit-dropout, weight-dropout: the drop "
                          "rate p in [0, 1) (default: %(default)s)")
    reg.add_argument("--ramp", choices=("two-phase", "linear"), default="two-phase",
                     help="with td-ramp: gamma rises linearly from 0 over --ramp-steps, or as in the authors' "
                          "code, 95%% over --ramp-steps and the last 5%% over as many again (default: %(default)s)")
    reg.add_argument("--ramp-steps", type=_positive_int, default=None,
                     help="with td-ramp: steps of the (first) ramp phase (default: a quarter of all steps)")
    reg.add_argument("--ramp-alpha", action="store_true", help="with td-ramp: ramp alpha the same way as gamma")
    reg.add_argument("--per-example", action="store_true",
                     help="td-unit, td-random-unit, dropconnect (dense layers): one mask per example instead "
                          "of one per mini-batch")
    reg.add_argument("--dropconnect-inference", choices=("mean", "gaussian"), default="mean",
                     help="dropconnect at evaluation: weights times 1 - p, or Wan et al.'s Gaussian moment "
                          "matching averaged over --mc-samples draws (default: %(default)s)")
    reg.add_argument("--mc-samples", type=_positive_int, default=100, metavar="Z",
                     help="samples Z >= 1 of the Gaussian DropConnect inference (default: %(default)s)")
    reg.add_argument("--standout-alpha", type=_float_in(-math.inf, None, True), default=1.0,
                     help="standout: keep probability sigmoid(alpha a + beta) (default alpha: %(default)s)")
    reg.add_argument("--standout-beta", type=_float_in(-math.inf, None, True), default=0.0,
                     help="standout: beta of the keep probability (default: %(default)s)")
    reg.add_argument("--reg-layers", default=None, metavar="NAMES",
                     help="comma-separated weighted layers for a single --reg name, e.g. fc1,fc2")
    pen = p.add_argument_group("penalties on the weights (the paper's L1 and L2 baselines; biases are not penalised)")
    pen.add_argument("--l1", type=_float_in(0.0, None, False), default=0.0, metavar="LAMBDA",
                     help="add lambda * sum |w| to the loss (default: %(default)s)")
    pen.add_argument("--l2", type=_float_in(0.0, None, False), default=0.0, metavar="LAMBDA",
                     help="add lambda / 2 * sum w^2 to the loss (default: %(default)s)")
    grad = p.add_argument_group("gradual pruning during training (Zhu and Gupta 2017)")
    grad.add_argument("--gradual-sparsity", type=_float_in(0.0, 1.0, False), default=None, metavar="S",
                      help="prune the weights to sparsity S in [0, 1) along s_t = S (1 - (1 - (t - t0) / (n dt))^3)")
    grad.add_argument("--gradual-kind", choices=("layer", "weight", "unit", "global"), default="layer",
                      help="what each pruning step removes (default: %(default)s; see 'tdnumpy prune --help')")
    grad.add_argument("--gradual-start", type=_non_negative_int, default=0, metavar="EPOCH",
                      help="epoch at whose start pruning begins, t0 (default: %(default)s)")
    grad.add_argument("--gradual-epochs", type=_positive_int, default=None,
                      help="epochs over which sparsity rises to S, n dt (default: half the epochs after "
                           "--gradual-start)")
    grad.add_argument("--gradual-interval", type=_positive_int, default=100, metavar="STEPS",
                      help="steps between pruning steps, dt (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="print only the final summary line")
    _data_arguments(p)
    p.set_defaults(func=cmd_train)


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint on the test set",
                       description="Print the test loss and accuracy of a checkpoint.")
    p.add_argument("checkpoint", type=Path, help="a checkpoint.npz written by 'tdnumpy train'")
    _data_arguments(p, "the dataset (default: the one the checkpoint was trained on)", None)
    p.set_defaults(func=cmd_evaluate)


def _fractions(text: str) -> list:
    """'0,0.5,0.9' -> [0.0, 0.5, 0.9]; 'fc1=0.6,fc3=0.3;fc1=0.92,fc3=0.74' -> one dict per row."""
    rows = []
    try:
        if "=" in text:
            for row in text.split(";"):
                pairs = [item.split("=") for item in row.split(",")]
                names = [pair[0].strip() for pair in pairs]
                if any(len(pair) != 2 for pair in pairs) or len(set(names)) != len(names):
                    raise ValueError(row)  # also a layer named twice in a row
                rows.append({name: float(value) for name, (_, value) in zip(names, pairs)})
        else:
            rows = [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be numbers separated by commas (0,0.5,0.9) or rows of LAYER=NUMBER pairs separated by "
            f"semicolons (fc1=0.6,fc2=0.6;fc1=0.92,fc2=0.91), each layer once a row, got {text!r}") from None
    if not rows:
        raise argparse.ArgumentTypeError(f"needs at least one number, got {text!r}")
    values = [v for row in rows for v in (row.values() if isinstance(row, dict) else [row])]
    bad = [v for v in values if not math.isfinite(v) or v < 0]
    if bad:
        raise argparse.ArgumentTypeError(f"must be 0 or more (fractions: in [0, 1]), got {bad[0]}")
    return rows


def _prune_parser(sub) -> None:
    from ..pruning.masking import KINDS

    p = sub.add_parser("prune", help="prune a checkpoint at several fractions; accuracy versus sparsity",
                       description="Prune a trained checkpoint by magnitude at each fraction, optionally "
                                   "retrain, and report sparsity, test accuracy, parameters left and the "
                                   "compressed size; writes prune.csv, prune.json and one checkpoint per row.")
    p.add_argument("checkpoint", type=Path, help="a checkpoint.npz written by 'tdnumpy train'")
    p.add_argument("--kind", choices=KINDS, default="weight",
                   help="weight: the smallest |w| of each column (the targeted-dropout paper); unit: whole "
                        "units by L2 norm; layer: the smallest |w| of each layer; global: one threshold for "
                        "all layers; std: Han et al.'s |w| < q std(W) (default: %(default)s)")
    p.add_argument("--fractions", type=_fractions, default=[0.0, 0.5, 0.9, 0.95, 0.99],
                   help="comma-separated fractions in [0, 1] to prune (kind std: quality parameters q >= 0), "
                        "or per-layer rows 'fc1=0.92,fc2=0.91,fc3=0.74;...' (default: 0,0.5,0.9,0.95,0.99)")
    p.add_argument("--layers", default=None, metavar="NAMES",
                   help="comma-separated weighted layers to prune (default: all; for unit pruning all but the "
                        "output layer)")
    p.add_argument("--skip-output", action="store_true", help="leave the output layer unpruned")
    p.add_argument("--retrain-epochs", type=_non_negative_int, default=0,
                   help="retrain each pruned network this many epochs on the training images (less the "
                        "checkpoint's --validation ones), with its optimiser, batch size, penalties and "
                        "regularisers (ramped ones at their final values), pruned weights held at 0 and dropout "
                        "rates scaled by sqrt(C_ir / C_io) (Han et al.) (default: %(default)s)")
    p.add_argument("--retrain-lr", type=_float_in(0.0, None, True), default=None,
                   help="learning rate of retraining, decayed by a cosine (default: a tenth of the training lr)")
    p.add_argument("--iterative", action="store_true",
                   help="prune the rows one after the other, each starting from the previous (retrained) "
                        "network, as in Han et al.'s iterative pruning; fractions must not decrease")
    p.add_argument("--dense-bits", type=_positive_int, default=5,
                   help="index bits of dense layers in the compressed size (default: %(default)s)")
    p.add_argument("--conv-bits", type=_positive_int, default=8,
                   help="index bits of conv layers in the compressed size (default: %(default)s)")
    p.add_argument("--remove-dead-units", action="store_true",
                   help="after pruning (and retraining), remove the units left with no unpruned input or output "
                        "for real (Han et al.); the saved checkpoints are the smaller networks")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: prune-<kind> next to the checkpoint)")
    _data_arguments(p, "the dataset (default: the one the checkpoint was trained on)", None)
    p.set_defaults(func=cmd_prune)


def _export_parser(sub) -> None:
    p = sub.add_parser("export-sparse", help="write a pruned checkpoint in Han et al.'s sparse format",
                       description="Store every weight matrix as compressed sparse rows with relative indices "
                                   "(gaps of b bits, filler zeros for longer gaps) and print the bytes per layer.")
    p.add_argument("checkpoint", type=Path, help="a (pruned) checkpoint.npz")
    p.add_argument("out", type=Path, help="the sparse file to write (.npz)")
    p.add_argument("--dense-bits", type=_positive_int, default=5, help="index bits of dense layers (default: %(default)s)")
    p.add_argument("--conv-bits", type=_positive_int, default=8, help="index bits of conv layers (default: %(default)s)")
    p.set_defaults(func=cmd_export_sparse)


def _data_parser(sub) -> None:
    p = sub.add_parser("data", help="find or download datasets",
                       description="Find, download and verify the IDX files of a dataset.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="{fetch,where}")
    fetch = data_sub.add_parser("fetch", help="download a dataset into the cache (verified by SHA-256)",
                                description="Download the four IDX files into ~/.cache/tdnumpy/<dataset>, "
                                            "unless they are already found, and verify them.")
    fetch.add_argument("dataset", choices=sorted(DATASETS), help="the dataset")
    fetch.add_argument("--data-dir", type=Path, default=None, help="look here first, as 'train' does")
    _mirror_argument(fetch)
    fetch.set_defaults(func=cmd_data_fetch)
    where = data_sub.add_parser("where", help="print where each file of a dataset was found",
                                description="Print the path of each file, without downloading.")
    where.add_argument("dataset", choices=sorted(DATASETS), help="the dataset")
    where.add_argument("--data-dir", type=Path, default=None, help="look here first, as 'train' does")
    where.set_defaults(func=cmd_data_where)


def _bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks (never tests)",
                       description="Time training work; with --vs-torch, against PyTorch on CPU in the same run.")
    bench_sub = p.add_subparsers(dest="bench_command", required=True, metavar="{mlp,conv,masks}")
    for name, model, what in (("mlp", "lenet300", "LeNet-300-100"), ("conv", "lenet5", "LeNet-5")):
        b = bench_sub.add_parser(name, help=f"one MNIST epoch of {what}",
                                 description=f"Time one MNIST training epoch of {what} (float32, SGD with "
                                             "momentum) and report the peak resident memory.")
        b.add_argument("--model", default=model, help="the model (default: %(default)s)")
        b.add_argument("--batch-size", type=_positive_int, default=128, help="mini-batch size (default: %(default)s)")
        b.add_argument("--repeats", type=_positive_int, default=3,
                       help="timed epochs per framework, after one warm-up (default: %(default)s)")
        b.add_argument("--vs-torch", action="store_true",
                       help="also run the same epoch in PyTorch (CPU), alternating with tdnumpy, and print "
                            "the time ratio; needs the [bench] extra")
        b.add_argument("--data-dir", type=Path, default=None, help="folder holding the MNIST files")
        b.set_defaults(func=cmd_bench)
    m = bench_sub.add_parser("masks", help="targeted-dropout masks against a matmul and a plain epoch",
                             description="Time each targeted mask of a square float32 matrix against one matmul "
                                         "of that matrix, and a LeNet-300-100 epoch with targeted weight "
                                         "dropout against a plain one; ratios measured in one run.")
    m.add_argument("--size", type=_positive_int, default=4096, help="matrix size (default: %(default)s)")
    m.add_argument("--repeats", type=_positive_int, default=5, help="timed runs of each figure (default: %(default)s)")
    m.add_argument("--data-dir", type=Path, default=None, help="folder holding the MNIST files")
    m.set_defaults(func=cmd_bench_masks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdnumpy",
        description="Targeted dropout and its relatives in plain NumPy: train, evaluate, prune, benchmark.")
    parser.add_argument("--version", action="version", version=f"tdnumpy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,evaluate,prune,export-sparse,data,bench}")
    _train_parser(sub)
    _evaluate_parser(sub)
    _prune_parser(sub)
    _export_parser(sub)
    _data_parser(sub)
    _bench_parser(sub)
    return parser


def _load(args, log):
    return load_dataset(args.dataset, args.data_dir, validation=getattr(args, "validation", 0),
                        download=not args.no_download, mirrors=args.mirror, log=log)


def _schedule(args, steps_per_epoch: int):
    if args.lr_schedule == "step":
        return StepDecay(args.lr, args.lr_step_epochs * steps_per_epoch, args.lr_decay)
    if args.lr_schedule == "cosine":
        return Cosine(args.lr, args.epochs * steps_per_epoch)
    return Constant(args.lr)


def _regularisers(args, model) -> dict[str, str]:
    """{layer: regulariser} from --reg and --reg-layers, checked against the model."""
    chosen = regularisers.parse(args.reg, model)
    if args.reg_layers is not None:
        if "=" in args.reg:
            raise ValueError("--reg-layers goes with a single --reg name, not with LAYER=NAME pairs.")
        layers = choose_layers(model, [n.strip() for n in args.reg_layers.split(",") if n.strip()])
        chosen = dict.fromkeys(layers, args.reg) if args.reg != "none" else {}
    return chosen


def _settings(args) -> regularisers.Settings:
    return regularisers.Settings(
        gamma=args.gamma, alpha=args.alpha, drop_rate=args.drop_rate, per_example=args.per_example,
        ramp=args.ramp, ramp_steps=args.ramp_steps, ramp_alpha=args.ramp_alpha,
        dropconnect_inference=args.dropconnect_inference, mc_samples=args.mc_samples,
        standout_alpha=args.standout_alpha, standout_beta=args.standout_beta)


def cmd_train(args) -> int:
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    model = build_model(args.model, seed=args.seed)
    chosen = _regularisers(args, model)  # a bad name fails now, not after loading the data
    out = _output_folder(args.out or Path("runs") / f"{args.model.replace(':', '_')}-seed{args.seed}")
    data = _load(args, log)
    x, y = to_inputs(data.train.images, model.input_shape), data.train.labels
    x_test = to_inputs(data.test.images, model.input_shape)
    validation = None
    if data.validation is not None:
        validation = (to_inputs(data.validation.images, model.input_shape), data.validation.labels)
    optimizer = _optimizer(args, model, args.lr)
    steps_per_epoch = -(-len(x) // args.batch_size)
    for line in regularisers.apply(model, chosen, _settings(args), args.epochs * steps_per_epoch):
        log(line)
    penalties = _penalties(args, model)
    gradual = _gradual_pruning(args, model, steps_per_epoch)
    for item in (*penalties, gradual):
        if item is not None:
            log(_describe(item))
    log(f"training {args.model} ({model.n_parameters():,} parameters) on {args.dataset} "
        f"({len(x):,} images from {data.folder}) -> {out}")

    def report(m):
        val = f", val acc {m['val_accuracy']:.4f}" if "val_accuracy" in m else ""
        log(f"epoch {m['epoch']:>3}: loss {m['train_loss']:.4f}, train acc {m['train_accuracy']:.4f}{val}, "
            f"{m['seconds']:.1f} s")

    start = time.perf_counter()
    history = fit(model, x, y, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                  rng=np.random.default_rng(args.seed), lr_schedule=_schedule(args, steps_per_epoch),
                  validation=validation, progress=None if not args.quiet else False, on_epoch_end=report,
                  penalties=penalties, before_step=gradual)
    seconds = time.perf_counter() - start
    test = evaluate(model, x_test, data.test.labels)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    metrics = {"model": args.model, "dataset": args.dataset, "seed": args.seed, "parameters": model.n_parameters(),
               "config": config, "epochs": history.epochs, "test_loss": test["loss"],
               "test_accuracy": test["accuracy"], "train_seconds": seconds}
    save_checkpoint(out / "checkpoint.npz", model, seed=args.seed, epoch=args.epochs, dataset=args.dataset,
                    metrics={"test_loss": test["loss"], "test_accuracy": test["accuracy"]}, config=config)
    atomic_write_json(out / "metrics.json", metrics)
    print(f"{args.model} on {args.dataset}, seed {args.seed}, {args.epochs} epochs in {seconds:.1f} s: "
          f"test accuracy {100 * test['accuracy']:.2f}% (loss {test['loss']:.4f}) -> {out}")
    return 0


def _optimizer(args, model, lr: float):
    """The optimiser the train flags ``args`` ask for, at learning rate ``lr``."""
    if args.optimizer == "adam":
        return Adam(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    return SGD(model.parameters(), lr=lr, momentum=args.momentum, nesterov=args.nesterov,
               weight_decay=args.weight_decay)


def _output_folder(path: Path) -> Path:
    """Make the output folder now, so a bad --out fails before any work."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: File exists and is not a folder.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _penalties(args, model) -> list:
    return [cls(model, strength) for cls, strength in ((L1, args.l1), (L2, args.l2)) if strength > 0]


def _gradual_pruning(args, model, steps_per_epoch: int):
    """Zhu and Gupta's schedule from the flags: pruning steps t0, t0 + dt, ...,
    t0 + n dt, the last one inside the run (steps 0 .. epochs * steps_per_epoch - 1)."""
    if args.gradual_sparsity is None:
        return None
    if args.gradual_start >= args.epochs:
        raise ValueError(f"--gradual-start {args.gradual_start} must be below --epochs {args.epochs}.")
    epochs = args.gradual_epochs or max(1, (args.epochs - args.gradual_start) // 2)
    if args.gradual_start + epochs > args.epochs:
        raise ValueError(f"--gradual-start {args.gradual_start} + --gradual-epochs {epochs} runs past --epochs "
                         f"{args.epochs}; the final sparsity would never be reached.")
    start = args.gradual_start * steps_per_epoch
    span = min(epochs * steps_per_epoch, args.epochs * steps_per_epoch - start) - 1  # t0 + n dt <= last step
    if span < args.gradual_interval:
        raise ValueError(f"--gradual-interval {args.gradual_interval} is longer than the pruning phase "
                         f"({span + 1} steps); choose a smaller interval.")
    schedule = PolynomialSparsity(args.gradual_sparsity, start=start, steps=span // args.gradual_interval,
                                  interval=args.gradual_interval)
    return GradualPruning(model, schedule, kind=args.gradual_kind)


def _describe(item) -> str:
    if isinstance(item, GradualPruning):
        s = item.schedule
        return (f"gradual pruning ({item.kind}): sparsity 0 -> {s.final} over steps {s.start}.."
                f"{s.start + s.steps * s.interval}, every {s.interval} steps")
    return f"{item.name} penalty on the weights, lambda {item.strength}"


def _training_regularisers(model, meta: dict) -> list[str]:
    """Put back the regularisers a checkpoint was trained with: their evaluation
    behaviour (DropConnect's inference, classic dropout's and standout's
    scaling) is part of the model. A pruned and retrained checkpoint also
    records the dropout rates it was retrained with (Han et al.'s D_r)."""
    train_args = _train_config(meta.get("config") or {})
    lines = regularisers.apply(model, _regularisers(train_args, model), _settings(train_args))
    for name, rate in ((meta.get("pruned") or {}).get("dropout_rates") or {}).items():
        model.layer(name).p = rate
        lines.append(f"{name}: p {rate:.4g} (retrained after pruning)")
    return lines


def cmd_evaluate(args) -> int:
    model, meta = load_checkpoint(args.checkpoint)
    args.dataset = dataset = args.dataset or meta.get("dataset", "mnist")
    for line in _training_regularisers(model, meta):
        print(f"as trained: {line}", file=sys.stderr)
    data = _load(args, lambda *a: print(*a, file=sys.stderr))
    test = evaluate(model, to_inputs(data.test.images, model.input_shape, model.dtype), data.test.labels)
    print(f"{args.checkpoint}: {meta['spec']} on {dataset} test: accuracy {100 * test['accuracy']:.2f}% "
          f"(loss {test['loss']:.4f}, {len(data.test):,} images)")
    return 0


def _train_config(config: dict) -> argparse.Namespace:
    """The train arguments a checkpoint was made with (defaults for what it does not record)."""
    train_args = build_parser().parse_args(["train"])
    vars(train_args).update({k: v for k, v in config.items() if hasattr(train_args, k)})
    return train_args


def _prune_layers(args, model) -> list[str]:
    from ..pruning.masking import prunable_layers

    names = None if args.layers is None else [n.strip() for n in args.layers.split(",")]
    if names is not None and len(set(names)) != len(names):
        raise ValueError(f"--layers names a layer twice: {args.layers!r}.")
    chosen = [layer.name for layer in prunable_layers(model, names, kind=args.kind)]
    if args.skip_output:
        last = choose_layers(model)[-1]
        chosen = [n for n in chosen if n != last]
    if not chosen:
        raise ValueError("No layer is left to prune (--layers and --skip-output leave none).")
    return chosen


def _check_amounts(args, layers: list[str]) -> None:
    rows = args.fractions
    for row in rows:
        values = row if isinstance(row, dict) else {name: row for name in layers}
        unknown = sorted(set(values) - set(layers))
        if unknown:
            raise ValueError(f"--fractions names layers {unknown} that are not pruned; the layers pruned are {layers}.")
        if args.kind == "global" and isinstance(row, dict):
            raise ValueError("--kind global takes one fraction per row (a single threshold for all layers), "
                             "not LAYER=FRACTION pairs.")
        too_big = {n: v for n, v in values.items() if v > 1 and args.kind != "std"}
        if too_big:
            raise ValueError(f"--fractions must be in [0, 1] for --kind {args.kind}; got {too_big}.")
    if args.iterative:
        for before, after in zip(rows, rows[1:]):
            b = before if isinstance(before, dict) else dict.fromkeys(layers, before)
            a = after if isinstance(after, dict) else dict.fromkeys(layers, after)
            if any(a.get(n, 0.0) < b.get(n, 0.0) for n in layers):
                raise ValueError(f"--iterative prunes more at every row; the fractions {before} -> {after} decrease.")


def _label(amount) -> str:
    return " ".join(f"{n}={v:g}" for n, v in amount.items()) if isinstance(amount, dict) else f"{amount:g}"


def _retrain(model, x, y, config: argparse.Namespace, epochs: int, lr: float, seed: int) -> None:
    optimizer = _optimizer(config, model, lr)
    steps = epochs * -(-len(x) // config.batch_size)
    fit(model, x, y, optimizer=optimizer, epochs=epochs, batch_size=config.batch_size,
        rng=np.random.default_rng(seed), lr_schedule=Cosine(lr, steps), progress=False,
        penalties=_penalties(config, model))


def cmd_prune(args) -> int:
    from ..pruning import masking as pruning
    from ..pruning.shrink import remove_dead_units
    from ..pruning.sparse import compressed_bytes

    log = lambda *a: print(*a, file=sys.stderr)  # noqa: E731
    model, meta = load_checkpoint(args.checkpoint)
    config = _train_config(meta.get("config") or {})
    layers = _prune_layers(args, model)
    _check_amounts(args, layers)
    if any(p.mask is not None for p in model.parameters()):
        log(f"note: the checkpoint is already pruned (sparsity {pruning.sparsity(model, layers):.4f} over the "
            f"layers chosen); pruning only adds to its masks")
    if args.kind == "unit" and choose_layers(model)[-1] in layers:
        log("note: unit pruning of the output layer removes classes")
    args.dataset = args.dataset or meta.get("dataset", "mnist")
    out = _output_folder(args.out or args.checkpoint.parent / f"prune-{args.kind}")
    args.validation = config.validation  # retrain on the images training saw, not on its held-out ones
    data = _load(args, log)
    x, y = to_inputs(data.train.images, model.input_shape, model.dtype), data.train.labels
    x_test, y_test = to_inputs(data.test.images, model.input_shape, model.dtype), data.test.labels
    retrain_lr = args.retrain_lr or config.lr / 10
    log(f"pruning {args.checkpoint} ({meta['spec']}), kind {args.kind}, layers {', '.join(layers)}"
        + (f"; retraining {args.retrain_epochs} epochs at lr {retrain_lr:g}" if args.retrain_epochs else ""))
    rows, network, original_rates = [], None, None
    for i, amount in enumerate(args.fractions):
        if network is None or not args.iterative:
            network, _ = load_checkpoint(args.checkpoint)
            _training_regularisers(network, meta)
            original_rates = None
        pruning.prune(network, args.kind, amount, layers)
        if args.retrain_epochs:
            original_rates = pruning.adjust_dropout(network, original_rates)
            _retrain(network, x, y, config, args.retrain_epochs, retrain_lr, seed=config.seed + i)
        rates = {name: network.layer(name).p for name in original_rates or {}}
        kept = network
        if args.remove_dead_units:
            shrunk = remove_dead_units(network)
            kept = shrunk.model
            log(f"  {_label(amount)}: {shrunk.summary()}")
        test = evaluate(kept, x_test, y_test)
        sparse = compressed_bytes(kept, dense_bits=args.dense_bits, conv_bits=args.conv_bits)
        dense = 4 * network.n_parameters()  # the network before any units were removed
        path = out / f"pruned-{i}.npz"
        save_checkpoint(path, kept, seed=config.seed, dataset=args.dataset, config=meta.get("config") or {},
                        metrics={"test_loss": test["loss"], "test_accuracy": test["accuracy"]},
                        pruned={"kind": args.kind, "amount": amount, "layers": layers, "source": str(args.checkpoint),
                                "retrain_epochs": args.retrain_epochs, "iterative": args.iterative,
                                "dropout_rates": rates})
        rows.append({"q" if args.kind == "std" else "fraction": amount, "sparsity": pruning.sparsity(network, layers),
                     "test_accuracy": test["accuracy"], "test_loss": test["loss"],
                     "parameters_left": pruning.parameters_left(kept), "parameters": kept.n_parameters(),
                     "dense_bytes": dense, "compressed_bytes": sparse, "checkpoint": str(path),
                     "layers": pruning.report(network, layers)})
        log(f"  {_label(amount)}: sparsity {rows[-1]['sparsity']:.4f}, test accuracy {100 * test['accuracy']:.2f}%")
    _write_prune_table(out, args.kind, rows)
    return 0


def _write_prune_table(out: Path, kind: str, rows: list[dict]) -> None:
    head = "q" if kind == "std" else "fraction"
    width = max(len(head), *(len(_label(r[head])) for r in rows))
    print(f"{head:>{width}} {'sparsity':>9} {'test acc':>9} {'params left':>12} {'compressed B':>12} {'ratio':>6}")
    lines = ["{},sparsity,test_accuracy,parameters_left,compressed_bytes,compression_ratio".format(head)]
    for r in rows:
        ratio = r["dense_bytes"] / r["compressed_bytes"]
        print(f"{_label(r[head]):>{width}} {r['sparsity']:>9.4f} {100 * r['test_accuracy']:>8.2f}% "
              f"{r['parameters_left']:>12,} {r['compressed_bytes']:>12,} {ratio:>5.1f}x")
        lines.append(f"\"{_label(r[head])}\",{r['sparsity']:.6f},{r['test_accuracy']:.4f},"
                     f"{r['parameters_left']},{r['compressed_bytes']},{ratio:.3f}")
    atomic_write_bytes(out / "prune.csv", ("\n".join(lines) + "\n").encode())
    atomic_write_json(out / "prune.json", {"kind": kind, "rows": rows})
    print("(compressed B: every weight matrix as relative-index CSR, 32-bit values and b-bit gaps, biases "
          "dense; ratio: the unpruned network's 32-bit bytes / compressed B)")
    print(f"-> {out / 'prune.csv'}, {out / 'prune.json'}")


def cmd_export_sparse(args) -> int:
    from ..pruning.sparse import export_model, total

    if args.out.is_dir() or not args.out.name:
        raise ValueError(f"OUT {str(args.out)!r} must be a file name, not a folder.")
    model, meta = load_checkpoint(args.checkpoint)
    reports = export_model(model, args.out, dense_bits=args.dense_bits, conv_bits=args.conv_bits)
    print(f"{'layer':>8} {'shape':>12} {'bits':>4} {'nonzeros':>9} {'fillers':>8} {'dense B':>10} {'sparse B':>10} {'ratio':>6}")
    for r in reports:
        print(f"{r['layer']:>8} {'x'.join(map(str, r['shape'])):>12} {r['bits']:>4} {r['nonzeros']:>9,} "
              f"{r['fillers']:>8,} {r['dense_bytes']:>10,} {r['sparse_bytes']:>10,} {r['ratio']:>5.1f}x")
    t = total(reports)
    print(f"{'total':>8} {'':>12} {'':>4} {t['nonzeros']:>9,} {t['fillers']:>8,} {t['dense_bytes']:>10,} "
          f"{t['sparse_bytes']:>10,} {t['ratio']:>5.1f}x -> {args.out}")
    if not any(p.mask is not None for p in model.parameters()):
        print("note: the checkpoint is not pruned; the sparse form of a dense matrix is larger, so nothing "
              "is saved (biases are stored dense either way)")
    return 0


def cmd_data_fetch(args) -> int:
    paths = locate(args.dataset, args.data_dir, mirrors=args.mirror, log=lambda m: print(m, file=sys.stderr))
    for stem, path in paths.items():
        print(f"{stem}: {path} (SHA-256 verified)")
    return 0


def cmd_data_where(args) -> int:
    for stem, path in locate(args.dataset, args.data_dir, download=False,
                             log=lambda m: print(m, file=sys.stderr)).items():
        print(f"{stem}: {path}")
    return 0


def cmd_bench(args) -> int:
    from ..experiments.bench import bench_epoch

    if args.vs_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("tdnumpy: error: --vs-torch needs PyTorch; install it with pip install 'tdnumpy[bench]' "
                  "(on a CPU-only machine, the CPU build of torch first)", file=sys.stderr)
            return 2
    bench_epoch(args.model, batch_size=args.batch_size, repeats=args.repeats, vs_torch=args.vs_torch,
                data_dir=args.data_dir)
    return 0


def cmd_bench_masks(args) -> int:
    from ..experiments.bench import bench_masks

    bench_masks(size=args.size, repeats=args.repeats, data_dir=args.data_dir)
    return 0


# Errors that carry a message meant for the user; set TDNUMPY_DEBUG=1 to see the traceback.
EXPECTED_ERRORS = (DataNotFoundError, DownloadError, IDXError, CheckpointError, TrainingDiverged,
                   OSError, ValueError, TypeError)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EXPECTED_ERRORS as e:
        if os.environ.get("TDNUMPY_DEBUG"):
            raise
        print(f"tdnumpy: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tdnumpy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
