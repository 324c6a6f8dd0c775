"""``tdnumpy prune``: :func:`~tdnumpy.experiments.load_run`,
:func:`~tdnumpy.experiments.prune_run`, and the table of accuracy versus sparsity.

The flags are prune_run's parameters (``--retrain-epochs`` is
``retrain_epochs``); their defaults are the function's.
"""

from __future__ import annotations

import argparse
import inspect
import math
from pathlib import Path

from ..experiments import load_run, prune_run
from ..experiments.prune_runs import RETRAIN_EPOCHS, RETRAIN_LR, SCORES, amount_label
from ..pruning.csr import INDEX_BITS
from ..pruning.masking import KINDS
from ._args import add_data_arguments, load, number, out_path, path, to_stderr

DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(prune_run).parameters.items()
    if p.default is not inspect.Parameter.empty
}


def fractions(text: str) -> list:
    """An argparse type: ``'0,0.5,0.9'`` -> ``[0.0, 0.5, 0.9]``;
    ``'fc1=0.6,fc3=0.3;fc1=0.92,fc3=0.74'`` -> one dict per row."""
    rows: list = []
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
            f"semicolons (fc1=0.6,fc2=0.6;fc1=0.92,fc2=0.91), each layer once a row, got {text!r}"
        ) from None
    if not rows:
        raise argparse.ArgumentTypeError(f"needs at least one number, got {text!r}")
    values = [v for row in rows for v in (row.values() if isinstance(row, dict) else [row])]
    bad = [v for v in values if not math.isfinite(v) or v < 0]
    if bad:
        raise argparse.ArgumentTypeError(f"must be 0 or more (fractions: in [0, 1]), got {bad[0]}")
    return rows


def add_parser(sub) -> None:
    """The ``prune`` command and its flags."""
    p = sub.add_parser(
        "prune",
        help="prune a checkpoint at several fractions; accuracy versus sparsity",
        description="Prune a trained checkpoint by magnitude at each fraction, optionally "
        "retrain, and report sparsity, test accuracy, parameters left and the "
        "compressed size; writes prune.csv, prune.json and one checkpoint per row.",
    )
    p.add_argument("checkpoint", type=path, help="a checkpoint.npz written by 'tdnumpy train'")
    p.add_argument(
        "--kind",
        choices=KINDS,
        default=DEFAULTS["kind"],
        help="weight: the smallest |w| of each column (the targeted-dropout paper); unit: whole "
        "units by L2 norm; layer: the smallest |w| of each layer; global: one threshold for "
        "all layers; std: Han et al.'s |w| < q std(W) (default: %(default)s)",
    )
    p.add_argument(
        "--fractions",
        type=fractions,
        default=list(DEFAULTS["fractions"]),
        help="comma-separated fractions in [0, 1] to prune (kind std: quality parameters q >= 0), "
        "or per-layer rows 'fc1=0.92,fc2=0.91,fc3=0.74;...' (default: "
        + ",".join(f"{f:g}" for f in DEFAULTS["fractions"])
        + ")",
    )
    p.add_argument(
        "--layers",
        type=lambda text: [n.strip() for n in text.split(",")],
        default=DEFAULTS["layers"],
        metavar="NAMES",
        help="comma-separated weighted layers to prune (default: all; for unit pruning all but the output layer)",
    )
    p.add_argument("--skip-output", action="store_true", help="leave the output layer unpruned")
    p.add_argument(
        "--score",
        choices=SCORES,
        default=DEFAULTS["score"],
        help="rank by magnitude, or by the importance a run trained with a sparsifying baseline "
        "learnt (l0-*: gate probability, vd-*: 1 / (1 + alpha), smallify: |switch|); such a "
        "run is pruned as the network it evaluates as, its gates folded into the weights "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--retrain-epochs",
        type=number(RETRAIN_EPOCHS),
        default=DEFAULTS["retrain_epochs"],
        help="retrain each pruned network this many epochs on the training images (less the "
        "checkpoint's --validation ones), with its optimiser, batch size, penalties and "
        "regularisers (a td-ramp ramps again, over one step unless --ramp-steps was set), "
        "pruned weights held at 0 and dropout "
        "rates scaled by sqrt(C_ir / C_io) (Han et al.) (default: %(default)s)",
    )
    p.add_argument(
        "--retrain-lr",
        type=number(RETRAIN_LR),
        default=DEFAULTS["retrain_lr"],
        help="learning rate of retraining, decayed by a cosine (default: a tenth of the training lr)",
    )
    p.add_argument(
        "--iterative",
        action="store_true",
        help="prune the rows one after the other, each starting from the previous (retrained) "
        "network, as in Han et al.'s iterative pruning; fractions must not decrease",
    )
    p.add_argument(
        "--dense-bits",
        type=number(INDEX_BITS),
        default=DEFAULTS["dense_bits"],
        help="index bits of dense layers in the compressed size (default: %(default)s)",
    )
    p.add_argument(
        "--conv-bits",
        type=number(INDEX_BITS),
        default=DEFAULTS["conv_bits"],
        help="index bits of conv layers in the compressed size (default: %(default)s)",
    )
    p.add_argument(
        "--remove-dead-units",
        action="store_true",
        help="after pruning (and retraining), remove the units left with no unpruned input or output "
        "for real (Han et al.); the saved checkpoints are the smaller networks",
    )
    p.add_argument(
        "--out",
        type=out_path,
        default=None,
        help="output folder (default: prune-<kind> next to the checkpoint); one holding a pruning "
        "table is refused unless --overwrite",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the pruning table and pruned-*.npz networks already in the output folder",
    )
    add_data_arguments(p, "the dataset (default: the one the checkpoint was trained on)", None)
    p.set_defaults(func=run)


def run(args) -> int:
    """Prune, print the table, say where the files went."""
    source = load_run(args.checkpoint)
    out = args.out or Path(source.checkpoint or args.checkpoint).parent / f"prune-{args.kind}"
    rows = prune_run(
        source,
        args.kind,
        args.fractions,
        layers=args.layers,
        skip_output=args.skip_output,
        score=args.score,
        retrain_epochs=args.retrain_epochs,
        retrain_lr=args.retrain_lr,
        iterative=args.iterative,
        remove_dead_units=args.remove_dead_units,
        dense_bits=args.dense_bits,
        conv_bits=args.conv_bits,
        out=out,
        log=to_stderr,
        overwrite=args.overwrite,
        data=lambda name, validation: load(args, args.dataset or name, validation, to_stderr),
    )
    print_table(args.kind, rows)
    print(f"-> {out / 'prune.csv'}, {out / 'prune.json'}")
    return 0


def print_table(kind: str, rows: list[dict]) -> None:
    """Fraction (or q), sparsity, test accuracy, parameters left, compressed bytes and ratio, one line per row."""
    head = "q" if kind == "std" else "fraction"
    width = max(len(head), *(len(amount_label(r[head])) for r in rows))
    print(f"{head:>{width}} {'sparsity':>9} {'test acc':>9} {'params left':>12} {'compressed B':>12} {'ratio':>6}")
    for r in rows:
        print(
            f"{amount_label(r[head]):>{width}} {r['sparsity']:>9.4f} {100 * r['test_accuracy']:>8.2f}% "
            f"{r['parameters_left']:>12,} {r['compressed_bytes']:>12,} "
            f"{r['dense_bytes'] / r['compressed_bytes']:>5.1f}x"
        )
    print(
        "(compressed B: every weight matrix as relative-index CSR, 32-bit values and b-bit gaps, biases "
        "dense; ratio: the unpruned network's 32-bit bytes / compressed B)"
    )
