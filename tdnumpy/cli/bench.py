"""``tdnumpy bench mlp|conv|masks``: timing benchmarks (never tests), from
:mod:`tdnumpy.experiments.bench`."""

from __future__ import annotations

import sys

from .._validation import Interval
from ._args import number, path

POSITIVE = number(Interval(int, 1))


def add_parser(sub) -> None:
    """The ``bench`` command and its ``mlp``, ``conv`` and ``masks`` subcommands."""
    p = sub.add_parser(
        "bench",
        help="benchmarks (never tests)",
        description="Time training work; with --vs-torch, against PyTorch on CPU in the same run.",
    )
    bench_sub = p.add_subparsers(dest="bench_command", required=True, metavar="{mlp,conv,masks}")
    for name, model, what in (("mlp", "lenet300", "LeNet-300-100"), ("conv", "lenet5", "LeNet-5")):
        b = bench_sub.add_parser(
            name,
            help=f"one MNIST epoch of {what}",
            description=f"Time one MNIST training epoch of {what} (float32, SGD with "
            "momentum) and report the peak resident memory.",
        )
        b.add_argument("--model", default=model, help="the model (default: %(default)s)")
        b.add_argument("--batch-size", type=POSITIVE, default=128, help="mini-batch size (default: %(default)s)")
        b.add_argument(
            "--repeats",
            type=POSITIVE,
            default=3,
            help="timed epochs per framework, after one warm-up (default: %(default)s)",
        )
        b.add_argument(
            "--vs-torch",
            action="store_true",
            help="also run the same epoch in PyTorch (CPU), alternating with tdnumpy, and print "
            "the time ratio; needs the [bench] extra",
        )
        b.add_argument("--data-dir", type=path, default=None, help="folder holding the MNIST files")
        b.set_defaults(func=run_epoch)
    m = bench_sub.add_parser(
        "masks",
        help="targeted-dropout masks against a matmul and a plain epoch",
        description="Time each targeted mask of a square float32 matrix against one matmul "
        "of that matrix, and a LeNet-300-100 epoch with targeted weight "
        "dropout against a plain one; ratios measured in one run.",
    )
    m.add_argument("--size", type=POSITIVE, default=4096, help="matrix size (default: %(default)s)")
    m.add_argument("--repeats", type=POSITIVE, default=5, help="timed runs of each figure (default: %(default)s)")
    m.add_argument("--data-dir", type=path, default=None, help="folder holding the MNIST files")
    m.set_defaults(func=run_masks)


def run_epoch(args) -> int:
    """Time training epochs (and PyTorch's, with --vs-torch)."""
    from ..experiments.bench import bench_epoch

    if args.vs_torch:
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # not imported here: PyTorch runs in a child process
            print(
                "tdnumpy: error: --vs-torch needs PyTorch; install it with pip install 'tdnumpy[bench]' "
                "(on a CPU-only machine, the CPU build of torch first)",
                file=sys.stderr,
            )
            return 2
    bench_epoch(
        args.model, batch_size=args.batch_size, repeats=args.repeats, vs_torch=args.vs_torch, data_dir=args.data_dir
    )
    return 0


def run_masks(args) -> int:
    """Time the targeted masks and a targeted-dropout epoch."""
    from ..experiments.bench import bench_masks

    bench_masks(size=args.size, repeats=args.repeats, data_dir=args.data_dir)
    return 0
