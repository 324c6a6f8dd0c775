"""The shipped sweep configurations, one TOML file each (see
:mod:`tdnumpy.experiments.sweep_config` for the format and
:func:`tdnumpy.experiments.reproduce.reproduce` for running them)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..._validation import check_choice

NAMES = ("td-mnist-mlp", "td-mnist-lenet5", "td-fashion-mlp", "han-lenet", "gamma-alpha", "dropconnect-vs-dropout")


def config_path(name: str) -> Path:
    """The TOML file of a shipped configuration.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.

    Returns
    -------
    Path
        The file inside the installed package.
    """
    name = check_choice(name, "name", "reproduce", NAMES)
    return Path(str(resources.files(__name__) / f"{name}.toml"))
