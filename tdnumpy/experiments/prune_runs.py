"""Accuracy versus sparsity: :func:`prune_run` prunes a run at several
fractions, optionally retrains (Han et al. 2015), and measures each network.

Each row prunes a fresh copy of the run's network (with ``iterative``, the
previous row's network), retrains it on the training images (less the run's
held-out ones) with the run's optimiser, batch size, penalties and
regularisers, the pruned weights held at 0 and every dropout rate scaled by
Han et al.'s sqrt(C_ir / C_io), optionally removes the units left dead, and
evaluates it on the test set. ``tdnumpy prune`` is this function and a
printed table.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, atomic_write_json, folder_lock, output_folder
from .._validation import Interval, ParameterError, check_choice
from ..data import to_inputs
from ..nn.sparsifying import learnt_sparsifiers
from ..nn.weighted import WeightedLayer, choose_layers
from ..pruning import masking as pruning
from ..pruning import learned, shrink
from ..pruning.csr import INDEX_BITS
from ..pruning.sparse import compressed_bytes
from ..training.checkpoint import save_checkpoint
from ..training.fit import evaluate, fit
from ..training.schedules import Cosine
from .build import make_optimizer, make_penalties
from .runs import Run, dataset_for

DEFAULT_FRACTIONS = (0.0, 0.5, 0.9, 0.95, 0.99)
RETRAIN_EPOCHS = Interval(int, 0)
RETRAIN_LR = Interval(float, 0.0, None, "neither")


# files that mean a folder already holds a pruning table
RESULTS = ("prune.csv", "prune.json", "pruned-*.npz")


def amount_label(amount) -> str:
    """A pruning amount as the tables show it: ``0.9`` or ``fc1=0.6 fc2=0.3``.

    Parameters
    ----------
    amount : float or dict of str to float
        One fraction for all layers, or one per layer.

    Returns
    -------
    str
        The label.
    """
    return " ".join(f"{n}={v:g}" for n, v in amount.items()) if isinstance(amount, dict) else f"{amount:g}"


def pruned_layers(model, kind: str, layers=None, skip_output: bool = False) -> list[str]:
    """The names of the layers a prune of ``kind`` acts on.

    Parameters
    ----------
    model : Sequential
        The network.
    kind : str
        A kind of :data:`tdnumpy.pruning.masking.KINDS`.
    layers : sequence of str or None
        The weighted layers to prune; None for all (unit pruning: all but the output layer).
    skip_output : bool
        Leave the output layer unpruned.

    Returns
    -------
    list of str
        The layer names, in network order.
    """
    if layers is not None and (isinstance(layers, str) or not all(isinstance(n, str) for n in layers)):
        raise TypeError(
            f"The 'layers' parameter of prune_run must be a list of layer names or None. Got {layers!r} instead."
        )
    names = None if layers is None else list(layers)
    if names is not None and len(set(names)) != len(names):
        raise ParameterError(f"`layers` names a layer twice: {','.join(names)!r}.")
    chosen = [layer.name for layer in pruning.prunable_layers(model, names, kind=kind)]
    if skip_output:
        last = choose_layers(model)[-1]
        chosen = [n for n in chosen if n != last]
    if not chosen:
        raise ParameterError("No layer is left to prune (`layers` and `skip_output` leave none).")
    return chosen


def check_fractions(fractions, layers: list[str], kind: str, iterative: bool) -> list:
    """Refuse fractions that name other layers, leave [0, 1], or decrease under ``iterative``.

    Parameters
    ----------
    fractions : sequence of float or of dict of str to float
        One amount per row (kind ``std``: quality parameters q >= 0).
    layers : list of str
        The layers pruned.
    kind : str
        The kind of pruning.
    iterative : bool
        Whether each row starts from the previous one.

    Returns
    -------
    list
        The rows, as a list.
    """
    if isinstance(fractions, (str, dict)) or not isinstance(fractions, (list, tuple)):
        raise TypeError(
            f"The 'fractions' parameter of prune_run must be a list of rows (numbers, or dicts of "
            f"layer to number). Got {fractions!r} instead."
        )
    rows = list(fractions)
    if not rows:
        raise ParameterError("`fractions` needs at least one row.")
    amounts = Interval(float, 0) if kind == "std" else Interval(float, 0, 1)
    for row in rows:
        values = row if isinstance(row, dict) else {name: row for name in layers}
        unknown = sorted(set(values) - set(layers))
        if unknown:
            raise ParameterError(
                f"`fractions` names layers {unknown} that are not pruned; the layers pruned are {layers}."
            )
        if kind == "global" and isinstance(row, dict):
            raise ParameterError(
                "`kind` global takes one fraction per row (a single threshold for all layers), not one per layer."
            )
        bad = {
            n: v
            for n, v in values.items()
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or v not in amounts
        }
        if bad:
            raise ParameterError(f"`fractions` must be in {amounts} for `kind` {kind}; got {bad}.")
    if iterative:
        for before, after in zip(rows, rows[1:]):
            b = before if isinstance(before, dict) else dict.fromkeys(layers, before)
            a = after if isinstance(after, dict) else dict.fromkeys(layers, after)
            if any(a.get(n, 0.0) < b.get(n, 0.0) for n in layers):
                raise ParameterError(
                    f"`iterative` prunes more at every row; the fractions {before} -> {after} decrease."
                )
    return rows


SCORES = ("magnitude", "method")


def method_scores(model, kind: str, layers: list[str]) -> dict:
    """The learnt sparsifiers' importance scores of the pruned layers, checked against the kind.

    Parameters
    ----------
    model : Sequential
        A network with learnt sparsifiers (``--reg`` l0-weight, l0-unit,
        vd-weight, vd-unit or smallify), before :func:`~tdnumpy.pruning.learned.fold`.
    kind : str
        The kind of pruning: the weight methods' scores rank weights (kinds
        weight, layer, global), the unit methods' rank units (kind unit).
    layers : list of str
        The layers pruned; each must carry a sparsifier.

    Returns
    -------
    dict of str to ndarray
        {layer: scores}, as :func:`tdnumpy.pruning.masking.prune` takes them.
    """
    found = learned.importance(model)
    if not found:
        raise ParameterError(
            "`score` method ranks by a learnt sparsifier's importance, and the run has none (its "
            "regularisers are not l0-weight, l0-unit, vd-weight, vd-unit or smallify)."
        )
    if kind == "std":
        raise ParameterError("`score` method does not go with `kind` std, a threshold in units of std(W).")
    missing = [name for name in layers if name not in found]
    if missing:
        raise ParameterError(
            f"`score` method: layers {missing} carry no learnt sparsifier (those of "
            f"{sorted(found)} do); choose them with `layers`."
        )
    wanted = "unit" if kind == "unit" else "weight"
    wrong = [name for name in layers if found[name][0] != wanted]
    if wrong:
        raise ParameterError(
            f"`score` method: the sparsifiers of {wrong} rank {found[wrong[0]][0]}s, and `kind` "
            f"{kind} prunes {wanted}s; prune them with `kind` "
            f"{'unit' if wanted == 'weight' else 'weight'} (or `score` magnitude)."
        )
    return {name: found[name][1] for name in layers}


def _retrain(model, x, y, config, epochs: int, lr: float, seed: int) -> None:
    optimizer = make_optimizer(config, model, lr)
    steps = epochs * -(-len(x) // config.batch_size)
    fit(
        model,
        x,
        y,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=config.batch_size,
        rng=np.random.default_rng(seed),
        lr_schedule=Cosine(lr, steps),
        progress=False,
        penalties=make_penalties(config, model, len(x)),
    )


def prune_run(
    run,
    kind: str = "weight",
    fractions=DEFAULT_FRACTIONS,
    *,
    layers=None,
    skip_output: bool = False,
    score: str = "magnitude",
    retrain_epochs: int = 0,
    retrain_lr: float | None = None,
    iterative: bool = False,
    remove_dead_units: bool = False,
    dense_bits: int = 5,
    conv_bits: int = 8,
    out=None,
    data=None,
    log=None,
    overwrite: bool = False,
) -> list[dict]:
    """Prune ``run`` at each fraction (optionally retraining) and measure every network.

    Parameters
    ----------
    run : Run
        The trained run (:func:`train_run` or :func:`load_run`); it is not changed.
    kind : {"weight", "unit", "layer", "global", "std"}
        What is removed (see :mod:`tdnumpy.pruning.masking`).
    fractions : sequence of float or of dict of str to float
        One row each: a fraction in [0, 1] for every pruned layer or
        {layer: fraction} (kind ``std``: Han et al.'s quality parameter q >= 0).
    layers : sequence of str or None
        The weighted layers to prune (default: all; for unit pruning all but the output layer).
    skip_output : bool
        Leave the output layer unpruned.
    score : {"magnitude", "method"}
        Rank by magnitude (|w|, unit L2 norm), or by the importance the run's
        learnt sparsifier gives each weight or unit (see
        :func:`method_scores`). Either way a network trained with a learnt
        sparsifier is first folded into plain weights
        (:func:`tdnumpy.pruning.learned.fold`): it is pruned as the network it
        evaluates as, what its method removes already removed, and saved
        (and retrained) without the sparsifier; so with ``iterative`` every
        round ranks by the trained network's importance (the retrained
        networks have no sparsifier left to say another).
    retrain_epochs : int
        Epochs of retraining after each pruning (0: none).
    retrain_lr : float or None
        Learning rate of retraining, decayed by a cosine; None: a tenth of the run's.
    iterative : bool
        Each row starts from the previous row's (retrained) network; fractions must not decrease.
    remove_dead_units : bool
        Remove the units left with no input or no output (the saved networks are the smaller ones).
    dense_bits, conv_bits : int
        Index bits of dense and convolution layers in the compressed size.
    out : str, os.PathLike or None
        A folder for ``prune.csv``, ``prune.json`` and ``pruned-<row>.npz``; None writes nothing.
        One already holding any of them is refused unless ``overwrite``; a
        second run into it while this one works is refused (a lock file).
    data : Dataset, str, os.PathLike, callable or None
        The dataset (loaded with the run's ``validation``), its folder, a
        loader (see :func:`tdnumpy.experiments.runs.dataset_for`), or None to
        look it up.
    log : callable or None
        Called with each line of the log.
    overwrite : bool, default=False
        Replace the results in ``out``: the old table is deleted first, and
        ``pruned-*.npz`` files the new table does not list are deleted after it.

    Returns
    -------
    list of dict
        One row per fraction: the amount (key ``"fraction"``, or ``"q"`` for
        kind std), ``sparsity`` reached, ``test_accuracy``, ``test_loss``,
        ``parameters_left``, ``parameters``, ``dense_bytes`` (the unpruned
        network in 32 bits), ``compressed_bytes``, ``checkpoint`` (path or
        None) and per-layer ``layers`` (see :func:`tdnumpy.pruning.masking.report`).
    """
    log = log or (lambda line: None)
    if not isinstance(run, Run):
        raise TypeError(
            f"The 'run' parameter of prune_run must be a Run (from train_run or load_run). "
            f"Got {type(run).__name__} instead."
        )
    kind = check_choice(kind, "kind", "prune_run", pruning.KINDS)
    score = check_choice(score, "score", "prune_run", SCORES)
    retrain_epochs = RETRAIN_EPOCHS.check(retrain_epochs, "retrain_epochs", "prune_run")
    if retrain_lr is not None:
        retrain_lr = RETRAIN_LR.check(retrain_lr, "retrain_lr", "prune_run")
    dense_bits = INDEX_BITS.check(dense_bits, "dense_bits", "prune_run")
    conv_bits = INDEX_BITS.check(conv_bits, "conv_bits", "prune_run")
    config = run.config
    chosen = pruned_layers(run.model, kind, layers, skip_output)
    rows_in = check_fractions(fractions, chosen, kind, iterative)
    scores = method_scores(run.model, kind, chosen) if score == "method" else None
    gated = bool(learnt_sparsifiers(run.model))
    if gated:  # the folded networks carry no sparsifier: saved, reloaded and retrained as plain ones
        config = config.replace(reg="none", reg_layers=None)
    folder = (
        None if out is None else output_folder(out, ("prune.csv", "prune.json"), results=RESULTS, overwrite=overwrite)
    )
    if any(
        p is not None and p.mask is not None
        for layer in run.model.layers
        if isinstance(layer, WeightedLayer)
        for p in (layer.weight, layer.bias)
    ):  # (a switch Smallify removed is no pruning)
        log(
            f"note: the checkpoint is already pruned (sparsity {pruning.sparsity(run.model, chosen):.4f} over the "
            f"layers chosen); pruning only adds to its masks"
        )
    if kind == "unit" and choose_layers(run.model)[-1] in chosen:
        log("note: unit pruning of the output layer removes classes")
    with folder_lock(folder):
        if folder is not None and overwrite:  # no table may describe networks it did not make
            for name in ("prune.csv", "prune.json"):
                (folder / name).unlink(missing_ok=True)
        # retraining uses the images training saw, not the held-out ones
        dataset = run.dataset() if data is None else dataset_for(config, data, any_name=True)
        if dataset.name != config.dataset:  # what the pruned networks are trained and measured on
            config = config.replace(dataset=dataset.name)
        x = to_inputs(dataset.train.images, run.model.input_shape, run.model.dtype)
        x_test = to_inputs(dataset.test.images, run.model.input_shape, run.model.dtype)
        retrain_lr = retrain_lr or config.lr / 10
        log(
            f"pruning {run.checkpoint or 'the run in memory'} ({run.model.spec}), kind {kind}, "
            f"layers {', '.join(chosen)}"
            + (", ranked by the method's importance" if score == "method" else "")
            + (f"; retraining {retrain_epochs} epochs at lr {retrain_lr:g}" if retrain_epochs else "")
        )
        # A network pruned and retrained before carries Han et al.'s D_r; the D_o of
        # another round is still the rate it was trained with, not D_r.
        carried = (run.pruned or {}).get("dropout_rates") or {}
        trained_rates = {name: config.drop_rate for name in carried} or None
        rows, network, original_rates = [], None, None
        for i, amount in enumerate(rows_in):
            if network is None or not iterative:
                network, original_rates = run.fresh_model(), trained_rates
                if gated:
                    folded = learned.fold(network)
                    if i == 0:
                        for name, r in folded.items():
                            log(
                                f"  {name}: {r['method']} removes {r['removed']:,} of {r['of']:,} {r['what']} at "
                                f"evaluation (folded into the weights)"
                            )
            pruning.prune(network, kind, amount, chosen, scores)
            if retrain_epochs:
                original_rates = pruning.adjust_dropout(network, original_rates)
                _retrain(network, x, dataset.train.labels, config, retrain_epochs, retrain_lr, seed=config.seed + i)
            rates = {name: network.layer(name).p for name in original_rates or carried}
            kept = network
            if remove_dead_units:
                shrunk = shrink.remove_dead_units(network)
                kept = shrunk.model
                log(f"  {amount_label(amount)}: {shrunk.summary()}")
            test = evaluate(kept, x_test, dataset.test.labels)
            path = None
            if folder is not None:
                path = save_checkpoint(
                    folder / f"pruned-{i}.npz",
                    kept,
                    seed=config.seed,
                    dataset=dataset.name,
                    config=config.to_dict(),
                    metrics={"test_loss": test["loss"], "test_accuracy": test["accuracy"]},
                    pruned={
                        "kind": kind,
                        "amount": amount,
                        "layers": chosen,
                        "score": score,
                        "source": None if run.checkpoint is None else str(run.checkpoint),
                        "retrain_epochs": retrain_epochs,
                        "iterative": iterative,
                        "dropout_rates": rates,
                    },
                )
            rows.append(
                {
                    "q" if kind == "std" else "fraction": amount,
                    "sparsity": pruning.sparsity(network, chosen),
                    "test_accuracy": test["accuracy"],
                    "test_loss": test["loss"],
                    "parameters_left": pruning.parameters_left(kept),
                    "parameters": kept.n_parameters(),
                    "dense_bytes": 4 * network.n_parameters(),  # the network before any units were removed
                    "compressed_bytes": compressed_bytes(kept, dense_bits=dense_bits, conv_bits=conv_bits),
                    "checkpoint": None if path is None else str(path),
                    "layers": pruning.report(network, chosen),
                }
            )
            log(
                f"  {amount_label(amount)}: sparsity {rows[-1]['sparsity']:.4f}, "
                f"test accuracy {100 * test['accuracy']:.2f}%"
            )
        if folder is not None:
            write_prune_table(folder, kind, rows)
            for stale in set(folder.glob("pruned-*.npz")) - {Path(r["checkpoint"]) for r in rows}:
                stale.unlink()  # an earlier, longer table's networks
        return rows


def write_prune_table(folder, kind: str, rows: list[dict]) -> None:
    """Write ``prune.csv`` (one line per row) and ``prune.json`` (the rows) to ``folder``.

    Parameters
    ----------
    folder : Path
        The output folder.
    kind : str
        The kind of pruning (``std`` rows are labelled q, the others fraction).
    rows : list of dict
        As :func:`prune_run` returns them.
    """
    head = "q" if kind == "std" else "fraction"
    lines = [f"{head},sparsity,test_accuracy,parameters_left,compressed_bytes,compression_ratio"]
    for r in rows:
        lines.append(
            f'"{amount_label(r[head])}",{r["sparsity"]:.6f},{r["test_accuracy"]:.4f},'
            f"{r['parameters_left']},{r['compressed_bytes']},{r['dense_bytes'] / r['compressed_bytes']:.3f}"
        )
    atomic_write_bytes(folder / "prune.csv", ("\n".join(lines) + "\n").encode())
    atomic_write_json(folder / "prune.json", {"kind": kind, "rows": rows})
