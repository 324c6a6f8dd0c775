"""Run configs as checkpoints record them, whatever release wrote them.

Release 0.1 stored the ``train`` command's argparse namespace; later releases
store :meth:`RunConfig.to_dict`. :func:`config_from_record` reads either.
"""

from __future__ import annotations

import warnings
from dataclasses import fields

from ..training.checkpoint import CheckpointError
from .config import RunConfig

# Keys of release 0.1's checkpoint configs (the train command's argparse
# namespace) that belong to the command line, not to the run.
COMMAND_LINE_KEYS = ("command", "func", "out", "quiet", "data_dir", "no_download", "mirror")


def config_from_record(meta: dict, path) -> RunConfig:
    """The :class:`RunConfig` a checkpoint's record holds, whatever release wrote it.

    Release 0.1 stored the ``train`` command's arguments; they are migrated:
    the command-line keys are dropped, ``reg_layers`` is split at commas, and
    keys that are no RunConfig field are dropped with a warning (release 0.1
    ignored them too). A checkpoint saved without a config gets the defaults,
    with its model spec, dataset and seed. Where the record names another
    dataset than the config (a network pruned and retrained with
    ``--dataset``), the record's wins: it is what the network was last
    trained and measured on.

    Parameters
    ----------
    meta : dict
        The checkpoint's metadata record.
    path : str or os.PathLike
        The checkpoint, for error messages.

    Returns
    -------
    RunConfig
        The config.
    """
    record = meta.get("config") or {}
    if not isinstance(record, dict):
        raise CheckpointError(
            f"{path}: its run configuration is not usable (the 'config' record must be a JSON "
            f"object of fields; got a {type(record).__name__})."
        )
    try:
        if "format" in record:
            config = RunConfig.from_dict(record)
        elif record:
            config = _migrate(record, path)
        else:
            config = RunConfig(model=meta["spec"], dataset=meta.get("dataset", "mnist"), seed=meta.get("seed", 0))
        if meta.get("dataset", config.dataset) != config.dataset:
            config = config.replace(dataset=meta["dataset"])
        return config
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its run configuration is not usable ({e}).") from e


def _migrate(record: dict, path) -> RunConfig:
    """The RunConfig of a release 0.1 record (the train command's arguments)."""
    known = {f.name for f in fields(RunConfig)}
    values = {k: v for k, v in record.items() if k in known}
    ignored = sorted(set(record) - known - set(COMMAND_LINE_KEYS))
    if ignored:
        warnings.warn(f"{path}: the run configuration's keys {ignored} are no RunConfig field; ignored.", stacklevel=3)
    if isinstance(values.get("reg_layers"), str):
        values["reg_layers"] = [n.strip() for n in values["reg_layers"].split(",") if n.strip()]
    return RunConfig(**values)
