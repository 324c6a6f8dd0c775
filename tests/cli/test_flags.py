"""The flags are the library's parameters: each train flag is a RunConfig
field with its default, range and description, each prune flag a parameter of
prune_run with its default."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest

from tdnumpy.cli import build_parser
from tdnumpy.cli.train import config_from, field_descriptions, help_text
from tdnumpy.experiments import RunConfig, prune_run


def _subcommand(name):
    return build_parser()._subparsers._group_actions[0].choices[name]


def _flags(parser):
    return {a.dest: a for a in parser._actions if a.option_strings}


def test_every_runconfig_field_is_a_train_flag_with_its_default():
    flags = _flags(_subcommand("train"))
    for f in fields(RunConfig):
        assert f.name in flags, f"RunConfig.{f.name} has no train flag"
        assert flags[f.name].default == f.default, f.name
        assert flags[f.name].option_strings == ["--" + f.name.replace("_", "-")]
        if f.metadata["rule"].boolean:
            assert f.default is False and flags[f.name].const is True, f"{f.name}: a switch must default to off"
    assert set(flags) - {f.name for f in fields(RunConfig)} == {"help", "out", "overwrite", "resume", "quiet", "data_dir",
                                                               "no_download", "mirror"}


def test_the_flags_build_the_config_the_library_would():
    args = build_parser().parse_args(["train", "--model", "mlp:784-32-10", "--reg", "td-unit", "--reg-layers",
                                      "fc1", "--gamma", "0.75", "--per-example", "--epochs", "3", "--l2", "1e-4"])
    assert config_from(args) == RunConfig(model="mlp:784-32-10", reg="td-unit", reg_layers=("fc1",), gamma=0.75,
                                          per_example=True, epochs=3, l2=1e-4)
    assert config_from(build_parser().parse_args(["train"])) == RunConfig()


def test_every_field_is_described_once_in_the_docstring():
    descriptions = field_descriptions(RunConfig)
    assert list(descriptions) == [f.name for f in fields(RunConfig)]
    assert all(descriptions.values())
    assert help_text(descriptions["lr_step_epochs"]) == "With --lr-schedule step: epochs between decays."
    assert "95%% over --ramp-steps" in help_text(descriptions["ramp"])  # argparse needs % doubled


def test_prune_flags_default_to_prune_run_s_parameters():
    flags = _flags(_subcommand("prune"))
    signature = inspect.signature(prune_run).parameters
    for name in ("kind", "layers", "skip_output", "retrain_epochs", "retrain_lr", "iterative", "remove_dead_units",
                 "dense_bits", "conv_bits"):
        assert flags[name].default == signature[name].default, name
    assert flags["fractions"].default == list(signature["fractions"].default)


@pytest.mark.parametrize("argv, message", [
    (["train", "--dense-bits", "5"], "unrecognized arguments"),
    (["prune", "x.npz", "--dense-bits", "17"], "--dense-bits: must be an integer in [1, 16], got 17"),
    (["export-sparse", "x.npz", "y.npz", "--conv-bits", "0"], "--conv-bits: must be an integer in [1, 16], got 0"),
    (["prune", "x.npz", "--retrain-epochs", "-1"], "--retrain-epochs: must be 0 or more, got -1"),
    # issue 18: "-1e-9" was taken for a flag ("expected one argument")
    (["train", "--weight-decay", "-1e-9"], "--weight-decay: must be in [0.0, inf), got -1e-9"),
    (["train", "--weight-decay", "-2.5E+3"], "--weight-decay: must be in [0.0, inf), got -2.5E+3"),
    # issue 18: --out "" was read as "." and wrote everything into the current directory
    (["train", "--out", ""], "--out: must be a folder to write to, got ''"),
    (["prune", "x.npz", "--out", " "], "--out: must be a folder to write to, got ' '"),
    (["sweep", "c.toml", "--out", ""], "--out: must be a folder to write to, got ''"),
    (["reproduce", "td-mnist-mlp", "--out", ""], "--out: must be a folder to write to, got ''"),
])
def test_ranges_are_checked_when_parsing(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err
