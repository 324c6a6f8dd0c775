"""``tdnumpy export-sparse``: a checkpoint's weight matrices in Han et al.'s
relative-index sparse format (:func:`tdnumpy.pruning.sparse.export_model`)."""

from __future__ import annotations


from ..pruning.csr import INDEX_BITS
from ..pruning.sparse import export_model, total
from ..experiments import load_run
from ..nn.sparsifying import learnt_sparsifiers
from ..pruning.learned import fold
from ._args import number, path


def add_parser(sub) -> None:
    """The ``export-sparse`` command."""
    p = sub.add_parser(
        "export-sparse",
        help="write a pruned checkpoint in Han et al.'s sparse format",
        description="Store every weight matrix as compressed sparse rows with relative indices "
        "(gaps of b bits, filler zeros for longer gaps) and print the bytes per layer.",
    )
    p.add_argument("checkpoint", type=path, help="a (pruned) checkpoint.npz")
    p.add_argument("out", type=path, help="the sparse file to write (.npz)")
    p.add_argument(
        "--dense-bits", type=number(INDEX_BITS), default=5, help="index bits of dense layers (default: %(default)s)"
    )
    p.add_argument(
        "--conv-bits", type=number(INDEX_BITS), default=8, help="index bits of conv layers (default: %(default)s)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    """Export and print the bytes per layer."""
    if args.out.is_dir() or not args.out.name:
        raise ValueError(f"OUT {str(args.out)!r} must be a file name, not a folder.")
    source = args.checkpoint / "checkpoint.npz" if args.checkpoint.is_dir() else args.checkpoint
    for kept in (source, source.parent / "metrics.json"):
        if args.out.resolve() == kept.resolve():
            raise ValueError(
                f"OUT {str(args.out)!r} is the file {str(kept)!r} that the export reads; writing it "
                f"would replace the run. Choose another file name."
            )
    model = load_run(args.checkpoint).model
    if learnt_sparsifiers(model):  # exported as the network it evaluates as
        for name, r in fold(model).items():
            print(
                f"{name}: {r['method']} removes {r['removed']:,} of {r['of']:,} {r['what']} at evaluation "
                f"(folded into the weights)"
            )
    reports = export_model(model, args.out, dense_bits=args.dense_bits, conv_bits=args.conv_bits)
    print(
        f"{'layer':>8} {'shape':>12} {'bits':>4} {'nonzeros':>9} {'fillers':>8} {'dense B':>10} {'sparse B':>10} "
        f"{'ratio':>6}"
    )
    for r in reports:
        print(
            f"{r['layer']:>8} {'x'.join(map(str, r['shape'])):>12} {r['bits']:>4} {r['nonzeros']:>9,} "
            f"{r['fillers']:>8,} {r['dense_bytes']:>10,} {r['sparse_bytes']:>10,} {r['ratio']:>5.1f}x"
        )
    t = total(reports)
    print(
        f"{'total':>8} {'':>12} {'':>4} {t['nonzeros']:>9,} {t['fillers']:>8,} {t['dense_bytes']:>10,} "
        f"{t['sparse_bytes']:>10,} {t['ratio']:>5.1f}x -> {args.out}"
    )
    if not any(p.mask is not None for p in model.parameters()):
        print(
            "note: the checkpoint is not pruned; the sparse form of a dense matrix is larger, so nothing "
            "is saved (biases are stored dense either way)"
        )
    return 0
