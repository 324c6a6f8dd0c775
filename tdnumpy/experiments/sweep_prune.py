"""The ``[[prune]]`` entries of a sweep (:class:`PruneSpec`), the error every
mistake in a sweep configuration raises (:class:`SweepConfigError`), and the
checks of keys and types the configuration's sections share."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .._validation import Interval
from ..pruning import masking
from ..nn.models import build_model
from . import regularisers
from .config import RunConfig, _skeleton
from .prune_runs import RETRAIN_EPOCHS, RETRAIN_LR, SCORES, check_fractions, method_scores, pruned_layers

PRUNE_KEYS = (
    "kind",
    "fractions",
    "label",
    "layers",
    "skip_output",
    "score",
    "retrain_epochs",
    "retrain_lr",
    "iterative",
)


class SweepConfigError(ValueError):
    """A sweep configuration that cannot run; the message names the file, the key and the value."""


@dataclass(frozen=True)
class PruneSpec:
    """One post-hoc pruning of every run: the arguments of :func:`prune_run`.

    Parameters
    ----------
    kind : str
        The kind of pruning (:data:`tdnumpy.pruning.masking.KINDS`).
    fractions : tuple
        One amount per row: a fraction, or a dict of layer to fraction.
    label : str
        Its name in the results (default: the kind).
    layers : tuple of str or None
        The layers pruned (None: the kind's default).
    skip_output : bool
        Leave the output layer unpruned.
    score : {"magnitude", "method"}
        What ranks the weights or units (``method``: the run's learnt sparsifier).
    retrain_epochs : int
        Epochs of retraining after each pruning.
    retrain_lr : float or None
        Retraining learning rate (None: a tenth of the run's).
    iterative : bool
        Each row starts from the previous row's network.
    """

    kind: str
    fractions: tuple
    label: str
    layers: tuple | None = None
    skip_output: bool = False
    score: str = "magnitude"
    retrain_epochs: int = 0
    retrain_lr: float | None = None
    iterative: bool = False

    def arguments(self) -> dict:
        """The keyword arguments of :func:`prune_run` this entry stands for.

        Returns
        -------
        dict
            ``kind``, ``fractions`` and the options.
        """
        return {
            "kind": self.kind,
            "fractions": list(self.fractions),
            "layers": self.layers,
            "skip_output": self.skip_output,
            "score": self.score,
            "retrain_epochs": self.retrain_epochs,
            "retrain_lr": self.retrain_lr,
            "iterative": self.iterative,
        }


def unknown_keys(table: dict, known, source: str, prefix: str) -> None:
    """Refuse a key of ``table`` that is not in ``known``, naming it and its value.

    Parameters
    ----------
    table : dict
        A section of the configuration.
    known : sequence of str
        The keys it may hold.
    source : str
        The file, for the message.
    prefix : str
        The section's path, put before the key (``"quick."``).
    """
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise SweepConfigError(
            f"{source}: unknown key `{prefix}{unknown[0]}` (value {table[unknown[0]]!r}); "
            f"the keys are {', '.join(known)}."
        )


def typed(value, kind, source: str, key: str):
    """``value`` if it is a ``kind`` (a bool is no int or str), else an error naming ``key``.

    Parameters
    ----------
    value : object
        The value.
    kind : type
        What it must be.
    source : str
        The file, for the message.
    key : str
        The key's path, for the message.

    Returns
    -------
    object
        ``value``.
    """
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SweepConfigError(f"{source}: `{key}` must be a {kind.__name__}. Got {value!r}.")
    return value


def prune_specs(value, extra: dict, source: str, where: str) -> tuple:
    """The checked ``[[prune]]`` entries of a sweep or a variant.

    Parameters
    ----------
    value : list of dict
        The entries, as TOML decodes them.
    extra : dict
        Keys merged into every entry (``quick.prune`` under ``--quick``).
    source : str
        The file, for messages.
    where : str
        The entries' path, for messages (``"prune"``, ``"variants['x'].prune"``).

    Returns
    -------
    tuple of PruneSpec
        One per entry; their labels are distinct.
    """
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SweepConfigError(f"{source}: `{where}` must be a list of tables ([[prune]]). Got {value!r}.")
    specs = [_prune_spec({**entry, **extra}, source, f"{where}[{i}]") for i, entry in enumerate(value)]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise SweepConfigError(f"{source}: `{where}`: two entries have the label {labels!r}; give each a `label`.")
    return tuple(specs)


def _prune_spec(entry: dict, source: str, where: str) -> PruneSpec:
    unknown_keys(entry, PRUNE_KEYS, source, f"{where}.")
    kind = entry.get("kind")
    if kind not in masking.KINDS:
        raise SweepConfigError(f"{source}: {where}: `kind` = {kind!r} is not one of {', '.join(masking.KINDS)}.")
    fractions = entry.get("fractions")
    amounts = Interval(float, 0) if kind == "std" else Interval(float, 0, 1)
    if not isinstance(fractions, list) or not fractions:
        raise SweepConfigError(f"{source}: {where}: `fractions` must be a non-empty list. Got {fractions!r}.")
    for amount in fractions:
        values = amount.values() if isinstance(amount, dict) else [amount]
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v in amounts for v in values):
            raise SweepConfigError(f"{source}: {where}: `fractions` holds {amount!r}, outside {amounts}.")
    layers = entry.get("layers")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(n, str) for n in layers)):
        raise SweepConfigError(f"{source}: {where}: `layers` must be a list of layer names. Got {layers!r}.")
    options = {}
    for key, check in (("retrain_epochs", RETRAIN_EPOCHS), ("retrain_lr", RETRAIN_LR)):
        if key in entry:
            try:
                options[key] = check.check(entry[key], key, "prune")
            except (TypeError, ValueError) as e:
                raise SweepConfigError(f"{source}: {where}: {e}") from None
    for key in ("skip_output", "iterative"):
        if key in entry:
            options[key] = typed(entry[key], bool, source, f"{where}.{key}")
    if "score" in entry:
        options["score"] = typed(entry["score"], str, source, f"{where}.score")
        if options["score"] not in SCORES:
            raise SweepConfigError(
                f"{source}: {where}: `score` = {options['score']!r} is not one of {', '.join(SCORES)}."
            )
    label = typed(entry.get("label", kind), str, source, f"{where}.label")
    return PruneSpec(kind, tuple(fractions), label, None if layers is None else tuple(layers), **options)


def check_prune_fits(spec: PruneSpec, config: RunConfig, source: str, where: str) -> None:
    """Refuse layers and fractions that do not fit the run's model.

    Parameters
    ----------
    spec : PruneSpec
        The entry.
    config : RunConfig
        The run it prunes.
    source : str
        The file, for the message.
    where : str
        The variant, for the message.
    """
    try:
        chosen = pruned_layers(_skeleton(config.model), spec.kind, spec.layers, spec.skip_output)
        check_fractions(list(spec.fractions), chosen, spec.kind, spec.iterative)
        if spec.score == "method":  # a fresh network with the cell's regularisers on it
            model = build_model(config.model)
            regularisers.apply(model, config.regularisers(model), config.settings())
            method_scores(model, spec.kind, chosen)
    except (TypeError, ValueError) as e:
        raise SweepConfigError(
            f"{source}: {where}: prune {spec.label!r} does not fit model {config.model}: {e}"
        ) from None
