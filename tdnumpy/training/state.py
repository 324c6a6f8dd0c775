"""The training state: what a run carries from one step to the next besides
its parameters and masks, so that an interrupted run can go on exactly where
it stopped.

Training is a function of the config, the step and this state:

- the optimiser's buffers (SGD's velocity, Adam's m and v) and Adam's step
  count t;
- the state of every random generator the model draws from (each layer's
  ``rng``, each noise module's and each rule's own), and of the generator
  that shuffles the examples;
- what each module or weight-noise rule lists in its ``resume_attributes``:
  every rule's step count (the ramps of gamma and alpha are functions of it),
  the targets a random-targeting rule fixed at its first step, Smallify's
  moving averages.

The learning-rate schedule and gradual pruning are functions of the step
alone, and pruning masks are in the checkpoint itself. Capture the state at
the end of an epoch, build a model from the same config with the same
regularisers, load the checkpoint's parameters and masks into it, restore the
state, and the remaining epochs are bit-identical to an uninterrupted run
(with the same NumPy, BLAS and BLAS thread count).

In a checkpoint the state's arrays are the entries ``state/<key>`` and the
rest is the record ``meta.json["state"]`` (:mod:`tdnumpy.training.checkpoint`).
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from .._validation import check_generator, check_path
from ..nn.module import check_model
from .optim import Optimizer

FORMAT_VERSION = 1


def stateful_objects(model) -> dict[str, object]:
    """Each layer of ``model`` and each layer's weight-noise rule, by name.

    Parameters
    ----------
    model : Sequential
        The network.

    Returns
    -------
    dict of str to object
        ``<layer>`` for a layer and ``<layer>.noise`` for its rule.
    """
    found: dict[str, object] = {}
    for layer in check_model(model, "model", "stateful_objects").layers:
        found[layer.name] = layer
        rule = getattr(layer, "noise", None)
        if rule is not None:
            found[f"{layer.name}.noise"] = rule
    return found


def capture(model, optimizer, shuffle: np.random.Generator) -> tuple[dict[str, np.ndarray], dict]:
    """The training state of a run, as arrays and a JSON-serialisable record.

    Parameters
    ----------
    model : Sequential
        The network being trained.
    optimizer : Optimizer
        Its optimiser.
    shuffle : numpy.random.Generator
        The generator that orders the examples of each epoch.

    Returns
    -------
    arrays : dict of str to ndarray
        ``optimizer/<buffer>/<parameter>`` and ``<object>.<attribute>`` arrays (copies).
    record : dict
        ``version``; ``generators``: ``<object>.<attribute>`` (and ``shuffle``)
        to the generator's ``bit_generator.state``; ``values``: scalar
        attributes (and ``optimizer.t`` for Adam); ``none``: attributes that
        are None.
    """
    _check_run_objects(model, optimizer, shuffle, "capture")
    arrays = {f"optimizer/{key}": buf.copy() for key, buf in optimizer.state().items()}
    generators = {"shuffle": shuffle.bit_generator.state}
    values, none = {}, []
    if hasattr(optimizer, "t"):
        values["optimizer.t"] = int(optimizer.t)
    for name, obj in stateful_objects(model).items():
        for attr, value in vars(obj).items():
            if isinstance(value, np.random.Generator):
                generators[f"{name}.{attr}"] = value.bit_generator.state
        for attr in getattr(obj, "resume_attributes", ()):
            value, key = getattr(obj, attr), f"{name}.{attr}"
            if value is None:
                none.append(key)
            elif isinstance(value, np.ndarray):
                arrays[key] = value.copy()
            else:
                values[key] = value.item() if isinstance(value, np.generic) else value
    return arrays, {"version": FORMAT_VERSION, "generators": generators, "values": values, "none": none}


def restore(model, optimizer, shuffle: np.random.Generator, arrays: dict[str, np.ndarray], record: dict, path) -> None:
    """Put a captured training state back, into a model built as the captured one was.

    Parameters
    ----------
    model : Sequential
        A network of the same config and regularisers, its parameters and
        masks already loaded.
    optimizer : Optimizer
        A fresh optimiser of the same kind over its parameters.
    shuffle : numpy.random.Generator
        The example-ordering generator, of the same bit generator.
    arrays, record : dict
        What :func:`capture` returned (read back from a checkpoint).
    path : str or os.PathLike
        The checkpoint, for error messages.

    Raises
    ------
    ValueError
        If the state does not fit the model and the optimiser (it was captured
        from another config): its keys and array shapes are checked before
        anything is changed.
    """
    path = check_path(path, "path", "restore")
    _check_run_objects(model, optimizer, shuffle, "restore")
    for name, value in (("arrays", arrays), ("record", record)):
        if not isinstance(value, dict):
            raise TypeError(
                f"The {name!r} parameter of restore must be a dict (from capture). Got {type(value).__name__} instead."
            )
    _check_fits(*capture(model, optimizer, shuffle), arrays, record, path)
    objects = {**stateful_objects(model), "optimizer": optimizer}
    buffers = optimizer.state()
    for key, state in record["generators"].items():
        generator = shuffle if key == "shuffle" else _get(objects, key)
        try:
            generator.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: the state of generator {key!r} does not fit it ({e}).") from e
    for key, saved in arrays.items():
        if key.startswith("optimizer/"):
            buffers[key[len("optimizer/") :]][...] = saved
        else:
            _set(objects, key, saved)
    for key, value in record["values"].items():
        _set(objects, key, value)
    for key in record["none"]:
        _set(objects, key, None)


def _check_run_objects(model, optimizer, shuffle, owner: str) -> None:
    check_model(model, "model", owner)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"The 'optimizer' parameter of {owner} must be a tdnumpy optimiser (SGD, Adam). "
            f"Got {type(optimizer).__name__} instead."
        )
    check_generator(shuffle, "shuffle", owner)


def _check_fits(arrays: dict, record: dict, saved_arrays: dict, saved: dict, path: Path) -> None:
    """Refuse a saved state whose keys or array shapes differ from a fresh capture's."""
    if not isinstance(saved, dict) or saved.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: it holds no training state of version {FORMAT_VERSION} to resume from.")
    for part in ("generators", "values", "none"):
        if not isinstance(saved.get(part), (dict, list)):
            raise ValueError(f"{path}: its training state has no {part!r} record.")
    ours = set(arrays) | set(record["values"]) | set(record["none"])
    theirs = set(saved_arrays) | set(saved["values"]) | set(saved["none"])
    differ = sorted((ours ^ theirs) | (set(record["generators"]) ^ set(saved["generators"])))
    if differ:
        raise ValueError(
            f"{path}: its training state does not fit this run (it differs in {differ}); it was "
            f"written by another config."
        )
    for key, value in saved_arrays.items():
        mine = arrays.get(key)
        if mine is not None and (value.shape != mine.shape or value.dtype != mine.dtype):
            raise ValueError(
                f"{path}: the training state's {key!r} is {value.dtype} {value.shape}, not {mine.dtype} {mine.shape}."
            )
    for key, value in saved["values"].items():
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"{path}: the training state's {key!r} is {value!r}, not a number.")


def _get(objects: dict, key: str):
    owner, attr = key.rsplit(".", 1)
    return getattr(objects[owner], attr)


def _set(objects: dict, key: str, value) -> None:
    owner, attr = key.rsplit(".", 1)
    setattr(objects[owner], attr, value)
