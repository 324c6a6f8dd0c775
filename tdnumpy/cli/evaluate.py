"""``tdnumpy evaluate``: :func:`~tdnumpy.experiments.load_run` and
:meth:`~tdnumpy.experiments.Run.evaluate` on the test set."""

from __future__ import annotations


from ..experiments import load_run
from ._args import add_data_arguments, load, path, to_stderr


def add_parser(sub) -> None:
    """The ``evaluate`` command."""
    p = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint on the test set",
        description="Print the test loss and accuracy of a checkpoint, with the regularisers it "
        "was trained with (their evaluation behaviour is part of the model).",
    )
    p.add_argument("checkpoint", type=path, help="a checkpoint.npz written by 'tdnumpy train' (or its run folder)")
    add_data_arguments(p, "the dataset (default: the one the checkpoint was trained on)", None)
    p.set_defaults(func=run)


def run(args) -> int:
    """Load, say which regularisers are in place, evaluate, print."""
    result = load_run(args.checkpoint)
    dataset = args.dataset or result.config.dataset
    for line in result.applied:
        to_stderr(f"as trained: {line}")
    data = load(args, dataset, log=to_stderr)
    test = result.evaluate("test", data=data)
    print(
        f"{args.checkpoint}: {result.model.spec} on {dataset} test: accuracy {100 * test['accuracy']:.2f}% "
        f"(loss {test['loss']:.4f}, {len(data.test):,} images)"
    )
    return 0
