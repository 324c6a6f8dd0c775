"""``tdnumpy train``: a :class:`~tdnumpy.experiments.RunConfig` from the flags,
:func:`~tdnumpy.experiments.train_run`, and a summary line.

Every field of RunConfig is a flag of the same name (``batch_size`` is
``--batch-size``). Its default and accepted values come from the field, its
help text from the field's description in RunConfig's docstring, so nothing
about a flag is written twice.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from dataclasses import fields
from pathlib import Path

from ..experiments import RunConfig, train_run
from ..experiments.regularisers import NAMES
from ..nn.models import SPEC_HELP
from ..training.checkpoint import CheckpointError, read_checkpoint
from ._args import add_data_arguments, flag, load, names, number, out_path, to_stderr

# The flags from each of these fields on (in RunConfig's order) form a group of --help.
GROUPS = {
    "reg": "regularisers: targeted dropout (Gomez et al. 2019) and its relatives",
    "l0_strength": "the sparsifying baselines: L0 gates (Louizos et al. 2018), sparse variational dropout "
    "(Molchanov et al. 2017), Smallify (Leclerc et al. 2018)",
    "l1": "penalties on the weights (the paper's L1 and L2 baselines; biases are not penalised)",
    "gradual_sparsity": "gradual pruning during training (Zhu and Gupta 2017)",
}
METAVARS = {
    "reg": "NAME or LAYER=NAME,...",
    "reg_layers": "NAMES",
    "mc_samples": "Z",
    "l1": "LAMBDA",
    "l2": "LAMBDA",
    "l0_strength": "LAMBDA",
    "vd_strength": "LAMBDA",
    "smallify_strength": "LAMBDA",
    "gradual_sparsity": "S",
    "gradual_start": "EPOCH",
    "gradual_interval": "STEPS",
}
# Where the command line says more than the docstring: the model specs and regulariser names in full.
HELP = {
    "model": f"the model: {SPEC_HELP}",
    "reg": "one of: " + ", ".join(NAMES) + ". Weight rules (td-*, dropconnect, unit-dropout, weight-dropout, "
    "l0-weight, vd-weight) go on every weighted layer; activation noise (dropout, dropout-classic, "
    "gaussian, spatial, standout) and unit gates (l0-unit, vd-unit, smallify) after every weighted layer "
    "but the last. --reg-layers picks the layers, or give one per layer: --reg fc1=dropconnect,fc2=dropout",
}
FIELD_NAMES = {f.name for f in fields(RunConfig)}


def field_descriptions(cls) -> dict[str, str]:
    """Each parameter's description in the Parameters section of ``cls``'s
    numpydoc docstring, as one line (none under ``python -OO``, which drops docstrings)."""
    doc = inspect.getdoc(cls) or ""
    if "Parameters\n----------\n" not in doc:
        return {}
    lines = doc.split("Parameters\n----------\n", 1)[1].splitlines()
    found, name = {}, None
    for line, after in zip(lines, lines[1:] + [""]):
        if after and set(after) == {"-"}:  # the next section's header
            break
        if line and not line[0].isspace():
            name = line.split(" : ")[0]
            found[name] = ""
        elif name is not None and line.strip():
            found[name] = (found[name] + " " + line.strip()).strip()
    return found


def help_text(description: str) -> str:
    """A docstring description as --help shows it: ``field`` as its flag, Sphinx
    roles as plain names, % escaped for argparse."""
    text = re.sub(r":\w+:`~?([\w.]+)`", r"\1", description)
    text = re.sub(r"``(\w+)``", lambda m: flag(m.group(1)) if m.group(1) in FIELD_NAMES else m.group(1), text)
    text = re.sub(r"``([^`]+)``", r"\1", text).replace("(None: ", "(default: ")
    return text.replace("%", "%%")


def add_config_flag(parser: argparse.ArgumentParser, field, text: str) -> None:
    """Add the flag of one RunConfig field, its default and accepted values taken from the field."""
    rule = field.metadata["rule"]
    if rule.boolean:  # off by default (a test checks), so a store_true flag
        parser.add_argument(flag(field.name), action="store_true", default=field.default, help=text)
        return
    options = {"default": field.default, "metavar": METAVARS.get(field.name)}
    if field.default is not None:
        text = text.removesuffix(".") + " (default: %(default)s)"
    if rule.choices is not None:
        options["choices"] = rule.choices
    elif rule.interval is not None:
        options["type"] = number(rule.interval)
    elif rule.string_list:
        options["type"] = names
    parser.add_argument(flag(field.name), help=text, **options)


def add_parser(sub) -> None:
    """The ``train`` command and its flags."""
    p = sub.add_parser(
        "train",
        help="train a model and write metrics.json and checkpoint.npz",
        description="Train a model on MNIST or Fashion-MNIST with hand-written backprop.",
    )
    descriptions = field_descriptions(RunConfig)
    group = p
    for field in fields(RunConfig):
        if field.name == "dataset":
            continue  # with the other data flags, below
        group = p.add_argument_group(GROUPS[field.name]) if field.name in GROUPS else group
        add_config_flag(group, field, HELP.get(field.name) or help_text(descriptions.get(field.name, "")))
        if field.name == "validation":
            p.add_argument(
                "--out",
                type=out_path,
                default=None,
                help="output folder for metrics.json and checkpoint.npz (default: runs/<model>-seed<seed>)",
            )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished run already in the output folder (refused otherwise)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with the unfinished run in the output folder (interrupted after an epoch), "
        "given the same flags it was started with; bit-identical to a run never interrupted",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final summary line")
    add_data_arguments(p, dataset_default=RunConfig.dataset)
    p.set_defaults(func=run)


def config_from(args) -> RunConfig:
    """The RunConfig the parsed flags describe."""
    return RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)})


def run(args) -> int:
    """Train, save, and print the summary line."""
    log = (lambda *a: None) if args.quiet else to_stderr
    config = config_from(args)
    out = args.out or Path("runs") / f"{config.model.replace(':', '_')}-seed{config.seed}"
    try:
        result = train_run(
            config,
            out=out,
            data=lambda name, validation: load(args, name, validation, log),
            progress=None if not args.quiet else False,
            log=log,
            overwrite=args.overwrite,
            resume=args.resume,
        )
    except KeyboardInterrupt:
        _say_what_was_kept(Path(out), config.epochs)
        raise
    m = result.metrics
    print(
        f"{config.model} on {config.dataset}, seed {config.seed}, {config.epochs} epochs in "
        f"{m['train_seconds']:.1f} s: test accuracy {100 * m['test_accuracy']:.2f}% "
        f"(loss {m['test_loss']:.4f}) -> {out}"
    )
    return 0


def _say_what_was_kept(out: Path, epochs: int) -> None:
    """After Ctrl-C: name the checkpoint of the last finished epoch, if one was written."""
    kept = out / "checkpoint.npz"
    if not kept.is_file() or (out / "metrics.json").is_file():
        return
    try:
        epoch = read_checkpoint(kept)[2].get("epoch")
    except CheckpointError:
        return
    print(
        f"tdnumpy: {kept} holds the model after epoch {epoch} of {epochs}; the same command with --resume "
        f"goes on from there",
        file=sys.stderr,
    )
