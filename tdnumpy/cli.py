"""The ``tdnumpy`` command: train, evaluate, data, bench."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._io import atomic_write_json
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import DATASETS, DataNotFoundError, IDXError, load_dataset, locate, to_inputs
from .data.download import DownloadError
from .models import SPEC_HELP, build_model
from . import regularisers
from .nn.noise import choose_layers
from .regularisers import NAMES
from .optim import SGD, Adam
from .schedules import Constant, Cosine, StepDecay
from .train import TrainingDiverged, evaluate, fit


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
    p.add_argument("--quiet", action="store_true", help="print only the final summary line")
    _data_arguments(p)
    p.set_defaults(func=cmd_train)


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint on the test set",
                       description="Print the test loss and accuracy of a checkpoint.")
    p.add_argument("checkpoint", type=Path, help="a checkpoint.npz written by 'tdnumpy train'")
    _data_arguments(p, "the dataset (default: the one the checkpoint was trained on)", None)
    p.set_defaults(func=cmd_evaluate)


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
        description="Targeted dropout and its relatives in plain NumPy: train, evaluate, benchmark.")
    parser.add_argument("--version", action="version", version=f"tdnumpy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,data,bench}")
    _train_parser(sub)
    _evaluate_parser(sub)
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
    out = args.out or Path("runs") / f"{args.model.replace(':', '_')}-seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)  # fail now, not after training, if it cannot be made
    data = _load(args, log)
    x, y = to_inputs(data.train.images, model.input_shape), data.train.labels
    x_test = to_inputs(data.test.images, model.input_shape)
    validation = None
    if data.validation is not None:
        validation = (to_inputs(data.validation.images, model.input_shape), data.validation.labels)
    if args.optimizer == "adam":
        optimizer = Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                        weight_decay=args.weight_decay)
    steps_per_epoch = -(-len(x) // args.batch_size)
    for line in regularisers.apply(model, chosen, _settings(args), args.epochs * steps_per_epoch):
        log(line)
    log(f"training {args.model} ({model.n_parameters():,} parameters) on {args.dataset} "
        f"({len(x):,} images from {data.folder}) -> {out}")

    def report(m):
        val = f", val acc {m['val_accuracy']:.4f}" if "val_accuracy" in m else ""
        log(f"epoch {m['epoch']:>3}: loss {m['train_loss']:.4f}, train acc {m['train_accuracy']:.4f}{val}, "
            f"{m['seconds']:.1f} s")

    start = time.perf_counter()
    history = fit(model, x, y, optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size,
                  rng=np.random.default_rng(args.seed), lr_schedule=_schedule(args, steps_per_epoch),
                  validation=validation, progress=None if not args.quiet else False, on_epoch_end=report)
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


def _training_regularisers(model, config: dict) -> list[str]:
    """Put back the regularisers a checkpoint was trained with: their evaluation
    behaviour (DropConnect's inference, classic dropout's and standout's
    scaling) is part of the model."""
    train_args = build_parser().parse_args(["train"])
    vars(train_args).update({k: v for k, v in config.items() if hasattr(train_args, k)})
    return regularisers.apply(model, _regularisers(train_args, model), _settings(train_args))


def cmd_evaluate(args) -> int:
    model, meta = load_checkpoint(args.checkpoint)
    args.dataset = dataset = args.dataset or meta.get("dataset", "mnist")
    for line in _training_regularisers(model, meta.get("config") or {}):
        print(f"as trained: {line}", file=sys.stderr)
    data = _load(args, lambda *a: print(*a, file=sys.stderr))
    test = evaluate(model, to_inputs(data.test.images, model.input_shape, model.dtype), data.test.labels)
    print(f"{args.checkpoint}: {meta['spec']} on {dataset} test: accuracy {100 * test['accuracy']:.2f}% "
          f"(loss {test['loss']:.4f}, {len(data.test):,} images)")
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
    from .bench import bench_epoch

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
    from .bench import bench_masks

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
