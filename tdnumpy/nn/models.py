"""Models by name.

- ``lenet300``: 784-300-100-10 with ReLU, the LeNet-300-100 of LeCun et al.
  1998 as pruned by Han et al. 2015 (266,610 parameters).
- ``lenet5``: conv 20@5x5 -> maxpool 2 -> conv 50@5x5 -> maxpool 2 -> dense 500
  (ReLU) -> dense 10, the Caffe LeNet-5 used by Han et al. 2015 (431,080
  parameters; as in Caffe, no nonlinearity after the convolutions, and every
  layer initialised with Var[w] = 1 / fan_in, Caffe's "xavier" filler).
- ``lenet5:<c1>-<c2>-<fc>``: the same network with c1 and c2 filters in the
  convolutions and fc units in the hidden dense layer, e.g. ``lenet5:18-47-480``
  (what :mod:`tdnumpy.pruning.shrink` writes after removing dead units);
  ``lenet5:20-50-500`` builds exactly ``lenet5``, weight for weight.
- ``mlp:784-1024-1024-10``: any multilayer perceptron, sizes from input to
  output, ReLU between layers; ``mlp:784-500-10:tanh`` picks the activation
  (relu, tanh or sigmoid; He initialisation for ReLU, Glorot otherwise).

A model spawns one child generator per layer from ``SeedSequence(seed)``, so
one seed fixes every layer's initial weights (and, later, its noise) whatever
order layers are used in.
"""

from __future__ import annotations

import re

import numpy as np

from .._validation import check_float_dtype, check_int
from .activations import ACTIVATIONS, ReLU
from .conv import Conv2D
from .dense import Dense
from .module import Module, Sequential
from .pool import Flatten, MaxPool2D

NAMED = {"lenet300": "mlp:784-300-100-10:relu"}

LENET5_WIDTHS = (20, 50, 500)  # filters of conv1 and conv2, units of the hidden dense layer

SPEC_HELP = (
    "'lenet300', 'lenet5', 'lenet5:<c1>-<c2>-<fc>' (the widths of the two convolutions and of the hidden "
    "dense layer, e.g. 'lenet5:20-50-500', the default) or 'mlp:<sizes>[:<activation>]' with sizes from "
    "input to output joined by '-' (at least two) and activation relu, tanh or sigmoid, "
    "e.g. 'mlp:784-1024-1024-10'"
)


def parse_mlp_spec(spec: str) -> tuple[list[int], str]:
    """Return (sizes, activation) of an ``mlp:`` spec or raise ``ValueError``.

    Parameters
    ----------
    spec : str
        ``"mlp:<sizes>[:<activation>]"``, e.g. ``"mlp:784-500-10:tanh"``.

    Returns
    -------
    sizes : list of int
        Layer sizes from input to output, at least two, all >= 1.
    activation : str
        "relu" (the default), "tanh" or "sigmoid".

    Raises
    ------
    ValueError
        If ``spec`` is not a well-formed ``mlp:`` spec.
    """
    parts = spec.split(":")
    ok = parts[0] == "mlp" and len(parts) in (2, 3)
    sizes: list[int] = []
    if ok:
        try:
            sizes = [int(s) for s in parts[1].split("-")]
        except ValueError:
            ok = False
    activation = parts[2] if ok and len(parts) == 3 else "relu"
    if not ok or len(sizes) < 2 or min(sizes) < 1 or activation not in ACTIVATIONS:
        raise ValueError(f"The model spec must be {SPEC_HELP}. Got {spec!r} instead.")
    return sizes, activation


def is_lenet5_spec(spec: str) -> bool:
    """Whether ``spec`` names a LeNet-5 (``lenet5`` or ``lenet5:...``, well formed or not).

    Parameters
    ----------
    spec : str
        A model spec.

    Returns
    -------
    bool
        True for ``"lenet5"`` and anything starting with ``"lenet5:"``.
    """
    return spec == "lenet5" or spec.startswith("lenet5:")


def parse_lenet5_spec(spec: str) -> tuple[int, int, int]:
    """Return the widths (c1, c2, fc) of a LeNet-5 spec or raise ``ValueError``.

    Parameters
    ----------
    spec : str
        ``"lenet5"`` or ``"lenet5:<c1>-<c2>-<fc>"``.

    Returns
    -------
    tuple of int
        (c1, c2, fc), each >= 1; (20, 50, 500) for ``"lenet5"``.

    Raises
    ------
    ValueError
        If ``spec`` is not a well-formed LeNet-5 spec.
    """
    if spec == "lenet5":
        return LENET5_WIDTHS
    match = re.fullmatch(r"lenet5:([0-9]+)-([0-9]+)-([0-9]+)", spec)
    if match is None or min(int(w) for w in match.groups()) < 1:
        raise ValueError(f"The model spec must be {SPEC_HELP}. Got {spec!r} instead.")
    c1, c2, fc = (int(w) for w in match.groups())
    return c1, c2, fc


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"The 'seed' parameter must be a non-negative int. Got {seed!r} instead.")
    return np.random.SeedSequence(int(seed))


def mlp(sizes, activation="relu", *, seed=0, dtype=np.float32, spec=None) -> Sequential:
    """A multilayer perceptron Dense -> act -> ... -> Dense (logits, no final activation).

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes from input to output, at least two.
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
        Activation between the dense layers; He initialisation for ReLU,
        Glorot uniform otherwise.
    seed : int >= 0 or numpy.random.SeedSequence, default=0
        Seed of the layers' generators, one child per dense layer.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the parameters.
    spec : str or None, default=None
        Spec to record; None writes ``"mlp:<sizes>:<activation>"``.

    Returns
    -------
    Sequential
        The model, with ``input_shape`` (sizes[0],).
    """
    dtype = check_float_dtype(dtype, "dtype", "mlp")
    n_dense = len(sizes) - 1
    rngs = [np.random.default_rng(s) for s in _seed_sequence(seed).spawn(n_dense)]
    init = "he" if activation == "relu" else "glorot"
    layers: list[Module] = []
    for i, rng in enumerate(rngs):
        layers.append(Dense(sizes[i], sizes[i + 1], rng=rng, init=init, dtype=dtype))
        if i < n_dense - 1:
            layers.append(ACTIVATIONS[activation]())
    spec = spec or f"mlp:{'-'.join(map(str, sizes))}:{activation}"
    return Sequential(*layers, spec=spec, input_shape=(sizes[0],))


def lenet5(widths=LENET5_WIDTHS, *, seed=0, dtype=np.float32, spec=None) -> Sequential:
    """The Caffe LeNet-5 for (1, 28, 28) inputs (see the module docstring).

    The second pooling leaves c2 maps of 4 x 4 pixels, so the hidden dense
    layer has 16 c2 inputs.

    Parameters
    ----------
    widths : tuple of 3 int, default=(20, 50, 500)
        (c1, c2, fc): the filters of the two convolutions and the units of
        the hidden dense layer.
    seed : int >= 0 or numpy.random.SeedSequence, default=0
        Seed of the layers' generators, one child per weighted layer.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the parameters.
    spec : str or None, default=None
        Spec to record; None writes ``"lenet5"`` or ``"lenet5:<c1>-<c2>-<fc>"``.

    Returns
    -------
    Sequential
        The model, with ``input_shape`` (1, 28, 28).

    Raises
    ------
    TypeError
        If ``widths`` is not a tuple or list of three ints.
    """
    dtype = check_float_dtype(dtype, "dtype", "lenet5")
    if not isinstance(widths, (tuple, list)) or len(widths) != 3:
        raise TypeError(
            f"The 'widths' parameter of lenet5 must be a tuple (c1, c2, fc) of three ints. Got {widths!r} instead."
        )
    c1, c2, fc = (check_int(w, "widths", "lenet5", low=1) for w in widths)
    r1, r2, r3, r4 = (np.random.default_rng(s) for s in _seed_sequence(seed).spawn(4))
    init = "lecun_uniform"
    return Sequential(
        Conv2D(1, c1, 5, rng=r1, init=init, dtype=dtype),
        MaxPool2D(2),
        Conv2D(c1, c2, 5, rng=r2, init=init, dtype=dtype),
        MaxPool2D(2),
        Flatten(),
        Dense(c2 * 4 * 4, fc, rng=r3, init=init, dtype=dtype),
        ReLU(),
        Dense(fc, 10, rng=r4, init=init, dtype=dtype),
        spec=spec or ("lenet5" if (c1, c2, fc) == LENET5_WIDTHS else f"lenet5:{c1}-{c2}-{fc}"),
        input_shape=(1, 28, 28),
    )


def build_model(spec: str, *, seed=0, dtype=np.float32) -> Sequential:
    """Build the model named by ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : str
        ``"lenet300"``, ``"lenet5"``, ``"lenet5:<c1>-<c2>-<fc>"`` or
        ``"mlp:<sizes>[:<activation>]"``.
    seed : int >= 0 or numpy.random.SeedSequence, default=0
        Seed of the layers' initial weights (and, later, of their noise).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the parameters.

    Returns
    -------
    Sequential
        The model, with ``spec`` recorded as given.

    Raises
    ------
    TypeError
        If ``spec`` is not a string.
    ValueError
        If ``spec`` names no model.
    """
    if not isinstance(spec, str):
        raise TypeError(f"The model spec must be a string, {SPEC_HELP}. Got {spec!r} instead.")
    if is_lenet5_spec(spec):
        return lenet5(parse_lenet5_spec(spec), seed=seed, dtype=dtype, spec=spec)
    full = NAMED.get(spec, spec)
    sizes, activation = parse_mlp_spec(full)
    return mlp(sizes, activation, seed=seed, dtype=dtype, spec=spec)
