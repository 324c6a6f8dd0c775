"""tdnumpy sweep and tdnumpy reproduce: their flags, and misuse as a one-line error."""

from __future__ import annotations

import pytest

from tdnumpy.cli import main
from tdnumpy.experiments.reproduce import CONFIGS


def test_reproduce_lists_every_shipped_experiment(capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in CONFIGS) and "--quick" in text and "--dask-scheduler" in text


@pytest.mark.parametrize("argv", [["reproduce", "td-mnist-cnn"], ["sweep", "x.toml", "--jobs", "0"],
                                  ["reproduce", "gamma-alpha", "--jobs", "two"]])
def test_malformed_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: tdnumpy" in capsys.readouterr().err


def test_a_missing_config_file_is_named(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tdnumpy: error: ") and "none.toml: no such sweep configuration file" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unreachable_dask_scheduler_is_a_one_line_error(tmp_path, capsys, mnist_dir):
    pytest.importorskip("distributed", reason="dask.distributed is the optional [dask] extra")
    config = tmp_path / "one.toml"
    config.write_text('name = "one"\n[base]\nmodel = "lenet300"\ndataset = "mnist"\nepochs = 1\n'
                      'train_images = 200\n[[prune]]\nkind = "weight"\nfractions = [0.0]\n')
    code = main(["sweep", str(config), "--out", str(tmp_path / "out"), "--data-dir", str(mnist_dir),
                 "--dask-scheduler", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "--dask-scheduler" in err and "tcp://127.0.0.1:9" in err, err
    assert len(err.strip().splitlines()) == 1, err
