"""What a sweep is: :class:`SweepConfig`, read from a TOML file and checked
completely before anything trains, and the :class:`Cell` s it expands to.

A sweep is a grid of runs, each pruned after training::

    name = "td-mnist-mlp"                  # the results are <name>.csv
    title = "lenet300 on MNIST"             # optional, for figures

    [base]                                  # RunConfig fields every run shares
    model = "lenet300"
    dataset = "mnist"

    [grid]                                  # every combination of these values ...
    seed = [0, 1, 2]

    [[variants]]                            # ... with every variant: a label and its fields
    label = "none"
    [[variants]]
    label = "td-weight"
    reg = "td-weight"

    [[prune]]                               # post-hoc pruning of every run
    kind = "weight"
    fractions = [0.0, 0.5, 0.9]

    [evaluate]                              # settings that change evaluation only
    dropconnect_inference = ["mean", "gaussian"]

    [quick]                                 # what --quick changes
    set = { epochs = 1, train_images = 2000 }
    grid = { seed = [0] }

A run's config is ``base``, then its variant's fields, then its grid values
(later wins), then ``quick.set`` under ``--quick``. A variant may carry its
own ``[[variants.prune]]`` list instead of the sweep's. A prune entry takes
``kind``, ``fractions`` (numbers, or tables of layer to fraction), and
optionally ``label``, ``layers``, ``skip_output``, ``retrain_epochs``,
``retrain_lr`` and ``iterative`` (see :func:`tdnumpy.experiments.prune_run`);
``quick.prune`` is a table merged into every prune entry. Each ``[evaluate]``
key is an evaluation-only RunConfig field with a list of values: every run is
measured once per combination, without training again.

Every mistake (an unknown key or regulariser, a value out of range, a missing
model or dataset) raises :class:`SweepConfigError`, naming the file, the key
and the value.
"""

from __future__ import annotations

import sys
import hashlib
import itertools
import json
from dataclasses import dataclass, fields
from pathlib import Path

from .config import RunConfig
from .sweep_prune import PRUNE_KEYS, PruneSpec, SweepConfigError, check_prune_fits, prune_specs, typed, unknown_keys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Cell", "PruneSpec", "SweepConfig", "SweepConfigError", "digest", "load_sweep_config", "sweep_config"]
SECTIONS = ("name", "title", "base", "grid", "variants", "prune", "evaluate", "quick")
QUICK_KEYS = ("set", "grid", "prune")
# RunConfig fields that change how a trained network is evaluated, not how it is trained.
EVALUATION_FIELDS = ("dropconnect_inference", "mc_samples", "test_images")
RUN_FIELDS = tuple(f.name for f in fields(RunConfig))
RULES = {f.name: f.metadata["rule"] for f in fields(RunConfig)}


@dataclass(frozen=True)
class Cell:
    """One run of a sweep and the pruning measured on it.

    Parameters
    ----------
    index : int
        Its place in the sweep (the order of the rows of the results).
    variant : str
        The label of its variant.
    config : RunConfig
        What the run trains (evaluation-only fields as the sweep's ``base`` and
        variant give them).
    grid : dict
        Its grid values, by field name.
    prune : tuple of PruneSpec
        The pruning measured on it.
    evaluate : tuple of dict
        The evaluation-only settings, one dict per measurement.
    """

    index: int
    variant: str
    config: RunConfig
    grid: dict
    prune: tuple
    evaluate: tuple

    @property
    def name(self) -> str:
        """The run's folder name: the variant, the grid values and a hash of the
        config's fields that differ from their defaults (a field added to
        RunConfig later leaves the name alone; the run is reused only if its
        saved config equals this one)."""
        values = "".join(f"-{k.replace('_', '')}{v}" for k, v in self.grid.items())
        default = RunConfig().to_dict()
        changed = {k: v for k, v in self.config.to_dict().items() if v != default[k]}
        return f"{self.variant}{values}-{digest(changed)}"

    @property
    def key(self) -> str:
        """A hash of everything the cell's results depend on."""
        return digest(
            {
                "run": self.config.to_dict(),
                "prune": [p.arguments() | {"label": p.label} for p in self.prune],
                "evaluate": list(self.evaluate),
            }
        )


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep: its name, its cells and the columns its results vary in.

    Parameters
    ----------
    name : str
        The sweep's name (the results file is ``<name>.csv``).
    title : str
        A title for figures.
    cells : tuple of Cell
        The runs, in order.
    columns : tuple of str
        The RunConfig fields that differ between cells (beside model, dataset,
        reg and seed, which are always columns), and the evaluation settings.
    source : str
        Where the config came from (a file name), for messages.
    quick : bool
        Whether ``quick`` was applied.
    """

    name: str
    title: str
    cells: tuple
    columns: tuple
    source: str
    quick: bool = False


def digest(obj) -> str:
    """Ten hex digits of the SHA-256 of ``obj`` as canonical JSON.

    Parameters
    ----------
    obj : object
        JSON-serialisable data.

    Returns
    -------
    str
        The digest.
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def load_sweep_config(path, *, quick: bool = False) -> SweepConfig:
    """Read and check a sweep configuration file.

    Parameters
    ----------
    path : str or os.PathLike
        A TOML file.
    quick : bool
        Apply its ``[quick]`` section.

    Returns
    -------
    SweepConfig
        The checked sweep.

    Raises
    ------
    SweepConfigError
        For a file that cannot be read or parsed, or any mistake in it.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepConfigError(f"{path}: no such sweep configuration file.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SweepConfigError(f"{path}: not a readable TOML file ({e}).") from None
    return sweep_config(data, quick=quick, source=str(path))


def sweep_config(data: dict, *, quick: bool = False, source: str = "sweep config") -> SweepConfig:
    """Check a sweep configuration given as a dict (as TOML decodes it).

    Parameters
    ----------
    data : dict
        The configuration (see the module's description).
    quick : bool
        Apply its ``quick`` section.
    source : str
        What to call it in messages.

    Returns
    -------
    SweepConfig
        The checked sweep.
    """
    if not isinstance(data, dict):
        raise SweepConfigError(f"{source}: a sweep configuration is a table. Got {type(data).__name__} instead.")
    unknown_keys(data, SECTIONS, source, "")
    name = data.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise SweepConfigError(f"{source}: `name` must be a non-empty name for the results file. Got {name!r}.")
    title = typed(data.get("title", name), str, source, "title")
    base = _table(data.get("base", {}), source, "base")
    grid = _table(data.get("grid", {}), source, "grid")
    quick_part = _table(data.get("quick", {}), source, "quick")
    unknown_keys(quick_part, QUICK_KEYS, source, "quick.")
    forced, quick_grid, prune_extra = (_table(quick_part.get(k, {}), source, f"quick.{k}") for k in QUICK_KEYS)
    for table, where in ((base, "base"), (forced, "quick.set")):
        _fields(table, source, where)
    _check_grid(grid, source, "grid")
    _check_grid(quick_grid, source, "quick.grid")
    unknown_keys(prune_extra, PRUNE_KEYS, source, "quick.prune.")
    for key in sorted(set(forced) & set(grid) | set(forced) & set(quick_grid)):
        raise SweepConfigError(
            f"{source}: quick.set: `{key}` = {forced[key]!r} would replace every value of "
            f"[grid] `{key}`; give the quick values in quick.grid instead."
        )
    grid, forced, unused_extra, prune_extra = (
        ({**grid, **quick_grid}, forced, {}, prune_extra) if quick else (grid, {}, prune_extra, {})
    )
    variants = _variants(data.get("variants", [{"label": "run"}]), source)
    default_prune = data.get("prune", [])
    evaluate_table = _table(data.get("evaluate", {}), source, "evaluate")
    evaluate = _evaluate(evaluate_table, source)
    for key in sorted(set(evaluate_table) & (set(base) | set(forced))):
        raise SweepConfigError(
            f"{source}: `{key}` is set in [base] or quick.set and listed in [evaluate]; give it in one place."
        )
    cells: list[Cell] = []
    for variant in variants:
        label = variant["label"]
        own = {k: v for k, v in variant.items() if k not in ("label", "prune")}
        where = f"variants[{label!r}]"
        _fields(own, source, where)
        for key in sorted(set(own) & (set(grid) | set(evaluate_table))):
            raise SweepConfigError(
                f"{source}: {where}: `{key}` = {own[key]!r} is also a [grid] or [evaluate] key, "
                f"which would replace it; give it in one place."
            )
        entries, at = variant.get("prune", default_prune), f"{where}.prune" if "prune" in variant else "prune"
        specs = prune_specs(entries, prune_extra, source, at)
        prune_specs(entries, unused_extra, source, at)  # [quick.prune] is checked without --quick too
        if not specs:
            raise SweepConfigError(
                f"{source}: `{at}` is empty: every run needs a [[prune]] entry (fractions = [0.0] "
                f"measures the unpruned network)."
            )
        for values in itertools.product(*grid.values()):
            chosen = dict(zip(grid, values))
            settings = {**base, **own, **chosen, **forced}
            for key in ("model", "dataset"):
                if key not in settings:
                    raise SweepConfigError(f"{source}: {where}: no `{key}`; name it in [base], the variant or [grid].")
            config = _check_config(settings, source, f"{where} with {chosen}" if chosen else where)
            for spec in specs:
                check_prune_fits(spec, config, source, where)
            cells.append(Cell(len(cells), label, config, chosen, specs, evaluate))
    if not cells:
        raise SweepConfigError(f"{source}: the sweep has no runs (an empty list in [grid]?).")
    return SweepConfig(name, title, tuple(cells), _columns(cells), source, quick)


def _table(value, source: str, key: str) -> dict:
    if not isinstance(value, dict):
        raise SweepConfigError(f"{source}: `{key}` must be a table. Got {value!r}.")
    return value


def _fields(table: dict, source: str, where: str, values: bool = True) -> None:
    """Refuse keys that are no RunConfig field, and (``values``) values their field does not accept."""
    for key, value in table.items():
        if key not in RUN_FIELDS:
            raise SweepConfigError(
                f"{source}: {where}: `{key}` = {value!r} is not a RunConfig field; the fields are "
                f"{', '.join(RUN_FIELDS)}."
            )
        if values:
            _check_value(key, value, source, where)


def _check_value(key: str, value, source: str, where: str):
    """One field's own rule (ranges, types, choices), before fields are combined: the value converted."""
    try:
        return RULES[key].check(value, key)
    except (TypeError, ValueError) as e:
        raise SweepConfigError(f"{source}: {where}: `{key}` = {value!r}: {e}") from None


def _check_config(settings: dict, source: str, where: str) -> RunConfig:
    """The RunConfig of ``settings`` (defaults for what is missing), or an error naming ``where``."""
    try:
        return RunConfig(**settings)
    except (TypeError, ValueError) as e:
        raise SweepConfigError(f"{source}: {where}: {e}") from None


def _check_grid(grid: dict, source: str, where: str) -> None:
    _fields(grid, source, where, values=False)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepConfigError(f"{source}: {where}: `{key}` must be a non-empty list of values. Got {values!r}.")
        if key in EVALUATION_FIELDS:
            raise SweepConfigError(f"{source}: {where}: `{key}` changes evaluation only; put it in [evaluate].")
        _distinct(key, [_check_value(key, value, source, where) for value in values], values, source, where)


def _distinct(key: str, checked: list, values: list, source: str, where: str) -> None:
    """Refuse a list naming one value twice (1 and 1.0 are the same value)."""
    if len(set(map(repr, checked))) != len(checked):
        raise SweepConfigError(f"{source}: {where}: `{key}` lists a value twice: {values!r}.")


def _variants(value, source: str) -> list[dict]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise SweepConfigError(f"{source}: `variants` must be a non-empty list of tables. Got {value!r}.")
    labels = []
    for i, variant in enumerate(value):
        label = variant.get("label")
        if not isinstance(label, str) or not label or "/" in label or label.startswith("."):
            raise SweepConfigError(f"{source}: variants[{i}]: `label` must be a non-empty name. Got {label!r}.")
        labels.append(label)
    for twice in sorted({n for n in labels if labels.count(n) > 1})[:1]:
        raise SweepConfigError(f"{source}: variants: the label {twice!r} is used twice.")
    return value


def _evaluate(table: dict, source: str) -> tuple:
    for key, values in table.items():
        if key not in EVALUATION_FIELDS:
            raise SweepConfigError(
                f"{source}: evaluate: `{key}` = {values!r} is not an evaluation setting; they are "
                f"{', '.join(EVALUATION_FIELDS)}."
            )
        if not isinstance(values, list) or not values:
            raise SweepConfigError(f"{source}: evaluate: `{key}` must be a non-empty list. Got {values!r}.")
        _distinct(key, [_check_value(key, v, source, "evaluate") for v in values], values, source, "evaluate")
    return tuple(dict(zip(table, values)) for values in itertools.product(*table.values()))


def _columns(cells: list) -> tuple:
    """The fields that differ between cells, then the evaluation settings."""
    first = cells[0].config.to_dict()
    varied = [
        name
        for name in RUN_FIELDS
        if name not in ("model", "dataset", "reg", "seed")
        and any(c.config.to_dict()[name] != first[name] for c in cells)
    ]
    return tuple(varied) + tuple(cells[0].evaluate[0])
