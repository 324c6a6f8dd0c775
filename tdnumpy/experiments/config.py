"""What a run is: :class:`RunConfig`, everything ``tdnumpy train`` takes, with
one set of defaults and one set of checks.

A config is a frozen dataclass whose fields are the ``train`` flags
(``--batch-size`` is ``batch_size``). Each field declares what it accepts
(:class:`Rule`); the command line builds its flags from the same
declarations, so a default or a range lives in one place. Every value is
checked when a config is made, and so are the choices that depend on each
other or on the model (regulariser names and layers, the gradual-pruning
epochs); only what needs the number of training images (a gradual-pruning
interval longer than the pruning phase) waits for the data. It travels as JSON
(:meth:`RunConfig.to_dict`, :meth:`RunConfig.from_dict`) with a format
version, inside every checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field, fields

from .._validation import Interval, ParameterError, check_choice
from ..data import DATASETS
from ..nn.models import build_model
from .regularisers import Settings, choose, split

FORMAT = "tdnumpy-run-config"
VERSION = 1


@dataclass(frozen=True)
class Rule:
    """What one :class:`RunConfig` field accepts.

    Parameters
    ----------
    interval : Interval or None
        For numbers: their type and range.
    choices : tuple of str or None
        For names: the accepted ones.
    boolean : bool
        A bool (True or False).
    string_list : bool
        A list or tuple of str (kept as a tuple).
    optional : bool
        None is accepted too (it means "derived", see the field's description).
    """

    interval: Interval | None = None
    choices: tuple | None = None
    boolean: bool = False
    string_list: bool = False
    optional: bool = False

    def check(self, value, name: str):
        """Return ``value`` checked (and ints or floats converted) or raise.

        Parameters
        ----------
        value : object
            The field's value.
        name : str
            The field's name, for the message.

        Returns
        -------
        object
            The value, as an int, float, bool, str or tuple of str.
        """
        if value is None and self.optional:
            return None
        if self.string_list:
            if (
                isinstance(value, str)
                or not isinstance(value, (list, tuple))
                or not all(isinstance(n, str) for n in value)
            ):
                raise TypeError(
                    f"The {name!r} parameter of RunConfig must be a list of names"
                    f"{' or None' if self.optional else ''}. Got {value!r} instead."
                )
            return tuple(value)
        if self.boolean:
            if not isinstance(value, bool):
                raise TypeError(f"The {name!r} parameter of RunConfig must be True or False. Got {value!r} instead.")
            return value
        if self.choices is not None:
            return check_choice(value, name, "RunConfig", self.choices)
        if self.interval is not None:
            return self.interval.check(value, name, "RunConfig")
        if not isinstance(value, str):
            raise TypeError(f"The {name!r} parameter of RunConfig must be a str. Got {value!r} instead.")
        return value


def _field(default, rule: Rule = Rule()):
    return field(default=default, metadata={"rule": rule})


def _number(kind, low=None, high=None, closed="both", optional=False) -> Rule:
    return Rule(interval=Interval(kind, low, high, closed), optional=optional)


_REG = Settings()  # the regularisers' own defaults
COUNT = _number(int, 1)
MAX_MC_SAMPLES = 100_000
FRACTION = _number(float, 0.0, 1.0)
RATE = _number(float, 0.0, 1.0, "left")
STRENGTH = _number(float, 0.0)
# The sparsifying baselines' default strengths (measured on lenet300: see DESIGN.md).
L0_STRENGTH = 0.02
VD_STRENGTH = 0.1
SMALLIFY_STRENGTH = 1e-3


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run depends on: model, data, optimiser, schedule,
    regularisers, penalties and gradual pruning.

    The fields are the ``tdnumpy train`` flags, and their descriptions below
    are the flags' help texts. One seed fixes the initial weights, the example
    order and every noise draw, so a config determines its run bit for bit.

    Parameters
    ----------
    model : str
        The model, a spec of :func:`tdnumpy.nn.models.build_model`.
    dataset : {"mnist", "fashion-mnist"}
        The dataset.
    epochs : int
        Passes over the training set, >= 1.
    batch_size : int
        Mini-batch size, >= 1.
    optimizer : {"sgd", "adam"}
        The optimiser.
    lr : float
        Learning rate, > 0.
    momentum : float
        SGD momentum, in [0, 1).
    nesterov : bool
        Use Nesterov momentum with SGD (needs ``momentum`` > 0).
    weight_decay : float
        L2 weight decay added to every parameter's gradient, >= 0.
    lr_schedule : {"constant", "step", "cosine"}
        Learning-rate schedule over the training steps; cosine decays ``lr`` to 0
        by the last step.
    lr_step_epochs : int
        With ``lr_schedule`` step: epochs between decays.
    lr_decay : float
        With ``lr_schedule`` step: the factor applied at each decay, in (0, 1).
    seed : int
        Seed of the weights, the example order and every noise draw; one seed
        gives bit-identical runs.
    validation : int
        Hold out the last N training images as a validation set, reported per
        epoch; 5000 is usual.
    train_images : int or None
        Train on the first N training images only (after the held-out ones are
        set aside), for quick runs and tests (None: all of them).
    test_images : int or None
        Measure on the first N test images only (None: all 10,000).
    reg : str
        A regulariser name of :data:`tdnumpy.experiments.regularisers.NAMES` on
        its default layers, or one per layer as "fc1=dropconnect,fc2=dropout".
    reg_layers : tuple of str or None
        The weighted layers a single ``reg`` name goes on, e.g. fc1,fc2 (None:
        the name's own default layers).
    gamma : float
        td-*: the targeting proportion gamma, in [0, 1].
    alpha : float
        td-*: the drop rate alpha of each target, in [0, 1].
    drop_rate : float
        dropout, gaussian, spatial, dropconnect, unit-dropout, weight-dropout:
        the drop rate p, in [0, 1).
    ramp : {"two-phase", "linear"}
        With td-ramp: gamma rises linearly from 0 over ``ramp_steps``, or as in
        the authors' code, 95% over ``ramp_steps`` and the last 5% over as many
        again.
    ramp_steps : int or None
        With td-ramp: steps of the (first) ramp phase (None: a quarter of all
        steps).
    ramp_alpha : bool
        With td-ramp: ramp alpha the same way as gamma.
    per_example : bool
        td-unit, td-random-unit, dropconnect (dense layers): one mask per
        example instead of one per mini-batch.
    dropconnect_inference : {"mean", "gaussian"}
        dropconnect at evaluation: weights times 1 - p, or Wan et al.'s Gaussian
        moment matching averaged over ``mc_samples`` draws.
    mc_samples : int
        Samples Z of the Gaussian DropConnect inference, 1 to 100,000 (Wan et
        al. used 1,000; each costs about a forward pass of the layer, so the
        bound keeps an evaluation to minutes, not days).
    standout_alpha : float
        standout: alpha, the scale of a in the keep probability.
    standout_beta : float
        standout: beta, the standout network's shift (per input in the paper's form).
    standout_form : {"paper", "shifted"}
        standout: sigmoid(alpha a + beta (sum_i x_i + 1)), Ba and Frey's, or sigmoid(alpha a + beta).
    l0_strength : float
        l0-weight, l0-unit: add lambda * the expected number of non-zero gates
        to the loss (Louizos et al.'s L0 penalty), >= 0.
    l0_beta : float
        l0-weight, l0-unit: the hard-concrete temperature beta, > 0.
    l0_gamma : float
        l0-weight, l0-unit: the lower end gamma < 0 of the gates' stretch.
    l0_zeta : float
        l0-weight, l0-unit: the upper end zeta > 1 of the gates' stretch.
    l0_init_drop : float
        l0-weight, l0-unit: the gates start at log alpha = log((1 - p) / p)
        for this p, in (0, 1) (Louizos et al.'s initial drop rate).
    vd_strength : float
        vd-weight, vd-unit: add lambda * KL / N to the loss (N: training
        images; 1 is the variational lower bound), >= 0.
    vd_threshold : float
        vd-weight, vd-unit: log alpha above which a weight or unit is zero at
        evaluation, in [-8, 8].
    smallify_strength : float
        smallify: add lambda * sum |beta| over the switches to the loss, >= 0.
    smallify_momentum : float
        smallify: momentum of the sign-variance rule's moving averages, in [0, 1).
    smallify_threshold : float
        smallify: the sign variance above which a unit is removed for good, in (0, 4).
    l1 : float
        Add lambda * sum |w| to the loss (the weights, not the biases).
    l2 : float
        Add lambda / 2 * sum w^2 to the loss (the weights, not the biases).
    gradual_sparsity : float or None
        Prune the weights during training to sparsity S in [0, 1) along Zhu and
        Gupta's s_t = S (1 - (1 - (t - t0) / (n dt))^3) (None: no gradual pruning).
    gradual_kind : {"layer", "weight", "unit", "global"}
        What each gradual pruning step removes (the kinds of
        :mod:`tdnumpy.pruning.masking`).
    gradual_start : int
        Epoch at whose start gradual pruning begins, t0.
    gradual_epochs : int or None
        Epochs over which the sparsity rises to S, n dt (None: half the epochs
        after ``gradual_start``).
    gradual_interval : int
        Steps between gradual pruning steps, dt.
    """

    model: str = _field("lenet300")
    dataset: str = _field("mnist", Rule(choices=tuple(sorted(DATASETS))))
    epochs: int = _field(10, COUNT)
    batch_size: int = _field(128, COUNT)
    optimizer: str = _field("sgd", Rule(choices=("sgd", "adam")))
    lr: float = _field(0.05, _number(float, 0.0, None, "neither"))
    momentum: float = _field(0.9, RATE)
    nesterov: bool = _field(False, Rule(boolean=True))
    weight_decay: float = _field(0.0, STRENGTH)
    lr_schedule: str = _field("cosine", Rule(choices=("constant", "step", "cosine")))
    lr_step_epochs: int = _field(5, COUNT)
    lr_decay: float = _field(0.1, _number(float, 0.0, 1.0, "neither"))
    seed: int = _field(0, _number(int, 0))
    validation: int = _field(0, _number(int, 0))
    train_images: int | None = _field(None, _number(int, 1, optional=True))
    test_images: int | None = _field(None, _number(int, 1, optional=True))
    reg: str = _field("none")
    reg_layers: tuple | None = _field(None, Rule(string_list=True, optional=True))
    gamma: float = _field(_REG.gamma, FRACTION)
    alpha: float = _field(_REG.alpha, FRACTION)
    drop_rate: float = _field(_REG.drop_rate, RATE)
    ramp: str = _field(_REG.ramp, Rule(choices=("two-phase", "linear")))
    ramp_steps: int | None = _field(_REG.ramp_steps, _number(int, 1, optional=True))
    ramp_alpha: bool = _field(_REG.ramp_alpha, Rule(boolean=True))
    per_example: bool = _field(_REG.per_example, Rule(boolean=True))
    dropconnect_inference: str = _field(_REG.dropconnect_inference, Rule(choices=("mean", "gaussian")))
    mc_samples: int = _field(_REG.mc_samples, _number(int, 1, MAX_MC_SAMPLES))
    standout_alpha: float = _field(_REG.standout_alpha, _number(float))
    standout_beta: float = _field(_REG.standout_beta, _number(float))
    standout_form: str = _field(_REG.standout_form, Rule(choices=("paper", "shifted")))
    l0_strength: float = _field(L0_STRENGTH, STRENGTH)
    l0_beta: float = _field(_REG.l0_beta, _number(float, 0.0, None, "neither"))
    l0_gamma: float = _field(_REG.l0_gamma, _number(float, None, 0.0, "neither"))
    l0_zeta: float = _field(_REG.l0_zeta, _number(float, 1.0, None, "neither"))
    l0_init_drop: float = _field(_REG.l0_init_drop, _number(float, 0.0, 1.0, "neither"))
    vd_strength: float = _field(VD_STRENGTH, STRENGTH)
    vd_threshold: float = _field(_REG.vd_threshold, _number(float, -8.0, 8.0))
    smallify_strength: float = _field(SMALLIFY_STRENGTH, STRENGTH)
    smallify_momentum: float = _field(_REG.smallify_momentum, RATE)
    smallify_threshold: float = _field(_REG.smallify_threshold, _number(float, 0.0, 4.0, "neither"))
    l1: float = _field(0.0, STRENGTH)
    l2: float = _field(0.0, STRENGTH)
    gradual_sparsity: float | None = _field(None, _number(float, 0.0, 1.0, "left", optional=True))
    gradual_kind: str = _field("layer", Rule(choices=("layer", "weight", "unit", "global")))
    gradual_start: int = _field(0, _number(int, 0))
    gradual_epochs: int | None = _field(None, _number(int, 1, optional=True))
    gradual_interval: int = _field(100, COUNT)

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, f.metadata["rule"].check(getattr(self, f.name), f.name))
        self._check_against_model()
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            raise ParameterError("`nesterov` momentum needs `momentum` > 0.")
        self._check_gradual_phase()

    def regularisers(self, model) -> dict[str, str]:
        """The regulariser of each layer of ``model`` that gets one.

        Parameters
        ----------
        model : Sequential
            A network built from ``self.model``.

        Returns
        -------
        dict of str to str
            {layer name: regulariser name} (see
            :func:`tdnumpy.experiments.regularisers.choose`).
        """
        return choose(self.reg, model, self.reg_layers)

    def settings(self) -> Settings:
        """The numbers the regularisers take.

        Returns
        -------
        Settings
            ``gamma``, ``alpha``, ``drop_rate`` and the others, from this config.
        """
        return Settings(**{f.name: getattr(self, f.name) for f in fields(Settings)})

    def gradual_epochs_used(self) -> int | None:
        """Epochs over which gradual pruning raises the sparsity (None: no gradual pruning).

        Returns
        -------
        int or None
            ``gradual_epochs``, or by default half the epochs after ``gradual_start``.
        """
        if self.gradual_sparsity is None:
            return None
        return self.gradual_epochs or max(1, (self.epochs - self.gradual_start) // 2)

    def _check_gradual_phase(self) -> None:
        """Refuse a gradual-pruning phase that does not end inside the run."""
        epochs = self.gradual_epochs_used()
        if epochs is None:
            return
        if self.gradual_start >= self.epochs:
            raise ParameterError(f"`gradual_start` {self.gradual_start} must be below `epochs` {self.epochs}.")
        if self.gradual_start + epochs > self.epochs:
            raise ParameterError(
                f"`gradual_start` {self.gradual_start} + `gradual_epochs` {epochs} runs past "
                f"`epochs` {self.epochs}; the final sparsity would never be reached."
            )

    def _check_against_model(self) -> None:
        """Refuse a model spec that builds nothing, and regularisers that do not
        fit the model (unknown names or layers, standout with no activation to
        replace, spatial dropout on a dense layer)."""
        try:
            skeleton = _skeleton(self.model)
        except ValueError as e:
            raise ValueError(f"The 'model' parameter of RunConfig is not usable: {e}") from None
        self._check_model_fits_data(skeleton)
        split(self.reg)  # syntax and names, which need no model
        try:
            self.regularisers(skeleton)
        except ParameterError:
            raise
        except ValueError as e:
            layers = "" if self.reg_layers is None else f" with `reg_layers` {','.join(self.reg_layers)}"
            raise ParameterError(f"`reg` {self.reg}{layers} does not fit model {self.model}: {e}") from None

    def _check_model_fits_data(self, skeleton) -> None:
        """Refuse a model whose input is not the dataset's image size or whose
        output is not one unit per class (it would fail only inside training)."""
        info = DATASETS[self.dataset]
        pixels = math.prod(info.image_shape)
        if skeleton.input_shape is not None and math.prod(skeleton.input_shape) != pixels:
            raise ParameterError(
                f"`model` {self.model} takes inputs of shape {skeleton.input_shape}, but "
                f"{self.dataset} images are {'x'.join(map(str, info.image_shape))} "
                f"({pixels} values)."
            )
        weighted = [layer for layer in skeleton.layers if hasattr(layer, "units")]
        if weighted and weighted[-1].units != info.classes:
            raise ParameterError(
                f"`model` {self.model} ends in {weighted[-1].units} units, but {self.dataset} "
                f"has {info.classes} classes: the last layer needs {info.classes}."
            )

    def replace(self, **changes) -> "RunConfig":
        """A copy with some fields changed (and checked again).

        Parameters
        ----------
        **changes
            New values by field name.

        Returns
        -------
        RunConfig
            The new config.
        """
        _check_keys(changes, "RunConfig.replace")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The config as JSON-ready data, with its format and version.

        Returns
        -------
        dict
            ``{"format": "tdnumpy-run-config", "version": 1, <field>: <value>, ...}``;
            ``reg_layers`` as a list.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if values["reg_layers"] is not None:
            values["reg_layers"] = list(values["reg_layers"])
        return {"format": FORMAT, "version": VERSION, **values}

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """The config :meth:`to_dict` wrote; missing fields take their defaults
        (but a config without ``standout_form`` predates it: "shifted").

        Parameters
        ----------
        data : dict
            As :meth:`to_dict` returns it (JSON-decoded).

        Returns
        -------
        RunConfig
            The config, checked.

        Raises
        ------
        ValueError
            For another format or version, a key that is not a field, or a bad value.
        """
        if not isinstance(data, dict):
            raise TypeError(f"RunConfig.from_dict takes a dict. Got {type(data).__name__} instead.")
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(
                f"RunConfig.from_dict reads format {FORMAT!r} version {VERSION}. Got format "
                f"{data.get('format')!r} version {data.get('version')!r} instead."
            )
        values = {k: v for k, v in data.items() if k not in ("format", "version")}
        values.setdefault("standout_form", "shifted")  # the only form before the field existed
        _check_keys(values, "RunConfig.from_dict")
        return cls(**values)


def _check_keys(values: dict, owner: str) -> None:
    names = [f.name for f in fields(RunConfig)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(
            f"{owner}: {', '.join(map(repr, unknown))} is not a RunConfig field "
            f"(with value {values[unknown[0]]!r}); the fields are {', '.join(names)}."
        )


@functools.lru_cache(maxsize=4)
def _skeleton(spec: str):
    """A network of ``spec`` whose layer names and kinds the checks read (never
    trained or changed; cached, since building one costs its weights' draws)."""
    return build_model(spec)
