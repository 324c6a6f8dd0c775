"""Checkpoints: one ``.npz`` file holding the parameters, their pruning masks
and a JSON metadata record, written atomically and read with
``allow_pickle=False``.

Layout of the archive:

    param/<name>   each parameter's value (``fc1.weight`` ...)
    mask/<name>    the keep-mask of each pruned parameter
    state/<key>    the training state's arrays, in the checkpoint an
                   unfinished run writes after each epoch (its record is
                   meta.json's ``state``; see :mod:`tdnumpy.training.state`)
    meta.json      UTF-8 JSON as a uint8 array: format, version, model spec,
                   dtype, seed, parameter shapes and whatever the caller adds
                   (epoch, metrics ...)

Keeping the metadata inside the archive means one rename publishes the whole
checkpoint; weights and metadata can never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._io import atomic_open, read_archive
from .._validation import check_float_dtype, check_path
from ..nn.module import check_model
from ..nn.models import build_model

FORMAT = "tdnumpy-checkpoint"
VERSION = 1
RESERVED = ("format", "version", "spec", "dtype", "parameters", "state")
PREFIXES = ("param/", "mask/", "state/")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt or does not match the model."""


def save_checkpoint(path, model, *, state=None, **metadata) -> Path:
    """Write ``model``'s parameters and masks with ``metadata`` to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file to write; missing folders are created.
    model : Sequential
        The model to save.
    state : tuple of (dict, dict), optional
        A training state ``(arrays, record)`` from
        :func:`tdnumpy.training.state.capture`, to resume training from.
    **metadata : JSON-serialisable
        Recorded in ``meta.json`` (epoch, metrics ...). The keys in ``RESERVED``
        are written by this function and cannot be given.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``metadata`` uses a key of ``RESERVED``.
    """
    clash = sorted(set(metadata) & set(RESERVED))
    if clash:
        raise ValueError(f"save_checkpoint writes {', '.join(RESERVED)} itself; do not pass {clash}.")
    path = check_path(path, "path", "save_checkpoint")
    check_model(model, "model", "save_checkpoint")
    params = model.named_parameters()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "spec": model.spec,
        "dtype": str(model.dtype),
        "parameters": {name: list(p.shape) for name, p in params.items()},
        **metadata,
    }
    arrays = {f"param/{name}": p.value for name, p in params.items()}
    arrays.update({f"mask/{name}": p.mask for name, p in params.items() if p.mask is not None})
    if state is not None:
        arrays.update({f"state/{key}": value for key, value in state[0].items()})
        meta["state"] = state[1]
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def read_checkpoint(path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Read a checkpoint, validated as a file (not against any model).

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    values : dict of str to ndarray
        Each parameter's value, by name (``fc1.weight`` ...).
    masks : dict of str to ndarray
        The keep-mask of each pruned parameter, by name.
    metadata : dict
        The ``meta.json`` record.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, of another format or version, or holds
        unexpected entries or masks without a parameter.
    """
    values, masks, _, meta = _read(check_path(path, "path", "read_checkpoint"))
    return values, masks, meta


def read_training_state(path) -> tuple[dict[str, np.ndarray], dict]:
    """The training state an unfinished run's checkpoint holds, and its metadata.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    arrays : dict of str to ndarray
        The state's arrays (the entries ``state/<key>``), by key; empty in a
        checkpoint without a state.
    metadata : dict
        The ``meta.json`` record; the state's own record is its ``state``
        (absent in a checkpoint without a state).

    Raises
    ------
    CheckpointError
        If the file is not a valid checkpoint.
    """
    _, _, state, meta = _read(check_path(path, "path", "read_training_state"))
    return state, meta


def _read(path: Path):
    contents, meta = read_archive(
        path, fmt=FORMAT, version=VERSION, what="checkpoint", error=CheckpointError, prefixes=PREFIXES
    )
    values, masks, state = (
        {k[len(prefix) :]: v for k, v in contents.items() if k.startswith(prefix)} for prefix in PREFIXES
    )
    unknown = sorted(k for k in contents if not k.startswith(PREFIXES))
    if unknown:
        raise CheckpointError(
            f"{path}: unexpected entries {unknown} (a checkpoint holds param/*, mask/*, state/* and meta.json)."
        )
    orphans = sorted(set(masks) - set(values))
    if orphans:
        raise CheckpointError(f"{path}: masks for parameters that are not in the checkpoint: {orphans}.")
    return values, masks, state, meta


def load_into(model, path) -> dict:
    """Copy a checkpoint's parameters and masks into ``model``.

    The checkpoint must be of the same model spec, hold every parameter of the
    model with the same shape as floats, and nothing else. Values are cast to
    the model's dtype (a float32 checkpoint loads into a float64 model for
    gradient checks).

    Parameters
    ----------
    model : Sequential
        The model to load into, in place; a model without a spec skips the spec check.
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    dict
        The checkpoint's metadata.

    Raises
    ------
    CheckpointError
        If the file is not a valid checkpoint or does not match ``model``; the
        model is left unchanged.
    """
    check_model(model, "model", "load_into")
    values, masks, meta = read_checkpoint(path)
    _assign(model, values, masks, meta, Path(path))
    return meta


def _assign(model, values, masks, meta, path: Path) -> None:
    if model.spec is not None and meta.get("spec") != model.spec:
        raise CheckpointError(f"{path}: the checkpoint is of model {meta.get('spec')!r}, not {model.spec!r}.")
    params = model.named_parameters()
    missing = sorted(set(params) - set(values))
    extra = sorted(set(values) - set(params))
    if missing or extra:
        raise CheckpointError(
            f"{path}: the checkpoint (model {meta.get('spec')!r}) does not match model {model.spec!r}: "
            f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}."
        )
    for name, p in params.items():
        v = values[name]
        if v.shape != p.shape:
            raise CheckpointError(
                f"{path}: parameter {name!r} has shape {v.shape} in the checkpoint "
                f"but {p.shape} in model {model.spec!r}."
            )
        if v.dtype.kind != "f":
            raise CheckpointError(f"{path}: parameter {name!r} is stored as {v.dtype}, not as floats.")
        if not np.all(np.isfinite(v)):
            raise CheckpointError(f"{path}: parameter {name!r} holds NaN or infinite values.")
        mask = masks.get(name)
        if mask is not None and (mask.dtype != np.bool_ or mask.shape != p.shape):
            raise CheckpointError(
                f"{path}: the mask of {name!r} must be boolean of shape {p.shape}, got {mask.dtype} {mask.shape}."
            )
    for name, p in params.items():
        p.value[...] = values[name]
        p.set_mask(masks.get(name))


def load_checkpoint(path, *, dtype=None, prepare=None):
    """Rebuild the model a checkpoint describes and load it.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    dtype : str or numpy.dtype, optional
        The model's dtype, float32 or float64; by default the checkpoint's
        (float32 if it records none).
    prepare : callable, optional
        Called as ``prepare(model, metadata)`` on the freshly built model
        before the parameters are filled in: for putting back regularisers
        that own parameters (L0 gates, variational dropout, Smallify's
        switches), which the checkpoint holds too.

    Returns
    -------
    model : Sequential
        The model built from the checkpoint's spec, with its parameters and masks.
    metadata : dict
        The checkpoint's metadata.

    Raises
    ------
    CheckpointError
        If the file is not a valid checkpoint, or its spec cannot be built.
    """
    if dtype is not None:
        dtype = check_float_dtype(dtype, "dtype", "load_checkpoint")
    values, masks, meta = read_checkpoint(path)
    try:
        model = build_model(meta["spec"], dtype=dtype or meta.get("dtype", "float32"))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's model spec {meta.get('spec')!r} is not usable ({e}).") from e
    if prepare is not None:
        prepare(model, meta)
    _assign(model, values, masks, meta, Path(path))
    return model, meta
