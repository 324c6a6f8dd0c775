"""A sweep configuration is checked completely before anything trains: every
kind of mistake is refused with the file, the key and the value named."""

from __future__ import annotations

import copy

import pytest

from tdnumpy.cli import main
from tdnumpy.experiments.reproduce import CONFIGS, config_path
from tdnumpy.experiments.sweep_config import SweepConfigError, load_sweep_config, sweep_config
from tdnumpy.experiments.sweeps import sweep

GOOD = {
    "name": "tiny",
    "base": {"model": "lenet300", "dataset": "mnist", "epochs": 1, "train_images": 500},
    "grid": {"seed": [0, 1]},
    "variants": [{"label": "none"}, {"label": "td", "reg": "td-weight", "gamma": 0.5, "alpha": 0.5}],
    "prune": [{"kind": "weight", "fractions": [0.0, 0.5]}, {"kind": "unit", "fractions": [0.0, 0.5]}],
}


def changed(path: str, value):
    """GOOD with the key at ``path`` ("base.model", "variants.1.reg") set to ``value`` (or removed)."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return data


class _Remove:
    """The key is taken out of the file (its repr keeps test ids stable across processes)."""

    def __repr__(self):
        return "REMOVE"


REMOVE = _Remove()

# (where, value, what the message must name)
MISTAKES = [
    ("variants.1.reg", "td-wieght", ["reg", "'td-wieght'"]),
    ("grid.gamma", [0.5, 1.5], ["gamma", "1.5"]),
    ("base.gamma", -0.1, ["gamma", "-0.1"]),
    ("base.model", REMOVE, ["model"]),
    ("base.dataset", REMOVE, ["dataset"]),
    ("base.dataset", "cifar10", ["dataset", "'cifar10'"]),
    ("base.model", "mlp:784", ["model", "mlp:784"]),
    ("base.epocs", 3, ["epocs", "3"]),
    ("base.drop_rate", 5, ["drop_rate", "5"]),
    ("grid.seed", 0, ["seed", "0"]),
    ("grid.seed", [0, 0], ["seed", "[0, 0]"]),
    ("grid.dropconnect_inference", ["mean"], ["dropconnect_inference", "[evaluate]"]),
    ("variants.1.label", "none", ["label", "'none'"]),
    ("variants.1.label", "", ["label", "''"]),
    ("variants", [], ["variants", "[]"]),
    ("prune.0.kind", "weights", ["kind", "'weights'"]),
    ("prune.0.fractions", [0.5, 1.5], ["fractions", "1.5"]),
    ("prune.0.fractions", [], ["fractions", "[]"]),
    ("prune.0.layers", ["fc9"], ["fc9"]),
    ("prune.0.retrain_epochs", -1, ["retrain_epochs", "-1"]),
    ("prune.0.iterative", "yes", ["iterative", "'yes'"]),
    ("prune.0.level", 2, ["level", "2"]),
    ("prune.1.kind", "weight", ["label", "weight"]),
    ("evaluate.mc_samples", [0], ["mc_samples", "0"]),
    ("evaluate.drop_rate", [0.1], ["drop_rate", "[0.1]"]),
    ("name", "", ["name", "''"]),
    ("name", "../up", ["name", "'../up'"]),
    ("seeds", [0], ["seeds", "[0]"]),
    ("quick.set.epochs", 0, ["epochs", "0"]),
    ("quick.set.seed", 0, ["quick.set", "seed", "quick.grid"]),
    ("quick.grid.sed", [0], ["sed", "[0]"]),
    ("quick.prune.retrain_epochs", -2, ["retrain_epochs", "-2"]),
    ("variants.1.seed", 4, ["seed", "4", "[grid]"]),
    ("prune", [], ["prune", "empty"]),
    ("grid.seed", [], ["seed", "[]"]),
    ("grid.gamma", [1, 1.0], ["gamma", "[1, 1.0]"]),
    ("evaluate.dropconnect_inference", ["mean", "mean"], ["dropconnect_inference", "twice"]),
    ("prune.0.score", "gradient", ["score", "'gradient'"]),
    ("prune.0.score", 1, ["score", "1"]),
    ("prune.0.score", "method", ["prune 'weight'", "the run has none"]),  # td-weight learns no importance
]


@pytest.mark.parametrize("where, value, named", MISTAKES, ids=[m[0] + "=" + repr(m[1]) for m in MISTAKES])
def test_a_mistake_is_refused_naming_the_key_and_the_value(where, value, named):
    with pytest.raises(SweepConfigError) as info:
        sweep_config(changed(where, value), quick=True, source="my.toml")
    message = str(info.value)
    assert message.startswith("my.toml: "), message
    for part in named:
        assert part in message, message


def test_an_evaluation_setting_is_given_in_one_place():
    data = changed("evaluate", {"test_images": [100, 200]})
    assert len(sweep_config(data).cells[0].evaluate) == 2
    data["base"]["test_images"] = 300
    with pytest.raises(SweepConfigError, match="`test_images` is set in .base. or quick.set and listed in .evaluate."):
        sweep_config(data)


def test_the_good_config_expands_to_its_grid():
    config = sweep_config(GOOD)
    assert [(c.variant, c.config.seed) for c in config.cells] == [("none", 0), ("none", 1), ("td", 0), ("td", 1)]
    assert config.columns == ()  # the td variant's gamma and alpha are the defaults, so nothing varies but seed
    assert len({c.name for c in config.cells}) == 4 and len({c.key for c in config.cells}) == 4
    assert [p.label for p in config.cells[0].prune] == ["weight", "unit"]


def test_quick_changes_every_run_and_merges_into_every_prune_entry():
    data = changed("quick", {"set": {"epochs": 2}, "grid": {"seed": [5]}, "prune": {"retrain_epochs": 1}})
    quick = sweep_config(data, quick=True)
    assert [(c.config.epochs, c.config.seed) for c in quick.cells] == [(2, 5), (2, 5)]
    assert all(p.retrain_epochs == 1 for c in quick.cells for p in c.prune)
    assert [c.config.epochs for c in sweep_config(data).cells] == [1] * 4


def test_a_run_name_does_not_change_when_an_unused_default_is_spelled_out():
    plain = sweep_config(GOOD).cells[0]
    spelled = sweep_config(changed("base.momentum", 0.9)).cells[0]  # 0.9 is the default
    assert plain.name == spelled.name and plain.config == spelled.config


def test_a_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = 'x'\n[base\nmodel = 1\n")
    with pytest.raises(SweepConfigError, match="broken.toml: not a readable TOML file"):
        load_sweep_config(path)
    with pytest.raises(SweepConfigError, match="no such sweep configuration file"):
        load_sweep_config(tmp_path / "absent.toml")


def test_a_bad_config_trains_nothing_and_the_command_says_why(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[base]\nmodel = "lenet300"\ndataset = "mnist"\n'
                    '[[variants]]\nlabel = "x"\nreg = "bogus"\n[[prune]]\nkind = "weight"\nfractions = [0.5]\n')
    out = tmp_path / "out"
    with pytest.raises(SweepConfigError):
        sweep(path, out)
    assert not out.exists()
    assert main(["sweep", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and "'bogus'" in err and "reg" in err, err
    assert not out.exists()


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("quick", [False, True])
def test_every_shipped_configuration_is_valid(name, quick):
    config = load_sweep_config(config_path(name), quick=quick)
    assert config.name == name and config.cells
